// The .npy loader: every dtype and layout NumPy writes that has a meaning as rows of features, from
// files written by NumPy itself (tests/data/npy, make_fixtures.py) and by hand (odd shapes, random
// values from a fixed seed); refusals say why; save_npy round-trips.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "support/error_message.h"
#include "support/reference.h"
#include "support/tolerances.h"
#include "unit/loader_files.h"

namespace cuae {
namespace {

using namespace cuae::test;  // NOLINT: the shared loader-test helpers
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr uint64_t kSeed = 20261201;

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(gen() & 0xFF);
  return v;
}

std::vector<double> scaled(const std::vector<uint8_t>& bytes) {
  std::vector<double> v(bytes.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = bytes[i] / 255.0;
  return v;
}

Dataset load_fixture(const std::string& name, Notes* notes = nullptr) {
  LoadOptions options;
  if (notes != nullptr) options.note = notes->sink();
  return load_npy(fixture("npy/" + name), options);
}

using NpyLoader = LoaderTest;

// ---- hand-written files ----

TEST_F(NpyLoader, ReadsFloat32) {
  SCOPED_TRACE(kSeed);
  const auto values = ref::random_floats(9 * 17, kSeed, -5, 5);
  write_bytes(file("a.npy"), npy_bytes("<f4", "(9, 17)", as_bytes(values)));
  const Dataset d = load_npy(file("a.npy"));
  EXPECT_EQ(d.rows(), 9);
  EXPECT_EQ(d.cols(), 17);
  EXPECT_EQ(d.dtype(), DType::f32);
  EXPECT_EQ(rows_of(d), values);
  EXPECT_TRUE(is_mapped_from(d.raw(), file("a.npy")));
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

TEST_F(NpyLoader, ReadsVersion2And3Headers) {
  const auto values = ref::random_floats(3 * 5, kSeed);
  write_bytes(file("v2.npy"), npy_bytes("<f4", "(3, 5)", as_bytes(values), 2));
  EXPECT_EQ(rows_of(load_npy(file("v2.npy"))), values);
  write_bytes(file("v3.npy"), npy_bytes("<f4", "(3, 5)", as_bytes(values), 3));
  EXPECT_EQ(rows_of(load_npy(file("v3.npy"))), values);
}

TEST_F(NpyLoader, FlattensEveryTrailingDimensionIntoFeatures) {
  const auto values = ref::random_floats(7 * 3 * 5 * 2, kSeed);
  write_bytes(file("4d.npy"), npy_bytes("<f4", "(7, 3, 5, 2)", as_bytes(values)));
  const Dataset d = load_npy(file("4d.npy"));
  EXPECT_EQ(d.rows(), 7);
  EXPECT_EQ(d.cols(), 30);
  EXPECT_EQ(rows_of(d), values);
}

TEST_F(NpyLoader, FortranOrderIsReorderedToRowsWithANote) {
  // Element (i, j, k) of a (7, 3, 5) Fortran array sits at i + 7 * (j + 3 * k).
  const auto values = ref::random_floats(7 * 3 * 5, kSeed);  // C order: (i * 3 + j) * 5 + k
  std::vector<float> fortran(values.size(), kPoison);
  for (size_t i = 0; i < 7; ++i)
    for (size_t j = 0; j < 3; ++j)
      for (size_t k = 0; k < 5; ++k) fortran[i + 7 * (j + 3 * k)] = values[(i * 3 + j) * 5 + k];
  write_bytes(file("f.npy"), npy_bytes("<f4", "(7, 3, 5)", as_bytes(fortran), 1, "True"));
  Notes notes;
  LoadOptions options;
  options.note = notes.sink();
  const Dataset d = load_npy(file("f.npy"), options);
  EXPECT_EQ(d.cols(), 15);
  EXPECT_EQ(rows_of(d), values);
  EXPECT_THAT(notes.all(), AllOf(HasSubstr("f.npy"), HasSubstr("Fortran-order"), HasSubstr("ascontiguousarray")));
}

TEST_F(NpyLoader, FortranOrderOfManyRowsAndWideElementsIsReorderedAcrossRowBlocks) {
  // 131 rows span three blocks of the reorder (64 rows each); float64 exercises 8-byte elements.
  constexpr size_t kRows = 131, kD1 = 5, kD2 = 3;
  std::mt19937_64 gen(kSeed);
  std::vector<double> values(kRows * kD1 * kD2), fortran(values.size());
  for (double& v : values) v = std::uniform_real_distribution<double>(-1, 1)(gen);
  for (size_t i = 0; i < kRows; ++i)
    for (size_t j = 0; j < kD1; ++j)
      for (size_t k = 0; k < kD2; ++k) fortran[i + kRows * (j + kD1 * k)] = values[(i * kD1 + j) * kD2 + k];
  write_bytes(file("wide.npy"), npy_bytes("<f8", "(131, 5, 3)", as_bytes(fortran), 1, "True"));
  const Dataset d = load_npy(file("wide.npy"));
  EXPECT_EQ(d.rows(), 131);
  EXPECT_EQ(d.cols(), 15);
  EXPECT_LE(ref::relative_error(rows_of(d), values), tol::kElementwise);
}

TEST_F(NpyLoader, UnalignedFloat32PayloadFromAnotherWriterIsCopied) {
  const auto values = ref::random_floats(4 * 3, kSeed);
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }";
  while ((10 + dict.size() + 1) % 4 != 2) dict += ' ';  // payload at offset 4k + 2
  dict += '\n';
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  bytes += static_cast<char>(dict.size());
  bytes += '\0';
  write_bytes(file("odd.npy"), bytes + dict + as_bytes(values));
  EXPECT_EQ(rows_of(load_npy(file("odd.npy"))), values);
}

TEST_F(NpyLoader, RejectsPayloadOfWrongSize) {
  write_bytes(file("short.npy"), npy_bytes("<f4", "(4, 3)", std::string(47, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("short.npy")); }),
              AllOf(HasSubstr("short.npy"), HasSubstr("47 bytes"), HasSubstr("needs 48")));
  write_bytes(file("short3.npy"), npy_bytes("<f2", "(4, 3, 2)", std::string(47, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("short3.npy")); }), HasSubstr("shape (4, 3, 2) of <f2 needs 48"));
}

