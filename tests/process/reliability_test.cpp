// Hostile input: files crafted to make a parser allocate without bound, overflow a size, or read out
// of bounds must be refused with an IoError naming the file and the field. Each case here is either
// a hard limit the reliability issue asks for or a finding of the fuzzers in tests/fuzz (marked
// "fuzz regression"); scripts/fuzz.sh keeps looking for more.
#include <gmock/gmock.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "cuae/dataset.h"
#include "cuae/error.h"
#include "cuae/model_config.h"
#include "io/atomic_file.h"
#include "support/error_message.h"

namespace cuae {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

class HostileInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cuae_hostile_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& bytes) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  fs::path write_gz(const std::string& name, const std::string& bytes) const {
    const fs::path path = dir_ / name;
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(f);
    return path;
  }
  fs::path dir_;
};

std::string idx_header(const std::vector<uint32_t>& dims) {
  std::string s{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (const uint32_t d : dims) {
    for (const int shift : {24, 16, 8, 0}) s += static_cast<char>((d >> shift) & 0xFF);
  }
  return s;
}

std::string npy_file(const std::string& descr, const std::string& shape, const std::string& payload) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string s = "\x93NUMPY\x01";
  s += '\0';
  s += static_cast<char>(dict.size() & 0xFF);
  s += static_cast<char>(dict.size() >> 8);
  return s + dict + payload;
}

std::string safetensors(uint64_t header_length, const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &header_length, 8);
  return out + header + data;
}

TEST_F(HostileInput, IdxPlainFileWhoseDimensionsExceedItIsRefusedNamingTheDimensions) {
  const fs::path path = write("lie.idx", idx_header({60000, 28, 28}) + std::string(100, '\x7f'));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(path); }),
              AllOf(HasSubstr("lie.idx"), HasSubstr("[60000, 28, 28]"), HasSubstr("need 47040000 bytes"),
                    HasSubstr("the file holds 100")));
}

TEST_F(HostileInput, IdxGzipFileClaimingMoreThanDeflateCanExpandToIsRefused) {
  // 2^40 bytes claimed by a file of a few dozen bytes: refused before the first 16 MB chunk.
  const fs::path path = write_gz("lie.idx.gz", idx_header({0xFFFFFF, 0x10000}) + std::string(50, '\x01'));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(path); }),
              AllOf(HasSubstr("lie.idx.gz"), HasSubstr("[16777215, 65536]"), HasSubstr("gzip file can expand to")));
}

TEST_F(HostileInput, IdxDimensionsWhoseProductOverflowsAreRefused) {
  const fs::path path = write("wrap.idx", idx_header({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}) + std::string(8, '\0'));
  EXPECT_THAT(message_of<IoError>([&] { load_idx(path); }), AllOf(HasSubstr("wrap.idx"), HasSubstr("overflows")));
}

TEST_F(HostileInput, NpyShapeDigitsOverflowingInt64AreRefused) {
  // Review finding: checked_mul(v, 10) passed for v = INT64_MAX / 10, then "+ 9" overflowed (UB).
  const fs::path path = write("digits.npy", npy_file("<f4", "(9223372036854775809, 1)", std::string(4, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(path); }),
              AllOf(HasSubstr("digits.npy"), HasSubstr("shape dimension overflows")));
}

TEST_F(HostileInput, NpyShapeWhoseProductOverflowsIsRefused) {
  const fs::path path = write("product.npy", npy_file("<f4", "(4611686018427387904, 4)", std::string(16, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(path); }), AllOf(HasSubstr("product.npy"), HasSubstr("overflows")));
}

TEST_F(HostileInput, NpyShapeLargerThanTheFileIsRefusedWithoutAllocating) {
  // float64 files are converted into a fresh buffer: the size check must come before that buffer.
  const fs::path path = write("big.npy", npy_file("<f8", "(1000000000, 1000)", std::string(64, '\0')));
  EXPECT_THAT(message_of<IoError>([&] { load_npy(path); }), AllOf(HasSubstr("big.npy"), HasSubstr("needs 8000000000000")));
}

