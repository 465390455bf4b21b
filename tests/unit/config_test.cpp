// ModelConfig validation and JSON form, enum names, Device names, and the parameter layout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cuae/device.h"
#include "cuae/error.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"
#include "support/error_message.h"

namespace cuae {
namespace {

using ::testing::HasSubstr;

ModelConfig unusual_config() {
  ModelConfig c;
  c.layers = {37, 13, 5};
  c.hidden_activation = Activation::leaky_relu;
  c.output_activation = Activation::linear;
  c.leaky_relu_slope = 0.2f;
  c.loss = Loss::mse;
  c.optimizer.kind = OptimizerKind::sgd;
  c.optimizer.lr = 0.0123f;
  c.optimizer.beta1 = 0.5f;
  c.optimizer.beta2 = 0.95f;
  c.optimizer.eps = 1e-7f;
  c.optimizer.weight_decay = 1e-4f;
  c.optimizer.decoupled_weight_decay = true;
  c.optimizer.epsilon_hat = true;
  c.init = Init::torch_default;
  c.seed = 18446744073709551557ull;  // needs all 64 bits
  return c;
}

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_EQ(a.hidden_activation, b.hidden_activation);
  EXPECT_EQ(a.output_activation, b.output_activation);
  EXPECT_EQ(a.leaky_relu_slope, b.leaky_relu_slope);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.optimizer.kind, b.optimizer.kind);
  EXPECT_EQ(a.optimizer.lr, b.optimizer.lr);
  EXPECT_EQ(a.optimizer.beta1, b.optimizer.beta1);
  EXPECT_EQ(a.optimizer.beta2, b.optimizer.beta2);
  EXPECT_EQ(a.optimizer.eps, b.optimizer.eps);
  EXPECT_EQ(a.optimizer.weight_decay, b.optimizer.weight_decay);
  EXPECT_EQ(a.optimizer.decoupled_weight_decay, b.optimizer.decoupled_weight_decay);
  EXPECT_EQ(a.optimizer.epsilon_hat, b.optimizer.epsilon_hat);
  EXPECT_EQ(a.init, b.init);
  EXPECT_EQ(a.seed, b.seed);
}

TEST(Config, DefaultsMatchTheKerasAutoencoder) {
  const ModelConfig c;
  EXPECT_EQ(c.layers, (std::vector<int64_t>{784, 64}));
  EXPECT_EQ(c.hidden_activation, Activation::relu);
  EXPECT_EQ(c.output_activation, Activation::sigmoid);
  EXPECT_EQ(c.loss, Loss::bce);
  EXPECT_EQ(c.optimizer.kind, OptimizerKind::adam);
  EXPECT_EQ(c.optimizer.lr, 1e-3f);
  EXPECT_EQ(c.init, Init::glorot_uniform);
  EXPECT_NO_THROW(c.validate());
}

TEST(Config, JsonRoundTripIsExactForEveryField) {
  const ModelConfig c = unusual_config();
  expect_same(model_config_from_json(to_json(c)), c);
  expect_same(model_config_from_json(to_json(ModelConfig{})), ModelConfig{});
}

TEST(Config, JsonWritesFloatsInShortestForm) {
  const auto j = nlohmann::json::parse(to_json(ModelConfig{}));
  EXPECT_EQ(j["optimizer"]["lr"].dump(), "0.001");
}

TEST(Config, JsonMissingKeysKeepDefaults) {
  const ModelConfig c = model_config_from_json(R"({"layers": [20, 7], "optimizer": {"lr": 0.01}})");
  EXPECT_EQ(c.layers, (std::vector<int64_t>{20, 7}));
  EXPECT_EQ(c.optimizer.lr, 0.01f);
  EXPECT_EQ(c.optimizer.beta2, 0.999f);
  EXPECT_EQ(c.loss, Loss::bce);
}

TEST(Config, JsonUnknownKeyIsAnErrorNamingKeyAndSource) {
  const std::string top = message_of([] { model_config_from_json(R"({"layer": [3, 2]})", "run.json"); });
  EXPECT_THAT(top, HasSubstr("run.json"));
  EXPECT_THAT(top, HasSubstr("layer"));
  EXPECT_THAT(top, HasSubstr("unknown key"));
  const std::string nested = message_of([] { model_config_from_json(R"({"optimizer": {"momentum": 0.9}})", "x.json"); });
  EXPECT_THAT(nested, HasSubstr("optimizer.momentum"));
}

TEST(Config, JsonErrorsNameTheFieldAndTheProblem) {
  struct Case {
    const char* json;
    const char* expected;
  };
  const Case cases[] = {
      {"{not json", "invalid JSON"},
      {"[1, 2]", "must be a JSON object"},
      {R"({"layers": 784})", "layers: must be an array of integers"},
      {R"({"layers": [784, 6.5]})", "layers: must be an array of integers"},
      {R"({"layers": [784]})", "at least 2 widths"},
      {R"({"layers": [784, 0]})", "layers[1] = 0"},
      {R"({"loss": 3})", "loss: must be a string"},
      {R"({"loss": "l1"})", "accepted: bce, mse"},
      {R"({"hidden_activation": "swish"})", "accepted: relu, sigmoid, tanh, linear, leaky_relu, gelu"},
      {R"({"init": "he"})", "accepted: glorot_uniform, torch_default"},
      {R"({"optimizer": {"kind": "rmsprop"}})", "accepted: adam, sgd"},
      {R"({"optimizer": {"lr": "fast"}})", "optimizer.lr: must be a number"},
      {R"({"optimizer": {"epsilon_hat": 1}})", "optimizer.epsilon_hat: must be true or false"},
      {R"({"optimizer": 5})", "optimizer: must be a JSON object"},
      {R"({"seed": -1})", "seed: must be a non-negative integer"},
      {R"({"output_activation": "linear"})", "bce requires output_activation sigmoid"},
  };
  for (const Case& c : cases) {
    const std::string message = message_of([&] { model_config_from_json(c.json, "cfg.json"); });
    EXPECT_THAT(message, HasSubstr(c.expected)) << c.json;
    EXPECT_THAT(message, HasSubstr("cfg.json")) << c.json;
  }
}