TEST_F(NpyLoader, RejectsWrongMagicAndMalformedHeader) {
  write_bytes(file("text.npy"), "hello, world, this is not numpy");
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("text.npy")); }), HasSubstr("not a .npy file"));
  std::string bytes = npy_bytes("<f4", "(1, 1)", std::string(4, '\0'));
  bytes.replace(bytes.find("'shape'"), 7, "'shap' ");
  write_bytes(file("hdr.npy"), bytes);
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("hdr.npy")); }), HasSubstr("malformed .npy header"));
}

TEST_F(NpyLoader, RejectsEmptyArraysAndUnknownSizes) {
  write_bytes(file("empty.npy"), npy_bytes("<f4", "(0, 3)", ""));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("empty.npy")); }), HasSubstr("is empty"));
  write_bytes(file("f16.npy"), npy_bytes("<f16", "(1, 1)", std::string(16, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(file("f16.npy")); }),
              AllOf(HasSubstr("'<f16'"), HasSubstr("unsupported size"), HasSubstr("astype(numpy.float32)")));
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
  EXPECT_EQ(read_bytes(file("keep.npy")), "precious");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

// ---- files written by NumPy (tests/data/npy) ----

TEST(NpyFromNumpy, MnistStyleUint8ImagesBecomeRowsOfPixelsWithoutACopy) {
  const Dataset d = load_fixture("mnist_u8_5x4x3.npy");  // (N, 28, 28) from any MNIST loader, smaller
  EXPECT_EQ(d.rows(), 5);
  EXPECT_EQ(d.cols(), 12);
  EXPECT_EQ(d.dtype(), DType::u8);
  std::vector<uint8_t> expected(60);
  for (size_t k = 0; k < expected.size(); ++k) expected[k] = static_cast<uint8_t>(k * 4 % 256);
  EXPECT_LE(ref::relative_error(rows_of(d), scaled(expected)), tol::kElementwise);
  EXPECT_TRUE(is_mapped_from(d.raw(), fixture("npy/mnist_u8_5x4x3.npy")));
}

