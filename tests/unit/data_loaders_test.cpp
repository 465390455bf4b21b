// The IDX and raw float32 loaders, and load_dataset's dispatch, scale and non-finite policy (the
// .npy/.npz and CSV loaders have their own files). Every file is written by the test itself, with
// odd shapes and random contents from a fixed seed; every malformed case must throw IoError naming
// the file and the problem.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "support/error_message.h"
#include "support/reference.h"
#include "support/tolerances.h"
#include "unit/loader_files.h"

namespace cuae {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

using namespace cuae::test;  // NOLINT: the shared loader-test helpers

constexpr uint64_t kSeed = 20261129;

void write_gz(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(gen() & 0xFF);
  return v;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload, uint8_t dtype = 0x08) {
  std::string s{'\0', '\0', static_cast<char>(dtype), static_cast<char>(dims.size())};
  for (uint32_t d : dims) s += be32(d);
  s.append(payload.begin(), payload.end());
  return s;
}

std::vector<double> scaled(const std::vector<uint8_t>& bytes) {
  std::vector<double> v(bytes.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = bytes[i] / 255.0;
  return v;
}

// ---- IDX ----

using IdxLoader = LoaderTest;

TEST_F(IdxLoader, ReadsPlainThreeDimensionalFileAsRowsOfPixels) {
  SCOPED_TRACE(kSeed);
  const auto pixels = random_bytes(7 * 5 * 3, kSeed);
  write_bytes(file("x-idx3-ubyte"), idx_bytes({7, 5, 3}, pixels));
  const Dataset d = load_idx(file("x-idx3-ubyte"));
  EXPECT_EQ(d.rows(), 7);
  EXPECT_EQ(d.cols(), 15);
  EXPECT_EQ(d.dtype(), DType::u8);
  EXPECT_LE(ref::relative_error(rows_of(d), scaled(pixels)), tol::kElementwise);
}

TEST_F(IdxLoader, ReadsGzipCompressedFileLikePlain) {
  SCOPED_TRACE(kSeed);
  const auto pixels = random_bytes(11 * 9 * 9, kSeed + 1);
  write_gz(file("x-idx3-ubyte.gz"), idx_bytes({11, 9, 9}, pixels));
  const Dataset d = load_idx(file("x-idx3-ubyte.gz"));
  EXPECT_EQ(d.rows(), 11);
  EXPECT_EQ(d.cols(), 81);
  EXPECT_LE(ref::relative_error(rows_of(d), scaled(pixels)), tol::kElementwise);
}

TEST_F(IdxLoader, ReadsOneDimensionalFileAsOneColumn) {
  const auto labels = random_bytes(13, kSeed + 2);
  write_bytes(file("y.idx"), idx_bytes({13}, labels));
  const Dataset d = load_idx(file("y.idx"));
  EXPECT_EQ(d.rows(), 13);
  EXPECT_EQ(d.cols(), 1);
  EXPECT_LE(ref::relative_error(rows_of(d), scaled(labels)), tol::kElementwise);
}

TEST_F(IdxLoader, RejectsWrongMagic) {
  std::string bytes = idx_bytes({3, 2}, random_bytes(6, kSeed));
  bytes[0] = 'P';
  write_bytes(file("bad.idx"), bytes);
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("bad.idx")); }), AllOf(HasSubstr("bad.idx"), HasSubstr("not an IDX")));
}

TEST_F(IdxLoader, RejectsNonUint8DtypeNamingIt) {
  write_bytes(file("f.idx"), idx_bytes({3, 2}, random_bytes(24, kSeed), 0x0D));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("f.idx")); }), AllOf(HasSubstr("f.idx"), HasSubstr("0x0D")));
}

TEST_F(IdxLoader, RejectsTruncatedPayloadPlainAndGzip) {
  const std::string bytes = idx_bytes({5, 4, 4}, random_bytes(5 * 16 - 3, kSeed));
  write_bytes(file("t.idx"), bytes);
  write_gz(file("t.idx.gz"), bytes);
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("t.idx")); }), AllOf(HasSubstr("t.idx"), HasSubstr("truncated")));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("t.idx.gz")); }), AllOf(HasSubstr("t.idx.gz"), HasSubstr("truncated")));
}

TEST_F(IdxLoader, RejectsTruncatedHeader) {
  write_bytes(file("h.idx"), idx_bytes({5, 4, 4}, {}).substr(0, 9));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("h.idx")); }), HasSubstr("truncated IDX header"));
}

TEST_F(IdxLoader, RejectsTrailingBytes) {
  write_bytes(file("long.idx"), idx_bytes({2, 3}, random_bytes(7, kSeed)));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("long.idx")); }), HasSubstr("after the 6-byte payload"));
}

TEST_F(IdxLoader, RejectsOverflowingDimensionsBeforeAllocating) {
  write_bytes(file("huge.idx"), idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, random_bytes(16, kSeed)));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("huge.idx")); }), HasSubstr("overflows"));
}

