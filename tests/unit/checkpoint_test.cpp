// safetensors checkpoints: bit-exact round trips, resumed training, PyTorch-style files without cuae
// metadata, and IoErrors naming the file and field for every kind of corrupt header.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "cuae/cuae.h"
#include "support/error_message.h"

namespace cuae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

constexpr uint64_t kSeed = 31337;

ModelConfig config_for_test() {
  ModelConfig c;
  c.layers = {19, 9, 3};
  c.optimizer.lr = 5e-3f;
  c.seed = kSeed;
  return c;
}

// A fresh directory per test, removed afterwards.
class CheckpointFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cuae_checkpoint_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file(const char* name) const { return dir_ / name; }
  fs::path dir_;
};

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A safetensors file from a header object and a data section, as the Python library writes it.
std::string safetensors(const json& header, const std::string& data) {
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text + data;
}

std::pair<json, std::string> split(const std::string& bytes) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

TEST_F(CheckpointFile, RoundTripIsBitExactForParametersOptimizerStateAndConfig) {
  const Matrix batch = make_structured(21, 19, 2, kSeed).to_matrix();
  Model model(config_for_test());
  for (int i = 0; i < 3; ++i) model.train_step(batch.view());
  model.save(file("m.safetensors"));
  const Model loaded = Model::load(file("m.safetensors"));
  EXPECT_EQ(loaded.parameters(), model.parameters());
  const OptimizerState a = model.optimizer_state(), b = loaded.optimizer_state();
  EXPECT_EQ(a.step, 3);
  EXPECT_EQ(b.step, 3);
  EXPECT_EQ(a.m, b.m);
  EXPECT_EQ(a.v, b.v);
  EXPECT_EQ(loaded.step(), 3);
  EXPECT_EQ(to_json(loaded.config()), to_json(model.config()));
}