TEST(NpyFromNumpy, KerasStyleFloat32WithChannelAxisIsFlattenedWithoutACopy) {
  Notes notes;
  const Dataset d = load_fixture("keras_f4_4x3x2x1.npy", &notes);  // (N, 28, 28, 1) from Keras, smaller
  EXPECT_EQ(d.rows(), 4);
  EXPECT_EQ(d.cols(), 6);
  EXPECT_EQ(rows_of(d), arange_values(24));
  EXPECT_TRUE(is_mapped_from(d.raw(), fixture("npy/keras_f4_4x3x2x1.npy")));
  EXPECT_TRUE(notes.seen.empty()) << notes.all();
}

TEST(NpyFromNumpy, Float16IsConvertedToFloat32WithANote) {
  Notes notes;
  const Dataset d = load_fixture("f2_3x5.npy", &notes);
  EXPECT_EQ(d.dtype(), DType::f32);
  EXPECT_EQ(d.cols(), 5);
  EXPECT_EQ(rows_of(d), arange_values(15));  // k * 0.25 - 3 is exact in float16
  EXPECT_THAT(notes.all(), AllOf(HasSubstr("f2_3x5.npy"), HasSubstr("float16 values converted to float32")));
}

TEST(NpyFromNumpy, BigEndianArraysAreByteSwapped) {
  EXPECT_EQ(rows_of(load_fixture("f8_big_endian_3x4.npy")), arange_values(12));
  EXPECT_EQ(rows_of(load_fixture("f4_big_endian_2x3.npy")), arange_values(6));
  Notes notes;
  EXPECT_EQ(rows_of(load_fixture("i2_big_endian_2x3.npy", &notes)),
            (std::vector<float>{-2500, -1500, -500, 500, 1500, 2500}));
  EXPECT_THAT(notes.all(), HasSubstr("big-endian int16"));
}

TEST(NpyFromNumpy, IntegersAndBooleansKeepTheirValuesAndSaySo) {
  Notes notes;
  EXPECT_EQ(rows_of(load_fixture("i8_3x2.npy", &notes)), (std::vector<float>{-2, -1, 0, 1, 2, 3}));
  EXPECT_THAT(notes.all(), AllOf(HasSubstr("int64"), HasSubstr("only uint8 reads as value / 255")));
  EXPECT_EQ(rows_of(load_fixture("bool_2x3.npy")), (std::vector<float>{1, 0, 1, 0, 0, 1}));
}

TEST(NpyFromNumpy, FortranOrderArraysOfAnyTypeAreReorderedOnce) {
  Notes notes;
  EXPECT_EQ(rows_of(load_fixture("fortran_f4_5x3.npy", &notes)), arange_values(15));
  EXPECT_THAT(notes.all(), HasSubstr("Fortran-order"));
  const Dataset bytes = load_fixture("fortran_u1_4x3x2.npy");
  EXPECT_EQ(bytes.dtype(), DType::u8);  // still one byte per value
  EXPECT_EQ(bytes.cols(), 6);
  std::vector<uint8_t> expected(24);
  for (size_t k = 0; k < expected.size(); ++k) expected[k] = static_cast<uint8_t>(k);
  EXPECT_LE(ref::relative_error(rows_of(bytes), scaled(expected)), tol::kElementwise);
  EXPECT_EQ(rows_of(load_fixture("fortran_f2_big_endian_3x4.npy")), arange_values(12));
}

TEST(NpyFromNumpy, ArraysWithoutMeaningAsFeaturesAreRefusedWithTheReason) {
  const auto refusal = [](const std::string& name) { return message_of<IoError>([&] { load_fixture(name); }); };
  EXPECT_THAT(refusal("object_2.npy"),
              AllOf(HasSubstr("object_2.npy"), HasSubstr("Python objects"), HasSubstr("numpy.stack")));
  EXPECT_THAT(refusal("strings_2x2.npy"), AllOf(HasSubstr("'<U1'"), HasSubstr("strings")));
  EXPECT_THAT(refusal("complex_2x2.npy"), HasSubstr("complex numbers"));
  EXPECT_THAT(refusal("structured_3.npy"),
              AllOf(HasSubstr("structured record"), HasSubstr("structured_to_unstructured")));
  EXPECT_THAT(refusal("one_dimensional_6.npy"),
              AllOf(HasSubstr("shape (6,)"), HasSubstr("has 1 dimension;"), HasSubstr("x.reshape(-1, 1)")));
  EXPECT_THAT(refusal("scalar.npy"), AllOf(HasSubstr("shape ()"), HasSubstr("has 0 dimensions")));
}

}  // namespace
}  // namespace cuae
