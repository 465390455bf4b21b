// The file loaders (IDX plain and gzip, NPY of every accepted dtype, CSV, raw float32), load_dataset's
// dispatch and non-finite policy, and save_npy. Every file is written by the test itself, with odd
// shapes and random contents from a fixed seed; every malformed case must throw IoError naming the
// file and the problem.
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
#include "support/reference.h"
#include "support/tolerances.h"
#include "support/error_message.h"

namespace cuae {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr uint64_t kSeed = 20261129;
constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();

// A fresh directory per test, removed afterwards.
class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("cuae_data_") + info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file(const std::string& name) const { return dir_ / name; }
  fs::path dir_;
};

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

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

// A .npy file with a hand-written header, so that the reader is not tested against our own writer.
std::string npy_bytes(const std::string& descr, const std::string& shape, const std::string& payload,
                      int major = 1, const std::string& order = "False") {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
  const size_t prefix = 8 + (major == 1 ? 2 : 4);
  dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  const size_t n = dict.size();
  s += static_cast<char>(n & 0xFF);
  s += static_cast<char>((n >> 8) & 0xFF);
  if (major == 2) s += std::string(2, '\0');
  return s + dict + payload;
}

template <typename T>
std::string as_bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

// All rows as float32 through a poisoned buffer, so a row the loader failed to fill shows as NaN.
std::vector<float> rows_of(const Dataset& d) {
  std::vector<float> out(static_cast<size_t>(d.rows() * d.cols()), kPoison);
  d.copy_rows(0, d.rows(), out.data());
  return out;
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

// ---- NPY ----

using NpyLoader = LoaderTest;

TEST_F(NpyLoader, ReadsFloat32) {
  SCOPED_TRACE(kSeed);
  const auto values = ref::random_floats(9 * 17, kSeed, -5, 5);
  write_bytes(file("a.npy"), npy_bytes("<f4", "(9, 17)", as_bytes(values)));
  const Dataset d = load_npy(file("a.npy"));
  EXPECT_EQ(d.rows(), 9);
  EXPECT_EQ(d.cols(), 17);
  EXPECT_EQ(d.dtype(), DType::f32);
  EXPECT_EQ(rows_of(d), values);
}

TEST_F(NpyLoader, ReadsFloat64AsNearestFloat32) {
  SCOPED_TRACE(kSeed);
  std::vector<double> values(6 * 11);
  std::mt19937_64 gen(kSeed);
  for (double& v : values) v = std::uniform_real_distribution<double>(-2, 2)(gen);
  write_bytes(file("d.npy"), npy_bytes("<f8", "(6, 11)", as_bytes(values)));
  const Dataset d = load_npy(file("d.npy"));
  EXPECT_EQ(d.dtype(), DType::f32);
  EXPECT_LE(ref::relative_error(rows_of(d), values), tol::kElementwise);
}

TEST_F(NpyLoader, ReadsUint8ScaledToUnitInterval) {
  const auto bytes = random_bytes(5 * 7, kSeed);
  write_bytes(file("u.npy"), npy_bytes("|u1", "(5, 7)", as_bytes(bytes)));
  const Dataset d = load_npy(file("u.npy"));
  EXPECT_EQ(d.dtype(), DType::u8);
  EXPECT_LE(ref::relative_error(rows_of(d), scaled(bytes)), tol::kElementwise);
}

TEST_F(NpyLoader, ReadsVersion2Header) {
  const auto values = ref::random_floats(3 * 5, kSeed);
  write_bytes(file("v2.npy"), npy_bytes("<f4", "(3, 5)", as_bytes(values), 2));
  EXPECT_EQ(rows_of(load_npy(file("v2.npy"))), values);
}

TEST_F(NpyLoader, RejectsUnsupportedDtypeNamingIt) {
  write_bytes(file("i.npy"), npy_bytes("<i4", "(2, 3)", std::string(24, '\1')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("i.npy")); }), AllOf(HasSubstr("i.npy"), HasSubstr("'<i4'")));
  write_bytes(file("be.npy"), npy_bytes(">f4", "(2, 3)", std::string(24, '\1')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("be.npy")); }), HasSubstr("'>f4'"));
}

TEST_F(NpyLoader, RejectsFortranOrder) {
  write_bytes(file("f.npy"), npy_bytes("<f4", "(2, 3)", std::string(24, '\0'), 1, "True"));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("f.npy")); }), HasSubstr("Fortran order"));
}

TEST_F(NpyLoader, RejectsArraysThatAreNotTwoDimensional) {
  write_bytes(file("3d.npy"), npy_bytes("<f4", "(2, 3, 4)", std::string(96, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("3d.npy")); }), HasSubstr("has 3 dimensions"));
  write_bytes(file("1d.npy"), npy_bytes("<f4", "(6,)", std::string(24, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("1d.npy")); }), HasSubstr("has 1 dimensions"));
}

