// The Dataset class: construction, float32 views of float and uint8 rows, slices and bounds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "cuae/dataset.h"
#include "cuae/error.h"

namespace cuae {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kSeed = 20261129;
constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

TEST(Dataset, FloatRowsCopyBitExact) {
  SCOPED_TRACE(kSeed);
  const int64_t rows = 29, cols = 13;
  const std::vector<float> values = random_floats(rows * cols, kSeed);
  const Dataset d = Dataset::from_floats(values, rows, cols, "floats");
  EXPECT_EQ(d.rows(), rows);
  EXPECT_EQ(d.cols(), cols);
  EXPECT_EQ(d.dtype(), DType::f32);
  EXPECT_EQ(d.size_bytes(), static_cast<size_t>(rows * cols * 4));
  std::vector<float> out(5 * cols, kPoison);
  d.copy_rows(7, 5, out.data());
  for (int64_t i = 0; i < 5 * cols; ++i) EXPECT_EQ(out[i], values[7 * cols + i]);
  EXPECT_EQ(d.to_matrix().data, values);
}

TEST(Dataset, BytesReadAsValueOver255) {
  const int64_t rows = 3, cols = 7;
  std::vector<uint8_t> bytes(rows * cols);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 37 + 11);
  const Dataset d = Dataset::from_bytes(bytes, rows, cols, "bytes");
  EXPECT_EQ(d.dtype(), DType::u8);
  EXPECT_EQ(d.element_size(), 1u);
  const Matrix m = d.to_matrix();
  for (size_t i = 0; i < bytes.size(); ++i) EXPECT_EQ(m.data[i], static_cast<float>(bytes[i]) / 255.0f);
  EXPECT_EQ(static_cast<const uint8_t*>(d.raw())[4], bytes[4]);
}

TEST(Dataset, GatherRowsFollowsTheIndicesForBothDtypes) {
  const int64_t rows = 11, cols = 5;
  const std::vector<float> values = random_floats(rows * cols, kSeed + 1);
  std::vector<uint8_t> bytes(rows * cols);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(255 - i);
  const std::vector<int64_t> indices{10, 0, 3, 3, 7};
  for (const Dataset& d : {Dataset::from_floats(values, rows, cols, "f"), Dataset::from_bytes(bytes, rows, cols, "b")}) {
    const Matrix all = d.to_matrix();
    std::vector<float> out(indices.size() * cols, kPoison);
    d.gather_rows(indices, out.data());
    for (size_t i = 0; i < indices.size(); ++i)
      for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(out[i * cols + c], all.row(indices[i])[c]);
  }
}

TEST(Dataset, SliceSharesStorageAndOffsetsRows) {
  const int64_t rows = 17, cols = 9;
  const std::vector<float> values = random_floats(rows * cols, kSeed + 2);
  const Dataset d = Dataset::from_floats(values, rows, cols, "whole");
  const Dataset s = d.slice(4, 6);
  EXPECT_EQ(s.rows(), 6);
  EXPECT_EQ(s.raw(), static_cast<const float*>(d.raw()) + 4 * cols);
  const Dataset ss = s.slice(2, 3);
  std::vector<float> out(cols, kPoison);
  ss.copy_rows(1, 1, out.data());
  for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(out[c], values[(4 + 2 + 1) * cols + c]);
  EXPECT_EQ(d.slice(rows, 0).rows(), 0);
}

TEST(Dataset, FromMatrixCopiesTheView) {
  Matrix m(3, 4);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = static_cast<float>(i) * 0.5f - 1.0f;
  const Dataset d = Dataset::from_matrix(m.view(), "matrix");
  m.data[0] = 100;
  EXPECT_EQ(d.to_matrix().data[0], -1.0f);
}

TEST(Dataset, OutOfRangeAccessIsAShapeErrorNamingTheSet) {
  const Dataset d = Dataset::from_floats(random_floats(20, kSeed), 4, 5, "tiny.npy");
  std::vector<float> out(40, kPoison);
  const std::vector<int64_t> bad_index{1, 4};
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const ShapeError& e) {
      return std::string(e.what());
    }
    return std::string("no ShapeError");
  };
  EXPECT_THAT(message([&] { d.copy_rows(3, 2, out.data()); }), HasSubstr("copy_rows: rows [3, 5) outside the 4 rows of tiny.npy"));
  EXPECT_THAT(message([&] { d.copy_rows(-1, 1, out.data()); }), HasSubstr("copy_rows"));
  EXPECT_THAT(message([&] { d.gather_rows(bad_index, out.data()); }), HasSubstr("index 4 at position 1"));
  EXPECT_THAT(message([&] { d.slice(2, 3); }), HasSubstr("slice: rows [2, 5)"));
  EXPECT_THAT(message([&] { Dataset::from_floats(std::vector<float>(7), 2, 4, "x"); }), HasSubstr("7 values do not form 2x4"));
  EXPECT_THAT(message([&] { Dataset::from_bytes(std::vector<uint8_t>(8), -2, -4, "x"); }), HasSubstr("do not form -2x-4"));
}

TEST(Dataset, ConstructorRejectsStorageTooSmallForTheShape) {
  const Dataset d = Dataset::from_floats(random_floats(12, kSeed), 3, 4, "src");
  struct Share final : DatasetStorage {
    const void* p;
    size_t n;
    Share(const void* p_, size_t n_) : p(p_), n(n_) {}
    const void* data() const override { return p; }
    size_t size_bytes() const override { return n; }
  };
  auto storage = std::make_shared<const Share>(d.raw(), d.size_bytes());
  EXPECT_NO_THROW(Dataset(storage, 16, DType::f32, 2, 4, "ok"));
  EXPECT_THROW(Dataset(storage, 20, DType::f32, 2, 4, "too far"), ShapeError);
  EXPECT_THROW(Dataset(storage, 0, DType::f32, 4, 4, "too many"), ShapeError);
  EXPECT_THROW(Dataset(storage, 0, DType::f32, int64_t{1} << 62, 4, "overflow"), ShapeError);
}

TEST(Dataset, DefaultIsEmpty) {
  const Dataset d;
  EXPECT_EQ(d.rows(), 0);
  EXPECT_EQ(d.raw(), nullptr);
  EXPECT_TRUE(d.to_matrix().data.empty());
}

}  // namespace
}  // namespace cuae