TEST_F(IdxLoader, HeaderClaimingGigabytesFailsAsTruncatedNotOutOfMemory) {
  write_gz(file("lie.idx.gz"), idx_bytes({0xFFFFFF, 0xFFFF}, random_bytes(100, kSeed)));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("lie.idx.gz")); }), HasSubstr("truncated IDX payload"));
}

TEST_F(IdxLoader, MissingFileIsNamed) {
  EXPECT_THAT(message_of<IoError>([&] { load_idx(file("absent-idx3-ubyte.gz")); }),
              AllOf(HasSubstr("absent-idx3-ubyte.gz"), HasSubstr("no such file")));
}

// ---- Raw float32 ----

using RawLoader = LoaderTest;

TEST_F(RawLoader, ReadsRowsOfTheGivenWidth) {
  const auto values = ref::random_floats(7 * 19, kSeed);
  write_bytes(file("x.f32"), as_bytes(values));
  const Dataset d = load_raw_f32(file("x.f32"), 19);
  EXPECT_EQ(d.rows(), 7);
  EXPECT_EQ(rows_of(d), values);
}

TEST_F(RawLoader, RejectsSizeNotAMultipleOfTheRow) {
  write_bytes(file("x.raw"), std::string(4 * 19 * 2 + 4, '\0'));
  EXPECT_THAT(message_of<IoError>([&] { load_raw_f32(file("x.raw"), 19); }),
              AllOf(HasSubstr("x.raw"), HasSubstr("not a multiple of 76")));
  EXPECT_THAT(message_of<IoError>([&] { load_raw_f32(file("x.raw"), 0); }), HasSubstr("--raw-cols"));
}

TEST_F(RawLoader, SizeErrorSaysHowToWriteFloat32) {
  write_bytes(file("x.raw"), std::string(4 * 19 * 2 + 4, '\0'));
  EXPECT_THAT(message_of<IoError>([&] { load_raw_f32(file("x.raw"), 19); }), HasSubstr("tofile"));
}

// A raw file is bytes without a type. A float64 file of N x D values is 8 * N * D bytes, a multiple
// of 4 * D, so it passes the size check; read as float32 each double becomes two floats: its low
// word (random-looking bits, some NaN or Inf) and its high word. The NaN/Inf check refuses it.
TEST_F(RawLoader, Float64FileReadAsFloat32IsRefusedAsNonFinite) {
  std::mt19937_64 gen(kSeed);
  std::vector<double> doubles(64 * 9);
  for (double& v : doubles) v = std::uniform_real_distribution<double>(0, 1)(gen);
  write_bytes(file("x.bin"), as_bytes(doubles));
  LoadOptions raw;
  raw.raw_cols = 9;
  EXPECT_THAT(message_of<IoError>([&] { load_dataset(file("x.bin").string(), raw); }),
              AllOf(HasSubstr("x.bin"), HasSubstr("holds NaN or Inf"), HasSubstr("is the file float32?")));
}

TEST_F(RawLoader, NonFiniteValueIsRefusedOrItsRowDroppedLikeOtherFormats) {
  std::vector<float> values = ref::random_floats(5 * 3, kSeed);
  values[2 * 3 + 2] = std::numeric_limits<float>::quiet_NaN();
  write_bytes(file("x.f32"), as_bytes(values));
  LoadOptions raw;
  raw.raw_cols = 3;
  EXPECT_THAT(message_of<IoError>([&] { load_dataset(file("x.f32").string(), raw); }),
              AllOf(HasSubstr("x.f32"), HasSubstr("row 2 (0-based)"), HasSubstr("--drop-non-finite")));
  Notes notes;
  raw.drop_non_finite = true;
  raw.note = notes.sink();
  const Dataset kept = load_dataset(file("x.f32").string(), raw);
  EXPECT_EQ(kept.rows(), 4);
  std::vector<float> expected(values.begin(), values.begin() + 6);
  expected.insert(expected.end(), values.begin() + 9, values.end());
  EXPECT_EQ(rows_of(kept), expected);
  EXPECT_THAT(notes.all(), HasSubstr("dropped 1 of 5 rows"));
}

// ---- load_dataset ----

using LoadDataset = LoaderTest;