TEST_F(NpyLoader, RejectsPayloadOfWrongSize) {
  write_bytes(file("short.npy"), npy_bytes("<f4", "(4, 3)", std::string(47, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("short.npy")); }),
              AllOf(HasSubstr("short.npy"), HasSubstr("47 bytes"), HasSubstr("needs 48")));
}

TEST_F(NpyLoader, RejectsWrongMagicAndMalformedHeader) {
  write_bytes(file("text.npy"), "hello, world, this is not numpy");
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("text.npy")); }), HasSubstr("not a .npy file"));
  std::string bytes = npy_bytes("<f4", "(1, 1)", std::string(4, '\0'));
  bytes.replace(bytes.find("'shape'"), 7, "'shap' ");
  write_bytes(file("hdr.npy"), bytes);
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("hdr.npy")); }), HasSubstr("malformed .npy header"));
}

TEST_F(NpyLoader, SaveNpyRoundTripsThroughTheLoader) {
  Matrix m(13, 7);
  m.data = ref::random_floats(13 * 7, kSeed + 3, -4, 4);
  save_npy(file("out.npy"), m.view());
  const Dataset d = load_npy(file("out.npy"));
  EXPECT_EQ(d.rows(), 13);
  EXPECT_EQ(d.cols(), 7);
  EXPECT_EQ(rows_of(d), m.data);
}

TEST_F(NpyLoader, SaveNpyFailureLeavesExistingFileAndNoTemporaries) {
  write_bytes(file("keep.npy"), "precious");
  EXPECT_THROW(save_npy(file("keep.npy"), MatrixView{nullptr, 3, 3}), Error);
  EXPECT_THROW(save_npy(dir_ / "no_such_dir" / "x.npy", Matrix(2, 2).view()), IoError);
  std::ifstream in(file("keep.npy"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "precious");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

// ---- CSV ----

using CsvLoader = LoaderTest;

TEST_F(CsvLoader, ReadsNumbersWithoutHeader) {
  write_bytes(file("a.csv"), "1.5,-2,3e-2\n 4 , +5.25,6\r\n\n7,8,9\n");
  const Dataset d = load_csv(file("a.csv"), false);
  EXPECT_EQ(d.rows(), 3);
  EXPECT_EQ(d.cols(), 3);
  const std::vector<double> expected{1.5, -2, 3e-2, 4, 5.25, 6, 7, 8, 9};
  EXPECT_LE(ref::relative_error(rows_of(d), expected), tol::kElementwise);
}

TEST_F(CsvLoader, SkipsTextHeaderWithOrWithoutTheFlag) {
  write_bytes(file("h.csv"), "x0,x1\n0.25,0.5\n0.75,1\n");
  EXPECT_EQ(load_csv(file("h.csv"), false).rows(), 2);
  EXPECT_EQ(load_csv(file("h.csv"), true).rows(), 2);
  write_bytes(file("numeric_header.csv"), "10,20\n0.25,0.5\n");  // the flag drops even a numeric first line
  EXPECT_EQ(load_csv(file("numeric_header.csv"), true).rows(), 1);
}

TEST_F(CsvLoader, RejectsNonNumericCellAtLineAndColumn) {
  write_bytes(file("bad.csv"), "1,2,3\n4,5,6\n7,oops,9\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("bad.csv"), false); }),
              AllOf(HasSubstr("bad.csv:3:3"), HasSubstr("'oops' is not a number")));
}

TEST_F(CsvLoader, RejectsRowsOfDifferentWidth) {
  write_bytes(file("ragged.csv"), "1,2,3\n4,5\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("ragged.csv"), false); }),
              AllOf(HasSubstr("ragged.csv:2"), HasSubstr("2 fields, earlier rows have 3")));
}

TEST_F(CsvLoader, RejectsFileWithoutData) {
  write_bytes(file("empty.csv"), "a,b\n\n");
  EXPECT_THAT(message_of<IoError>([&] { load_csv(file("empty.csv"), false); }), HasSubstr("no data rows"));
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

// ---- load_dataset ----

using LoadDataset = LoaderTest;

TEST_F(LoadDataset, PicksTheLoaderFromTheExtension) {
  write_gz(file("x-ubyte.gz"), idx_bytes({3, 2, 2}, random_bytes(12, kSeed)));
  write_bytes(file("x.npy"), npy_bytes("<f4", "(2, 4)", as_bytes(ref::random_floats(8, kSeed))));
  write_bytes(file("x.csv"), "1,2\n3,4\n5,6\n");
  write_bytes(file("x.bin"), as_bytes(ref::random_floats(10, kSeed)));
  LoadOptions raw;
  raw.raw_cols = 5;
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
