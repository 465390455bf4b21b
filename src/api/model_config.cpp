// ModelConfig: validation, enum names, and its part of the configuration grammar (cuae/run_config.h).
#include "cuae/model_config.h"

#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "api/config_json.h"
#include "cuae/error.h"
#include "cuae/run_config.h"

namespace cuae {

namespace {

// The widest layer we accept: keeps in * out and the flat buffer size far from int64 overflow.
constexpr int64_t kMaxWidth = int64_t{1} << 24;

template <typename Enum, size_t N>
using NameTable = std::array<std::pair<Enum, std::string_view>, N>;

constexpr NameTable<Init, 2> kInits{{{Init::glorot_uniform, "glorot_uniform"}, {Init::torch_default, "torch_default"}}};
constexpr NameTable<OptimizerKind, 2> kOptimizers{{{OptimizerKind::adam, "adam"}, {OptimizerKind::sgd, "sgd"}}};

template <typename Enum, size_t N>
std::string_view name_of(const NameTable<Enum, N>& table, Enum value) {
  for (const auto& [e, name] : table)
    if (e == value) return name;
  return "unknown";
}

template <typename Enum, size_t N>
Enum parse_name(const NameTable<Enum, N>& table, std::string_view text, std::string_view what) {
  std::string accepted;
  for (const auto& [e, name] : table) {
    if (name == text) return e;
    accepted += (accepted.empty() ? "" : ", ") + std::string(name);
  }
  throw Error("config: unknown " + std::string(what) + " '" + std::string(text) + "'; accepted: " + accepted);
}

std::string number(double v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

void require(bool ok, const std::string& message) {
  if (!ok) throw Error("config: " + message);
}

}  // namespace

void ModelConfig::validate() const {
  require(layers.size() >= 2, "layers needs at least 2 widths (input and code), got " + std::to_string(layers.size()));
  for (size_t i = 0; i < layers.size(); ++i) {
    require(layers[i] > 0 && layers[i] <= kMaxWidth, "layers[" + std::to_string(i) + "] = " +
                                                         std::to_string(layers[i]) + " must be in [1, " +
                                                         std::to_string(kMaxWidth) + "]");
  }
  require(output_activation == Activation::sigmoid || output_activation == Activation::linear,
          "output_activation must be sigmoid or linear, got " + std::string(to_string(output_activation)));
  require(loss_accepts_output(loss, output_activation),
          "loss bce requires output_activation sigmoid, got " + std::string(to_string(output_activation)));
  require(std::isfinite(leaky_relu_slope), "leaky_relu_slope must be finite, got " + number(leaky_relu_slope));
  const OptimizerConfig& o = optimizer;
  require(std::isfinite(o.lr) && o.lr > 0, "optimizer.lr must be > 0, got " + number(o.lr));
  require(o.beta1 >= 0 && o.beta1 < 1, "optimizer.beta1 must be in [0, 1), got " + number(o.beta1));
  require(o.beta2 >= 0 && o.beta2 < 1, "optimizer.beta2 must be in [0, 1), got " + number(o.beta2));
  require(std::isfinite(o.eps) && o.eps >= 0, "optimizer.eps must be >= 0, got " + number(o.eps));
  require(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
          "optimizer.weight_decay must be >= 0, got " + number(o.weight_decay));
  require(std::isfinite(o.global_clipnorm) && o.global_clipnorm >= 0,
          "optimizer.global_clipnorm must be >= 0 (0 = off), got " + number(o.global_clipnorm));

  const Regularization& r = regularization;
  const auto probability = [](float p) { return p >= 0 && p <= 1; };
  switch (r.noise.kind) {
    case Noise::Kind::none: break;
    case Noise::Kind::gaussian:
      require(std::isfinite(r.noise.amount) && r.noise.amount >= 0,
              "noise gaussian:SIGMA needs SIGMA >= 0, got " + number(r.noise.amount));
      break;
    case Noise::Kind::mask:
    case Noise::Kind::salt_pepper:
      require(probability(r.noise.amount), "noise " + to_string(r.noise) + " needs a probability in [0, 1]");
      break;
  }
  // Layers: 2·(widths − 1); every one but the output layer is hidden.
  const size_t hidden = 2 * (layers.size() - 1) - 1;
  require(r.dropout.size() <= 1 || r.dropout.size() == hidden,
          "dropout needs one rate or one per hidden layer (" + std::to_string(hidden) + "), got " +
              std::to_string(r.dropout.size()));
  for (const float rate : r.dropout) require(rate >= 0 && rate < 1, "dropout rates must be in [0, 1), got " + number(rate));
  require(std::isfinite(r.l1_activity) && r.l1_activity >= 0, "l1_activity must be >= 0, got " + number(r.l1_activity));
  require(std::isfinite(r.kl_beta) && r.kl_beta >= 0, "kl_sparsity BETA must be >= 0, got " + number(r.kl_beta));
  if (r.kl_beta > 0) {
    require(r.kl_rho > 0 && r.kl_rho < 1, "kl_sparsity RHO must be in (0, 1), got " + number(r.kl_rho));
    require(hidden_activation == Activation::sigmoid,
            "kl_sparsity needs a sigmoid code (hidden_activation sigmoid), got " +
                std::string(to_string(hidden_activation)));
  }
  require(std::isfinite(r.l2) && r.l2 >= 0, "l2 must be >= 0, got " + number(r.l2));
}

std::string_view to_string(Activation a) { return name_of(kActivationNames, a); }
std::string_view to_string(Loss l) { return name_of(kLossNames, l); }
std::string_view to_string(Init i) { return name_of(kInits, i); }
std::string_view to_string(OptimizerKind k) { return name_of(kOptimizers, k); }
Activation parse_activation(std::string_view s) { return parse_name(kActivationNames, s, "activation"); }
Loss parse_loss(std::string_view s) { return parse_name(kLossNames, s, "loss"); }
Init parse_init(std::string_view s) { return parse_name(kInits, s, "init"); }
OptimizerKind parse_optimizer(std::string_view s) { return parse_name(kOptimizers, s, "optimizer"); }

namespace config_json {

json model_to_json(const ModelConfig& c) {
  const OptimizerConfig& o = c.optimizer;
  json dropout = json::array();
  for (const float rate : c.regularization.dropout) dropout.push_back(json_float(rate));
  return {
      {"layers", c.layers},
      {"hidden_activation", to_string(c.hidden_activation)},
      {"output_activation", to_string(c.output_activation)},
      {"leaky_relu_slope", json_float(c.leaky_relu_slope)},
      {"loss", to_string(c.loss)},
      {"optimizer",
       {{"kind", to_string(o.kind)},
        {"lr", json_float(o.lr)},
        {"beta1", json_float(o.beta1)},
        {"beta2", json_float(o.beta2)},
        {"eps", json_float(o.eps)},
        {"weight_decay", json_float(o.weight_decay)},
        {"decoupled_weight_decay", o.decoupled_weight_decay},
        {"epsilon_hat", o.epsilon_hat},
        {"global_clipnorm", json_float(o.global_clipnorm)}}},
      {"init", to_string(c.init)},
      {"seed", c.seed},
      {"tied", c.tied_weights},
      {"noise", to_string(c.regularization.noise)},
      {"dropout", dropout},
      {"l1_activity", json_float(c.regularization.l1_activity)},
      {"kl_sparsity", kl_sparsity_spec(c.regularization)},
      {"l2", json_float(c.regularization.l2)},
  };
}

void read_model(ObjectReader& top, ModelConfig& c) {
  top.read("layers", c.layers);
  top.read("hidden_activation", c.hidden_activation);
  top.read("output_activation", c.output_activation);
  top.read("leaky_relu_slope", c.leaky_relu_slope);
  top.read("loss", c.loss);
  top.read("init", c.init);
  top.read("seed", c.seed);
  top.read("tied", c.tied_weights);
  top.read("noise", c.regularization.noise);
  top.read("dropout", c.regularization.dropout);
  top.read("l1_activity", c.regularization.l1_activity);
  std::string kl = kl_sparsity_spec(c.regularization);
  top.read("kl_sparsity", kl);
  try {
    parse_kl_sparsity(kl, c.regularization);
  } catch (const Error& e) {
    top.fail("kl_sparsity", std::string(e.what()).substr(sizeof "config: " - 1));
  }
  top.read("l2", c.regularization.l2);
  ObjectReader opt(top.child("optimizer"), "optimizer", top.source());
  opt.read("kind", c.optimizer.kind);
  opt.read("lr", c.optimizer.lr);
  opt.read("beta1", c.optimizer.beta1);
  opt.read("beta2", c.optimizer.beta2);
  opt.read("eps", c.optimizer.eps);
  opt.read("weight_decay", c.optimizer.weight_decay);
  opt.read("decoupled_weight_decay", c.optimizer.decoupled_weight_decay);
  opt.read("epsilon_hat", c.optimizer.epsilon_hat);
  opt.read("global_clipnorm", c.optimizer.global_clipnorm);
  opt.reject_unknown();
}

}  // namespace config_json

// The model part of the one grammar (cuae/run_config.h): a whole run configuration reads too.
std::string to_json(const ModelConfig& c) { return config_json::model_to_json(c).dump(); }

ModelConfig model_config_from_json(std::string_view text, std::string_view source_name) {
  return run_config_from_json(text, source_name).model;
}

}  // namespace cuae