TEST_F(CheckpointFile, LoadedModelContinuesTrainingIdentically) {
  const Dataset data = make_structured(45, 19, 2, kSeed);
  const Matrix batch = data.slice(0, 13).to_matrix();
  Model model(config_for_test());
  FitOptions options;
  options.epochs = 1;
  options.batch_size = 10;
  model.fit(data, options);
  model.save(file("m.safetensors"));
  Model resumed = Model::load(file("m.safetensors"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(model.train_step(batch.view()), resumed.train_step(batch.view())) << i;
  // The completed-epoch count is saved too, so the next epoch gets the same shuffle in both.
  const History h1 = model.fit(data, options), h2 = resumed.fit(data, options);
  EXPECT_EQ(h1.epochs[0].train_loss, h2.epochs[0].train_loss);
  EXPECT_EQ(model.parameters(), resumed.parameters());
}

TEST_F(CheckpointFile, FileFollowsTheSafetensorsLayout) {
  const Model model(config_for_test());
  model.save(file("m.safetensors"));
  const std::string bytes = read_bytes(file("m.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const auto [header, data] = split(bytes);
  EXPECT_EQ(header["encoder.0.weight"]["shape"], json({9, 19}));
  EXPECT_EQ(header["encoder.1.bias"]["shape"], json({3}));
  EXPECT_EQ(header["decoder.0.weight"]["shape"], json({9, 3}));
  EXPECT_EQ(header["decoder.1.weight"]["shape"], json({19, 9}));
  EXPECT_EQ(header["decoder.1.weight"]["dtype"], "F32");
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(header["__metadata__"]["cuae.step"], "0");
  EXPECT_TRUE(header.contains("optimizer.m.encoder.0.weight"));
  EXPECT_TRUE(header.contains("optimizer.v.decoder.1.bias"));
  // The data section is covered exactly, without holes or overlaps.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, value] : header.items())
    if (name != "__metadata__") ranges.emplace_back(value["data_offsets"][0], value["data_offsets"][1]);
  std::sort(ranges.begin(), ranges.end());
  uint64_t end = 0;
  for (const auto& [b, e] : ranges) {
    EXPECT_EQ(b, end);
    end = e;
  }
  EXPECT_EQ(end, data.size());
  // Weights are stored [out, in] row-major, exactly the layout's bytes.
  const std::vector<float> p = model.parameters();
  const LayerLayout& layer = model.layout().layers[1];
  const uint64_t begin = header["encoder.1.weight"]["data_offsets"][0];
  EXPECT_EQ(std::memcmp(data.data() + begin, p.data() + layer.weight_offset, 27 * sizeof(float)), 0);
}

TEST_F(CheckpointFile, PyTorchFileWithoutMetadataLoadsWithInferredLayers) {
  // What safetensors.torch.save_file(module.state_dict()) writes for Linear(11,5) + Linear(5,11).
  std::vector<float> values(11 * 5 + 5 + 5 * 11 + 11);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 17) * 0.03125f - 0.25f;
  std::string data(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  const json header = {{"encoder.0.weight", {{"dtype", "F32"}, {"shape", {5, 11}}, {"data_offsets", {0, 220}}}},
                       {"encoder.0.bias", {{"dtype", "F32"}, {"shape", {5}}, {"data_offsets", {220, 240}}}},
                       {"decoder.0.weight", {{"dtype", "F32"}, {"shape", {11, 5}}, {"data_offsets", {240, 460}}}},
                       {"decoder.0.bias", {{"dtype", "F32"}, {"shape", {11}}, {"data_offsets", {460, 504}}}}};
  write_bytes(file("torch.safetensors"), safetensors(header, data));
  const Model model = Model::load(file("torch.safetensors"));
  EXPECT_EQ(model.config().layers, (std::vector<int64_t>{11, 5}));
  EXPECT_EQ(model.config().hidden_activation, Activation::relu);
  EXPECT_EQ(model.step(), 0);
  const std::vector<float> p = model.parameters();
  const auto& layers = model.layout().layers;
  EXPECT_EQ(std::vector<float>(p.begin() + layers[0].weight_offset, p.begin() + layers[0].weight_offset + 55),
            std::vector<float>(values.begin(), values.begin() + 55));
  EXPECT_EQ(p[static_cast<size_t>(layers[1].bias_offset + 10)], values.back());
}

TEST_F(CheckpointFile, CorruptHeadersGiveIoErrorsNamingFileAndField) {
  Model(config_for_test()).save(file("good.safetensors"));
  const std::string good = read_bytes(file("good.safetensors"));
  const auto [header, data] = split(good);

  struct Case {
    const char* name;
    std::string bytes;
    const char* field;
  };
  auto edited = [&, &header = header, &data = data](auto&& edit) {
    json h = header;
    std::string d = data;
    edit(h, d);
    return safetensors(h, d);
  };
  std::string huge(8, '\0'), past_end = good;
  const uint64_t too_big = 200'000'000, past = good.size();
  std::memcpy(huge.data(), &too_big, 8);
  std::memcpy(past_end.data(), &past, 8);
  std::string bad_json = good;
  bad_json[8] = '[';

  const Case cases[] = {
      {"short", good.substr(0, 5), "header length"},
      {"huge", huge + "{}", "header length: 200000000 bytes exceeds the limit"},
      {"past_end", past_end, "runs past the end"},
      {"bad_json", bad_json, "header: invalid JSON"},
      {"truncated_data", good.substr(0, good.size() - 4), "outside the data section"},
      {"int_dtype", edited([](json& h, std::string&) { h["encoder.0.bias"]["dtype"] = "I32"; }),
       "encoder.0.bias.dtype: is I32; parameters are F32, F16, BF16 or F64"},
      {"f16_size", edited([](json& h, std::string&) { h["encoder.0.bias"]["dtype"] = "F16"; }),
       "encoder.0.bias.data_offsets: [684,720] spans 36 bytes, shape [9] needs 18 (F16)"},
      {"bad_shape", edited([](json& h, std::string&) {
         h["encoder.0.weight"]["shape"] = {9, 20};
       }),
       "encoder.0.weight.data_offsets: [0,684] spans 684 bytes, shape [9,20] needs 720"},
      {"transposed", edited([](json& h, std::string&) {
         h["encoder.0.weight"]["shape"] = {19, 9};
       }),
       "encoder.0.weight.shape: [19,9] does not match the config's [9,19] (it is transposed)"},
      {"wrong_shape", edited([](json& h, std::string&) {
         h["encoder.1.bias"]["shape"] = {1, 3};
       }),
       "encoder.1.bias.shape: [1,3] does not match the config's [3]"},
      {"negative_dim", edited([](json& h, std::string&) { h["encoder.1.bias"]["shape"] = {-3}; }),
       "encoder.1.bias.shape"},
      {"offsets", edited([](json& h, std::string&) {
         h["decoder.0.bias"]["data_offsets"] = {4, 2};
       }),
       "decoder.0.bias.data_offsets"},
      {"missing", edited([](json& h, std::string&) { h.erase("decoder.1.bias"); }), "decoder.1.bias: missing"},
      {"extra", edited([](json& h, std::string& d) {
         h["encoder.9.weight"] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {d.size(), d.size() + 4}}};
         d += std::string(4, '\0');
       }),
       "encoder.9.weight: unexpected tensor"},
      {"bad_config", edited([](json& h, std::string&) { h["__metadata__"]["cuae.config"] = R"({"layers": [0]})"; }),
       "cuae.config"},
      {"bad_step", edited([](json& h, std::string&) { h["__metadata__"]["cuae.step"] = "x1"; }),
       "__metadata__.cuae.step"},
      {"metadata_type", edited([](json& h, std::string&) { h["__metadata__"]["cuae.step"] = 3; }),
       "__metadata__.cuae.step: is not a string"},
  };
  for (const Case& c : cases) {
    const fs::path path = file(c.name);
    write_bytes(path, c.bytes);
    const std::string message = message_of<IoError>([&] { Model::load(path); });
    EXPECT_THAT(message, HasSubstr(path.string())) << c.name;
    EXPECT_THAT(message, HasSubstr(c.field)) << c.name;
  }
  EXPECT_THAT(message_of<IoError>([&] { Model::load(file("absent")); }), HasSubstr("absent: file: cannot open"));
}

TEST_F(CheckpointFile, SaveReplacesAnExistingFileAndLeavesNoTemporaries) {
  Model model(config_for_test());
  model.save(file("m.safetensors"));
  const Matrix batch = make_structured(8, 19, 2, kSeed).to_matrix();
  model.train_step(batch.view());
  model.save(file("m.safetensors"));
  EXPECT_EQ(Model::load(file("m.safetensors")).step(), 1);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
  EXPECT_THAT(message_of<IoError>([&] { model.save(dir_ / "no" / "such" / "dir.safetensors"); }), HasSubstr("dir.safetensors"));
}

}  // namespace
}  // namespace cuae