TEST_F(HostileInput, SafetensorsHeaderOver100MegabytesIsRefusedBeforeReadingIt) {
  const fs::path path = write("huge_header.safetensors", safetensors(100'000'001, "{}      ", ""));
  EXPECT_THAT(message_of<IoError>([&] { read_checkpoint(path); }),
              AllOf(HasSubstr("huge_header.safetensors"), HasSubstr("header length"), HasSubstr("exceeds the limit")));
}

TEST_F(HostileInput, SafetensorsHeaderLongerThanTheFileIsRefused) {
  const fs::path path = write("short.safetensors", safetensors(4096, "{}      ", ""));
  EXPECT_THAT(message_of<IoError>([&] { read_checkpoint(path); }),
              AllOf(HasSubstr("short.safetensors"), HasSubstr("header length"), HasSubstr("runs past the end")));
}

TEST_F(HostileInput, SafetensorsShapeWhoseProductWraps64BitsIsRefused) {
  // Review finding: [2^40, 2^24] multiplied to 2^64 = 0 elements before the size check, matching an
  // empty data_offsets range.
  const std::string header =
      R"({"encoder.0.weight":{"dtype":"F32","shape":[1099511627776,16777216],"data_offsets":[0,0]}})";
  const fs::path path = write("wrap.safetensors", safetensors(header.size(), header, ""));
  EXPECT_THAT(message_of<IoError>([&] { read_checkpoint(path); }),
              AllOf(HasSubstr("wrap.safetensors"), HasSubstr("encoder.0.weight.shape"), HasSubstr("too large")));
}

TEST_F(HostileInput, SafetensorsUnsupportedDtypeAndOffsetsOutsideTheDataAreNamed) {
  // BF16, F16 and F64 are converted since issue 19; an integer parameter has no meaning.
  const std::string i16 = R"({"encoder.0.weight":{"dtype":"I16","shape":[2,2],"data_offsets":[0,8]}})";
  const fs::path i16_path = write("i16.safetensors", safetensors(i16.size(), i16, "12345678"));
  EXPECT_THAT(message_of<IoError>([&] { read_checkpoint(i16_path); }),
              AllOf(HasSubstr("i16.safetensors"), HasSubstr("encoder.0.weight.dtype"), HasSubstr("I16")));
  const std::string past = R"({"encoder.0.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}})";
  const fs::path past_path = write("past.safetensors", safetensors(past.size(), past, "12345678"));
  EXPECT_THAT(message_of<IoError>([&] { read_checkpoint(past_path); }),
              AllOf(HasSubstr("past.safetensors"), HasSubstr("encoder.0.weight.data_offsets"), HasSubstr("outside")));
}

TEST_F(HostileInput, NonFiniteCsvValueIsRefusedNamingFileAndRow) {
  const fs::path path = write("bad.csv", "0.5,0.25\n0.125,0.75\n1,inf\n0.3,0.3\n");
  EXPECT_THAT(message_of<IoError>([&] { load_dataset(path.string()); }),
              AllOf(HasSubstr("bad.csv"), HasSubstr("row 2"), HasSubstr("--drop-non-finite")));
  LoadOptions drop;
  drop.drop_non_finite = true;
  const Dataset kept = load_dataset(path.string(), drop);
  EXPECT_EQ(kept.rows(), 3);
  std::vector<float> values(6, std::numeric_limits<float>::quiet_NaN());
  kept.copy_rows(0, 3, values.data());
  EXPECT_EQ(values, (std::vector<float>{0.5f, 0.25f, 0.125f, 0.75f, 0.3f, 0.3f}));
}

TEST_F(HostileInput, Float64BeyondFloat32RangeCountsAsNonFinite) {
  // 1e300 becomes +Inf in float32: the engine would train on Inf, so it is refused like one.
  std::string payload(32, '\0');
  const double values[4] = {0.5, 1e300, 0.25, 0.75};
  std::memcpy(payload.data(), values, sizeof values);
  const fs::path path = write("wide.npy", npy_file("<f8", "(2, 2)", payload));
  EXPECT_THAT(message_of<IoError>([&] { load_dataset(path.string()); }), AllOf(HasSubstr("wide.npy"), HasSubstr("row 0")));
}