TEST(Config, ValidateNamesTheFirstInvalidField) {
  struct Case {
    void (*edit)(ModelConfig&);
    const char* expected;
  };
  const Case cases[] = {
      {[](ModelConfig& c) { c.layers = {}; }, "got 0"},
      {[](ModelConfig& c) { c.layers = {10, -3}; }, "layers[1] = -3"},
      {[](ModelConfig& c) { c.output_activation = Activation::relu; }, "output_activation must be sigmoid or linear, got relu"},
      {[](ModelConfig& c) { c.optimizer.lr = 0; }, "optimizer.lr must be > 0"},
      {[](ModelConfig& c) { c.optimizer.beta1 = 1; }, "optimizer.beta1 must be in [0, 1)"},
      {[](ModelConfig& c) { c.optimizer.beta2 = -0.1f; }, "optimizer.beta2 must be in [0, 1)"},
      {[](ModelConfig& c) { c.optimizer.eps = -1e-8f; }, "optimizer.eps must be >= 0"},
      {[](ModelConfig& c) { c.optimizer.weight_decay = -1; }, "optimizer.weight_decay must be >= 0"},
  };
  for (const Case& c : cases) {
    ModelConfig config;
    c.edit(config);
    EXPECT_THAT(message_of([&] { config.validate(); }), HasSubstr(c.expected));
  }
}

TEST(Config, EnumNamesRoundTrip) {
  for (Activation a : {Activation::relu, Activation::sigmoid, Activation::tanh, Activation::linear,
                       Activation::leaky_relu, Activation::gelu})
    EXPECT_EQ(parse_activation(to_string(a)), a);
  for (Loss l : {Loss::bce, Loss::mse}) EXPECT_EQ(parse_loss(to_string(l)), l);
  for (Init i : {Init::glorot_uniform, Init::torch_default}) EXPECT_EQ(parse_init(to_string(i)), i);
  for (OptimizerKind k : {OptimizerKind::adam, OptimizerKind::sgd}) EXPECT_EQ(parse_optimizer(to_string(k)), k);
}

TEST(Device, ParsesAndPrintsNames) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  EXPECT_EQ(Device::cpu().str(), "cpu");
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:1x", "CPU"})
    EXPECT_THAT(message_of([&] { Device::parse(bad); }), HasSubstr("accepted: cpu, cuda, cuda:N")) << bad;
}

TEST(Device, BestIsCudaOnlyWhenUsable) {
  EXPECT_EQ(Device::best(), cuda_status().usable ? Device::cuda(0) : Device::cpu());
}

TEST(Layout, MirrorsTheEncoderAndAlignsEveryTensorForOddWidths) {
  ModelConfig c;
  c.layers = {37, 13, 5};
  c.hidden_activation = Activation::tanh;
  const ParameterLayout layout = make_layout(c);
  ASSERT_EQ(layout.layers.size(), 4u);
  EXPECT_EQ(layout.encoder_layers, 2);
  EXPECT_EQ(layout.input_dim(), 37);
  EXPECT_EQ(layout.code_dim(), 5);
  const char* names[] = {"encoder.0", "encoder.1", "decoder.0", "decoder.1"};
  const int64_t ins[] = {37, 13, 5, 13}, outs[] = {13, 5, 13, 37};
  int64_t end = 0, params = 0;
  for (size_t l = 0; l < 4; ++l) {
    const LayerLayout& layer = layout.layers[l];
    EXPECT_EQ(layer.name, names[l]);
    EXPECT_EQ(layer.in, ins[l]);
    EXPECT_EQ(layer.out, outs[l]);
    EXPECT_EQ(layer.activation, l == 3 ? Activation::sigmoid : Activation::tanh);
    EXPECT_EQ(layer.weight_offset % 4, 0);
    EXPECT_EQ(layer.bias_offset % 4, 0);
    EXPECT_GE(layer.weight_offset, end);                         // no overlap with the previous tensor
    EXPECT_GE(layer.bias_offset, layer.weight_offset + layer.in * layer.out);
    EXPECT_LT(layer.bias_offset, layer.weight_offset + layer.in * layer.out + 4);  // padding < 4 floats
    end = layer.bias_offset + layer.out;
    params += layer.in * layer.out + layer.out;
  }
  EXPECT_EQ(layout.total_floats % 4, 0);
  EXPECT_GE(layout.total_floats, end);
  EXPECT_LT(layout.total_floats, end + 4);
  EXPECT_EQ(layout.parameter_count, params);
}

TEST(Layout, TwoWidthsGiveOneEncoderAndOneDecoderLayer) {
  const ParameterLayout layout = make_layout(ModelConfig{});
  ASSERT_EQ(layout.layers.size(), 2u);
  EXPECT_EQ(layout.layers[0].name, "encoder.0");
  EXPECT_EQ(layout.layers[1].name, "decoder.0");
  EXPECT_EQ(layout.parameter_count, 784 * 64 + 64 + 64 * 784 + 784);
}

TEST(Layout, RejectsAnInvalidConfig) {
  ModelConfig c;
  c.layers = {5};
  EXPECT_THROW(make_layout(c), Error);
}

}  // namespace
}  // namespace cuae
