// Checkpoints as PyTorch users have them, written by torch + the safetensors package
// (tests/data/safetensors, make_fixtures.py): half, bfloat16 and double precision, nn.Sequential
// layouts, DataParallel's prefix, extra modules and buffers, a transposed weight, and files that are
// not safetensors at all. Every parameter is checked against make_fixtures.py's formula.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "cuae/cuae.h"
#include "io/checkpoint.h"
#include "support/error_message.h"
#include "unit/loader_files.h"

namespace cuae {
namespace {

using namespace cuae::test;  // NOLINT: the shared loader-test helpers
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

Checkpoint read(const std::string& name, Notes* notes = nullptr, bool strict = false) {
  CheckpointReadOptions options;
  options.strict = strict;
  if (notes != nullptr) options.note = notes->sink();
  return read_checkpoint(fixture("safetensors/" + name), options);
}

std::string refusal(const std::string& name, bool strict = false) {
  return message_of<IoError>([&] { read(name, nullptr, strict); });
}

// Each tensor of an [11, 5, 3] model holds k * 0.125 - 1 (make_fixtures.py's fill()).
void expect_filled_11_5_3(const Checkpoint& c) {
  ASSERT_EQ(c.run.model.layers, (std::vector<int64_t>{11, 5, 3}));
  const ParameterLayout layout = make_layout(c.run.model);
  for (const LayerLayout& layer : layout.layers) {
    const auto at = [&](int64_t offset, int64_t n) {
      return std::vector<float>(c.parameters.begin() + offset, c.parameters.begin() + offset + n);
    };
    EXPECT_EQ(at(layer.weight_offset, layer.in * layer.out),
              parameter_values(static_cast<size_t>(layer.in * layer.out)))
        << layer.name;
    EXPECT_EQ(at(layer.bias_offset, layer.out), parameter_values(static_cast<size_t>(layer.out))) << layer.name;
  }
}

TEST(CheckpointFromPyTorch, HalfBfloatAndDoublePrecisionAreConvertedWithANote) {
  for (const auto& [file, dtype] :
       {std::pair{"torch_f16_11_5_3.safetensors", "F16"}, std::pair{"torch_bf16_11_5_3.safetensors", "BF16"},
        std::pair{"torch_f64_11_5_3.safetensors", "F64"}}) {
    SCOPED_TRACE(file);
    Notes notes;
    expect_filled_11_5_3(read(file, &notes));
    EXPECT_THAT(notes.all(),
                AllOf(HasSubstr(file), HasSubstr(std::string("converted 8 ") + dtype + " tensors to float32")));
  }
}

TEST(CheckpointFromPyTorch, ModelLoadAcceptsAHalfPrecisionFile) {
  const Model model = Model::load(fixture("safetensors/torch_f16_11_5_3.safetensors"));
  EXPECT_EQ(model.config().layers, (std::vector<int64_t>{11, 5, 3}));
  EXPECT_EQ(model.parameters()[1], parameter_values(2)[1]);
}

TEST(CheckpointFromPyTorch, SequentialIndicesWithActivationsBetweenAreMapped) {
  Notes notes;
  expect_filled_11_5_3(read("torch_sequential_11_5_3.safetensors", &notes));
  EXPECT_THAT(notes.all(), AllOf(HasSubstr("encoder.0, encoder.2 as encoder.0, encoder.1"),
                                 HasSubstr("decoder.0, decoder.2 as decoder.0, decoder.1")));
}

TEST(CheckpointFromPyTorch, PlainSequentialIsSplitWhereItsWidthsMirror) {
  Notes notes;
  expect_filled_11_5_3(read("torch_plain_sequential_11_5_3.safetensors", &notes));
  EXPECT_THAT(notes.all(),
              AllOf(HasSubstr("0, 2, 4, 6 as encoder.0, encoder.1, decoder.0, decoder.1"), HasSubstr("[11,5,3,5,11]")));
  EXPECT_THAT(refusal("torch_plain_sequential_not_mirrored.safetensors"),
              AllOf(HasSubstr("0.weight"), HasSubstr("does not mirror"), HasSubstr("encoder.0.weight [128,784]")));
}

TEST(CheckpointFromPyTorch, BatchNormInsideTheEncoderIsRefusedShowingTheExpectedNames) {
  EXPECT_THAT(refusal("torch_sequential_batchnorm.safetensors"),
              AllOf(HasSubstr("encoder.1: is not an nn.Linear layer"), HasSubstr("encoder.1.running_mean"),
                    HasSubstr("cuae reads nn.Linear layers named encoder.0")));
}

TEST(CheckpointFromPyTorch, OtherModulesAndIntegerBuffersAreIgnoredWithANoteUnlessStrict) {
  Notes notes;
  expect_filled_11_5_3(read("torch_with_extras_11_5_3.safetensors", &notes));
  EXPECT_THAT(notes.all(), AllOf(HasSubstr("ignored 5 tensors"), HasSubstr("input_norm.num_batches_tracked (I64)"),
                                 HasSubstr("input_norm.running_mean (F32)")));
  EXPECT_THAT(refusal("torch_with_extras_11_5_3.safetensors", true),
              AllOf(HasSubstr("input_norm.bias: is not a parameter of cuae's model"), HasSubstr("--strict")));
}

TEST(CheckpointFromPyTorch, DataParallelPrefixIsStripped) {
  Notes notes;
  expect_filled_11_5_3(read("torch_dataparallel_11_5_3.safetensors", &notes));
  EXPECT_THAT(notes.all(), HasSubstr("stripped the 'module.' prefix (nn.DataParallel) from 8 tensor names"));
}

TEST(CheckpointFromPyTorch, TransposedWeightIsNamedNotItsBias) {
  const std::string message = refusal("torch_transposed_encoder0_11_5_3.safetensors");
  EXPECT_THAT(message, AllOf(HasSubstr("encoder.0.weight.shape: [11,5] is transposed"),
                             HasSubstr("nn.Linear stores [out, in] = [5,11]"), Not(HasSubstr("encoder.0.bias"))));
}

TEST(CheckpointFromPyTorch, TorchSaveFilesAreNamedWithThePythonThatConvertsThem) {
  for (const char* file : {"torch_save_zip.pt", "renamed_torch_save.safetensors"}) {
    SCOPED_TRACE(file);
    const std::string message = refusal(file);
    EXPECT_THAT(message, AllOf(HasSubstr(file), HasSubstr("is not a safetensors file but a zip archive, as torch.save"),
                               HasSubstr("from safetensors.torch import save_file; save_file(torch.load("),
                               Not(HasSubstr("header length")), Not(HasSubstr("578712552184433488"))));
  }
  EXPECT_THAT(refusal("torch_save_legacy.pt"),
              AllOf(HasSubstr("a Python pickle"), HasSubstr("save_file(torch.load("), Not(HasSubstr("header length"))));
  // The suggested output is a new .safetensors name, never the input itself.
  EXPECT_THAT(refusal("renamed_torch_save.safetensors"), HasSubstr("renamed_torch_save.converted.safetensors"));
}

class CheckpointBytes : public LoaderTest {
 protected:
  std::string refusal(const std::string& bytes) {
    write_bytes(file("x.safetensors"), bytes);
    return message_of<IoError>([&] { read_checkpoint(file("x.safetensors")); });
  }
};

// A safetensors file from a header and a data section, the header padded to `length` bytes.
std::string safetensors(const nlohmann::json& header, const std::string& data, size_t length = 0) {
  std::string text = header.dump();
  text.append(std::max(length, (text.size() + 7) / 8 * 8) - text.size(), ' ');
  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text + data;
}

TEST_F(CheckpointBytes, OtherFilesAreNotSafetensorsNotAnAbsurdHeaderLength) {
  EXPECT_THAT(refusal("just some text that is long enough"),
              AllOf(HasSubstr("x.safetensors: file: is not a safetensors file"), Not(HasSubstr("bytes exceeds"))));
  EXPECT_THAT(refusal(std::string("\x93NUMPY\x01\0v\0{'descr'", 17)), HasSubstr("a NumPy .npy array"));
  EXPECT_THAT(refusal(std::string("\x89HDF\r\n\x1a\n\0\0\0\0", 12)), HasSubstr("HDF5"));
}

TEST_F(CheckpointBytes, HeaderLengthThatStartsLikeAPickleIsStillSafetensors) {
  // 0x280 = 640 is stored as 80 02 00 ..., a pickle's first two bytes: it must not be taken for one.
  const auto tensor = [](int64_t out, int64_t in, uint64_t& offset) {
    const uint64_t bytes = static_cast<uint64_t>(out * std::max<int64_t>(in, 1)) * 4;
    nlohmann::json shape = in > 0 ? nlohmann::json{out, in} : nlohmann::json{out};
    const nlohmann::json entry = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    return entry;
  };
  uint64_t offset = 0;
  nlohmann::json header;
  header["encoder.0.weight"] = tensor(2, 3, offset);
  header["encoder.0.bias"] = tensor(2, 0, offset);
  header["decoder.0.weight"] = tensor(3, 2, offset);
  header["decoder.0.bias"] = tensor(3, 0, offset);
  ASSERT_LT(header.dump().size(), 640u);
  const std::string bytes = safetensors(header, std::string(offset, '\0'), 640);
  ASSERT_EQ(static_cast<unsigned char>(bytes[0]), 0x80);
  ASSERT_EQ(bytes[1], 0x02);
  write_bytes(file("m.safetensors"), bytes);
  EXPECT_EQ(read_checkpoint(file("m.safetensors")).run.model.layers, (std::vector<int64_t>{3, 2}));
}

TEST_F(CheckpointBytes, ParameterOfAnIntegerDtypeIsRefusedByName) {
  const nlohmann::json header = {{"encoder.0.weight", {{"dtype", "I32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}},
                                 {"encoder.0.bias", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {24, 32}}}}};
  EXPECT_THAT(refusal(safetensors(header, std::string(32, '\0'))),
              AllOf(HasSubstr("encoder.0.weight.dtype: is I32"), HasSubstr("F32, F16, BF16 or F64")));
}

TEST_F(CheckpointBytes, NoEncoderTensorsListsWhatTheFileHolds) {
  const nlohmann::json header = {{"fc.weight", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}}};
  EXPECT_THAT(refusal(safetensors(header, std::string(4, '\0'))),
              AllOf(HasSubstr("encoder.0.weight: missing"), HasSubstr("the file holds fc.weight"),
                    HasSubstr("cuae reads nn.Linear layers")));
}

TEST_F(CheckpointBytes, PlainSequentialLayerWithoutItsWeightIsNamed) {
  // Fuzz regression (safetensors_fuzz): "0.bias" without "0.weight" was looked up with map::at and
  // escaped as std::out_of_range.
  const nlohmann::json header = {{"0.bias", {{"dtype", "F32"}, {"shape", {5}}, {"data_offsets", {0, 20}}}},
                                 {"1.weight", {{"dtype", "F32"}, {"shape", {11, 5}}, {"data_offsets", {20, 240}}}},
                                 {"1.bias", {{"dtype", "F32"}, {"shape", {11}}, {"data_offsets", {240, 284}}}}};
  EXPECT_THAT(refusal(safetensors(header, std::string(284, '\0'))),
              AllOf(HasSubstr("x.safetensors: 0.weight: missing"), HasSubstr("cuae reads nn.Linear layers")));
}

TEST_F(CheckpointBytes, DefaultReadLeavesNotesUnreportedAndStillLoads) {
  Notes notes;
  CheckpointReadOptions options;
  options.note = notes.sink();
  EXPECT_NO_THROW(read_checkpoint(fixture("safetensors/torch_f16_11_5_3.safetensors")));
  Model([] {
    ModelConfig c;
    c.layers = {4, 2};
    return c;
  }())
      .save(file("own.safetensors"));
  read_checkpoint(file("own.safetensors"), options);
  EXPECT_TRUE(notes.seen.empty()) << notes.all();  // cuae's own files need no conversion, renaming or dropping
}

}  // namespace
}  // namespace cuae