TEST_F(HostileInput, JsonNumberBeyondDoubleRangeIsAConfigErrorNotAForeignException) {
  // Fuzz regression (config_fuzz, tests/fuzz/corpus/config/regression-number-overflow): nlohmann
  // reports 1e400 as out_of_range, not parse_error, and it escaped as a non-cuae exception.
  try {
    model_config_from_json(R"({"layers": [8, 2], "seed": 1e400})", "overflow.json");
    FAIL() << "expected cuae::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("overflow.json"), HasSubstr("invalid JSON")));
  }
  const std::string header = R"({"__metadata__": {"x": "y"}, "w": 74e33333})";
  const fs::path path = write("overflow.safetensors", safetensors(header.size(), header, ""));
  EXPECT_THAT(message_of<IoError>([&] { read_checkpoint(path); }),
              AllOf(HasSubstr("overflow.safetensors"), HasSubstr("header"), HasSubstr("invalid JSON")));
}

// A save killed mid-write leaves "<name>.tmp.XXXXXX" behind. The next successful save of that name
// removes such leftovers, but never a temporary that a live writer holds (flock), one younger than
// the start-up window of a writer, or another output's temporary.
TEST_F(HostileInput, LeftoverTemporariesOfKilledSavesAreRemovedByTheNextSave) {
  const fs::path out = dir_ / "model.safetensors";
  const auto age = [](const fs::path& path) {
    fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::hours(1));
    return path;
  };
  const fs::path stale = age(write("model.safetensors.tmp.Ab3dE6", "half a save"));
  const fs::path held = age(write("model.safetensors.tmp.Zz9yY8", "a live writer's"));
  const fs::path fresh = write("model.safetensors.tmp.Qq1wW2", "just created");
  const fs::path other = age(write("other.safetensors.tmp.Ab3dE6", "another output's"));
  const fs::path not_ours = age(write("model.safetensors.tmp.notes", "not a temporary name"));
  const int held_fd = ::open(held.c_str(), O_RDONLY);
  ASSERT_GE(held_fd, 0);
  ASSERT_EQ(::flock(held_fd, LOCK_EX | LOCK_NB), 0);

  const std::string bytes = "finished";
  data::write_file_atomically(out, std::as_bytes(std::span(bytes.data(), bytes.size())));
  ::close(held_fd);

  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(held));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(not_ours));
  std::ifstream in(out, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), bytes);
}

// Seeds are valid files, so fuzzing starts inside the parsers; "regression-*" files are past
// findings that every fuzz run replays first.
TEST(FuzzCorpus, SeedFilesAreValidInputsSoFuzzingStartsInsideTheParsers) {
  const fs::path corpus = fs::path(CUAE_SOURCE_DIR) / "tests/fuzz/corpus";
  const auto seeds = [&](const char* target) {
    std::vector<fs::path> paths;
    for (const auto& entry : fs::directory_iterator(corpus / target))
      if (!entry.path().filename().string().starts_with("regression-")) paths.push_back(entry.path());
    return paths;
  };
  int loaded = 0;
  for (const fs::path& p : seeds("idx")) loaded += load_idx(p).rows() > 0;
  for (const fs::path& p : seeds("npy")) loaded += load_npy(p).rows() > 0;
  for (const fs::path& p : seeds("safetensors")) loaded += !read_checkpoint(p).parameters.empty();
  for (const fs::path& p : seeds("npz")) {  // the first byte picks the key, as in npz_fuzz.cpp
    std::ifstream in(p, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), {}};
    const char* const keys[] = {"", "x", "a", "x_train"};
    LoadOptions options;
    options.npz_key = keys[static_cast<unsigned char>(bytes.at(0)) % 4];
    const fs::path archive = fs::path(::testing::TempDir()) / ("seed-" + p.filename().string() + ".npz");
    std::ofstream(archive, std::ios::binary) << bytes.substr(1);
    loaded += load_npz(archive, options).rows() > 0;
    fs::remove(archive);
  }
  for (const fs::path& p : seeds("config")) {
    std::ifstream in(p);
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    loaded += !model_config_from_json(text, p.string()).layers.empty();
  }
  EXPECT_EQ(loaded, 31);
}

}  // namespace
}  // namespace cuae