TEST_F(LoadDataset, PicksTheLoaderFromTheExtension) {
  write_gz(file("x-ubyte.gz"), idx_bytes({3, 2, 2}, random_bytes(12, kSeed)));
  write_bytes(file("x.npy"), npy_bytes("<f4", "(2, 4)", as_bytes(ref::random_floats(8, kSeed))));
  write_bytes(file("x.csv"), "1,2\n3,4\n5,6\n");
  write_bytes(file("x.bin"), as_bytes(ref::random_floats(10, kSeed)));
  std::filesystem::copy_file(fixture("npz/single_f4_6x5.npz"), file("x.npz"));
  LoadOptions raw;
  raw.raw_cols = 5;
  EXPECT_EQ(load_dataset(file("x.npz").string()).cols(), 5);
  EXPECT_EQ(load_dataset(file("x-ubyte.gz").string()).cols(), 4);
  EXPECT_EQ(load_dataset(file("x.npy").string()).cols(), 4);
  EXPECT_EQ(load_dataset(file("x.csv").string()).rows(), 3);
  EXPECT_EQ(load_dataset(file("x.bin").string(), raw).rows(), 2);
  EXPECT_THAT(message_of<IoError>([&] { load_dataset(file("x.txt").string()); }), HasSubstr("unknown data source"));
}

TEST_F(LoadDataset, RefusesNonFiniteValuesNamingFileAndRow) {
  write_bytes(file("nan.csv"), "1,2\n3,nan\n5,6\n");
  EXPECT_THAT(message_of<IoError>([&] { load_dataset(file("nan.csv").string()); }),
              AllOf(HasSubstr("nan.csv"), HasSubstr("row 1 (0-based)"), HasSubstr("--drop-non-finite")));
}

TEST_F(LoadDataset, DropsNonFiniteRowsWhenAsked) {
  std::vector<float> values = ref::random_floats(4 * 3, kSeed);
  values[3 * 3 + 1] = std::numeric_limits<float>::infinity();
  write_bytes(file("inf.npy"), npy_bytes("<f4", "(4, 3)", as_bytes(values)));
  LoadOptions options;
  options.drop_non_finite = true;
  const Dataset d = load_dataset(file("inf.npy").string(), options);
  EXPECT_EQ(d.rows(), 3);
  EXPECT_EQ(rows_of(d), std::vector<float>(values.begin(), values.begin() + 9));
}

TEST_F(LoadDataset, ScaleMultipliesEveryValueSoPixelsIn0To255BecomeUnitInterval) {
  write_bytes(file("p.npy"), npy_bytes("<f4", "(2, 3)", as_bytes(std::vector<float>{0, 1, 51, 127, 254, 255})));
  LoadOptions options;
  options.scale = 1.0 / 255;
  const Dataset d = load_dataset(file("p.npy").string(), options);
  const std::vector<float> values = rows_of(d);
  EXPECT_EQ(values.front(), 0.0f);
  EXPECT_EQ(values.back(), 1.0f);  // computed in double: 255 * (1 / 255) is exactly 1
  EXPECT_FLOAT_EQ(values[2], 0.2f);
  EXPECT_NO_THROW(check_bce_targets(d, "train"));
  EXPECT_EQ(d.value_range().max, 1.0f);
  options.scale = 0;
  EXPECT_THAT(message_of([&] { load_dataset(file("p.npy").string(), options); }), HasSubstr("non-zero"));
}

TEST_F(LoadDataset, NonFiniteCheckComputesTheValueRangeOnce) {
  std::vector<float> values = ref::random_floats(6 * 5, kSeed, -2, 7);
  values[11] = -2.5f;
  values[23] = 7.25f;
  write_bytes(file("r.npy"), npy_bytes("<f4", "(6, 5)", as_bytes(values)));
  const Dataset d = load_dataset(file("r.npy").string());
  const ValueRange r = d.value_range();
  EXPECT_EQ(r.min, -2.5f);
  EXPECT_EQ(r.max, 7.25f);
  EXPECT_TRUE(r.finite);
}

TEST_F(LoadDataset, RejectsMalformedSyntheticSpecs) {
  EXPECT_THROW(load_dataset("random:10"), Error);
  EXPECT_THROW(load_dataset("random:10,x"), Error);
  EXPECT_THROW(load_dataset("structured:10,4,0"), Error);
  EXPECT_THROW(load_dataset("structured:10,4,5"), Error);
  EXPECT_EQ(load_dataset("structured:10,4,2").cols(), 4);
}

TEST_F(LoadDataset, MissingFashionMnistSaysHowToInstallIt) {
  ASSERT_EQ(setenv("CUAE_FASHION_MNIST_DIR", dir_.c_str(), 1), 0);
  const std::string message = message_of<IoError>([&] { load_dataset("fashion-mnist:test"); });
  unsetenv("CUAE_FASHION_MNIST_DIR");
  EXPECT_THAT(message, AllOf(HasSubstr("t10k-images-idx3-ubyte.gz"), HasSubstr("apt-get install dataset-fashion-mnist")));
}

TEST(FashionMnist, TestSplitIsTenThousandImagesOf784Pixels) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const Dataset d = load_dataset("fashion-mnist:test");
  EXPECT_EQ(d.rows(), 10000);
  EXPECT_EQ(d.cols(), 784);
  EXPECT_EQ(d.dtype(), DType::u8);
}

}  // namespace
}  // namespace cuae
