// The .npz loader: archives written by numpy.savez (stored) and savez_compressed (deflate), with
// zip64 records as numpy and Python's zipfile write them (tests/data/npz, make_fixtures.py), the
// key option, and corrupt archives edited byte by byte, which must fail with an IoError naming the
// file and never read outside it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "support/error_message.h"
#include "unit/loader_files.h"

namespace cuae {
namespace {

using namespace cuae::test;  // NOLINT: the shared loader-test helpers
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;

Dataset load(const std::string& name, const std::string& key = "", Notes* notes = nullptr) {
  LoadOptions options;
  options.npz_key = key;
  if (notes != nullptr) options.note = notes->sink();
  return load_npz(fixture("npz/" + name), options);
}

TEST(NpzFromNumpy, SavezWithOneArrayNeedsNoKey) {
  const Dataset d = load("single_f4_6x5.npz");
  EXPECT_EQ(d.rows(), 6);
  EXPECT_EQ(d.cols(), 5);
  EXPECT_EQ(rows_of(d), arange_values(30));
  EXPECT_THAT(d.name(), HasSubstr("single_f4_6x5.npz:x"));
}

TEST(NpzFromNumpy, SavezWithSeveralArraysNeedsAKeyAndListsThem) {
  EXPECT_THAT(message_of<IoError>([] { load("mnist_like.npz"); }),
              AllOf(HasSubstr("mnist_like.npz"), HasSubstr("holds 2 arrays"), HasSubstr("x_test"), HasSubstr("x_train"),
                    HasSubstr("--key NAME")));
  EXPECT_THAT(message_of<IoError>([] { load("mnist_like.npz", "y_train"); }),
              AllOf(HasSubstr("no array 'y_train'"), HasSubstr("(it holds x_train, x_test)")));
  const Dataset test = load("mnist_like.npz", "x_test");
  EXPECT_EQ(test.cols(), 6);
  EXPECT_EQ(rows_of(test), arange_values(18));                // float64, converted
  EXPECT_EQ(load("mnist_like.npz", "x_test.npy").rows(), 3);  // the member's file name works too
}

TEST(NpzFromNumpy, StoredUint8MemberIsMemoryMappedAndFlattened) {
  const Dataset d = load("mnist_like.npz", "x_train");
  EXPECT_EQ(d.dtype(), DType::u8);
  EXPECT_EQ(d.rows(), 4);
  EXPECT_EQ(d.cols(), 6);
  EXPECT_TRUE(is_mapped_from(d.raw(), fixture("npz/mnist_like.npz")));
  std::vector<float> expected(24);
  for (size_t k = 0; k < expected.size(); ++k) expected[k] = static_cast<float>(k * 10 % 256) / 255.0f;
  EXPECT_EQ(rows_of(d), expected);
}

TEST(NpzFromNumpy, SavezCompressedMembersAreInflated) {
  EXPECT_EQ(rows_of(load("compressed.npz", "x")), arange_values(21));
  const Dataset y = load("compressed.npz", "y");
  EXPECT_EQ(y.cols(), 1);
  EXPECT_EQ(rows_of(y)[6], 6.0f / 255.0f);
}

TEST(NpzFromNumpy, PositionalArrayIsTheOnlyOneAndFloat16IsConverted) {
  Notes notes;
  EXPECT_EQ(rows_of(load("positional.npz", "", &notes)), arange_values(8));
  EXPECT_THAT(notes.all(), AllOf(HasSubstr("positional.npz:arr_0"), HasSubstr("float16")));
}

TEST(NpzFromNumpy, Zip64DirectoryAndEndRecordsAreRead) {
  EXPECT_EQ(rows_of(load("zip64.npz", "a")), arange_values(20));
  EXPECT_EQ(rows_of(load("zip64.npz", "b")), std::vector<float>(4, 0.0f));
}

TEST(NpzFromNumpy, ArchiveWithoutArraysIsRefused) {
  EXPECT_THAT(message_of<IoError>([] { load("no_arrays.npz"); }), HasSubstr("holds no .npy arrays"));
}

// ---- corrupt archives, edited from numpy's bytes ----

class CorruptNpz : public LoaderTest {
 protected:
  // The archive's bytes with `edit` applied, written to a file; the message load_npz gives for it.
  template <typename Edit>
  std::string refusal(const std::string& source, Edit edit) {
    std::string bytes = read_bytes(fixture("npz/" + source));
    edit(bytes);
    write_bytes(file("bad.npz"), bytes);
    LoadOptions options;
    options.npz_key = "x";  // both source archives hold an array x
    return message_of<IoError>([&] { load_npz(file("bad.npz"), options); });
  }
  static size_t central_entry(const std::string& bytes) { return bytes.find("PK\x01\x02"); }
};

TEST_F(CorruptNpz, TruncatedOrForeignFileHasNoDirectory) {
  EXPECT_THAT(refusal("single_f4_6x5.npz", [](std::string& b) { b.resize(b.size() - 30); }),
              AllOf(HasSubstr("bad.npz"), HasSubstr("no end-of-central-directory record")));
  EXPECT_THAT(refusal("single_f4_6x5.npz", [](std::string& b) { b = "not a zip file at all, just text"; }),
              HasSubstr("not a valid zip"));
  EXPECT_THAT(refusal("single_f4_6x5.npz", [](std::string& b) { b.resize(10); }), HasSubstr("shorter than"));
}

TEST_F(CorruptNpz, DirectoryOffsetsOutsideTheFileAreRefused) {
  EXPECT_THAT(refusal("single_f4_6x5.npz",
                      [](std::string& b) {  // the end record's directory offset, 16 bytes into it
                        const size_t end = b.rfind("PK\x05\x06");
                        std::memset(b.data() + end + 16, 0x7F, 4);
                      }),
              HasSubstr("central directory"));
  EXPECT_THAT(refusal("single_f4_6x5.npz",
                      [](std::string& b) {  // the entry's local header offset, 42 bytes into it
                        std::memset(b.data() + central_entry(b) + 42, 0x7F, 4);
                      }),
              HasSubstr("local header"));
}

TEST_F(CorruptNpz, EncryptedAndUnknownMethodsAreRefusedByName) {
  EXPECT_THAT(refusal("compressed.npz", [](std::string& b) { b[central_entry(b) + 8] |= 1; }),
              AllOf(HasSubstr("x.npy"), HasSubstr("encrypted")));
  EXPECT_THAT(refusal("single_f4_6x5.npz", [](std::string& b) { b[central_entry(b) + 10] = 12; }),
              AllOf(HasSubstr("zip method 12"), HasSubstr("savez_compressed")));
}

TEST_F(CorruptNpz, DamagedDeflateDataFailsItsChecks) {
  // A flipped bit in the compressed bytes: zlib or the CRC-32 catches it.
  EXPECT_THAT(refusal("compressed.npz", [](std::string& b) { b[60] ^= 0x10; }),
              AnyOf(HasSubstr("corrupt deflate data"), HasSubstr("CRC-32 mismatch")));
  // A size the compressed bytes cannot expand to is refused before anything is allocated.
  EXPECT_THAT(refusal("compressed.npz", [](std::string& b) { std::memset(b.data() + central_entry(b) + 24, 0x7F, 3); }),
              HasSubstr("more than"));
}

}  // namespace
}  // namespace cuae
