// ModelConfig: validation, enum names, and the JSON form used by --config files and checkpoints.
#include "cuae/model_config.h"

#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "cuae/error.h"

namespace cuae {

namespace {

using nlohmann::json;

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

// Floats go through their shortest decimal form, so 1e-3f is written as 0.001 and reads back exactly.
double json_float(float v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  double d = 0;
  std::from_chars(buf, res.ptr, d);
  return d;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw Error("config: " + message);
}

// Reads one JSON object's known keys; any other key is an error naming it and the source.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path, std::string_view source)
      : object_(object), path_(std::move(path)), source_(source) {
    if (!object_.is_object()) fail(path_.empty() ? "the top level" : path_, "must be a JSON object");
    if (!path_.empty()) path_ += '.';
  }

  template <typename T>
  void read(const char* key, T& out) {
    known_.push_back(key);
    const auto it = object_.find(key);
    if (it == object_.end()) return;
    const std::string field = path_ + key;
    try {
      if constexpr (std::is_same_v<T, float>) {
        if (!it->is_number()) fail(field, "must be a number");
        out = static_cast<float>(it->template get<double>());
      } else if constexpr (std::is_same_v<T, bool>) {
        if (!it->is_boolean()) fail(field, "must be true or false");
        out = it->template get<bool>();
      } else if constexpr (std::is_same_v<T, uint64_t>) {
        if (!it->is_number_unsigned()) fail(field, "must be a non-negative integer");
        out = it->template get<uint64_t>();
      } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
        if (!it->is_array()) fail(field, "must be an array of integers");
        out.clear();
        for (const auto& v : *it) {
          if (!v.is_number_integer()) fail(field, "must be an array of integers, got " + v.dump());
          out.push_back(v.template get<int64_t>());
        }
      } else {
        if (!it->is_string()) fail(field, "must be a string");
        try {
          out = parse(it->template get<std::string>(), out);
        } catch (const Error& e) {
          fail(field, std::string(e.what()).substr(sizeof "config: " - 1));
        }
      }
    } catch (const json::exception& e) {
      fail(field, e.what());
    }
  }

  const json& child(const char* key) {
    known_.push_back(key);
    const auto it = object_.find(key);
    static const json kEmpty = json::object();
    return it == object_.end() ? kEmpty : *it;
  }

  void reject_unknown() const {
    for (const auto& [key, value] : object_.items()) {
      bool found = false;
      for (const char* k : known_) found = found || key == k;
      if (!found) fail(path_ + key, "unknown key");
    }
  }

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    throw Error("config " + std::string(source_) + ": " + field + ": " + why);
  }

 private:
  static Activation parse(const std::string& s, Activation) { return parse_activation(s); }
  static Loss parse(const std::string& s, Loss) { return parse_loss(s); }
  static Init parse(const std::string& s, Init) { return parse_init(s); }
  static OptimizerKind parse(const std::string& s, OptimizerKind) { return parse_optimizer(s); }

  const json& object_;
  std::string path_;
  std::string_view source_;
  std::vector<const char*> known_;
};

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
}

std::string_view to_string(Activation a) { return name_of(kActivationNames, a); }
std::string_view to_string(Loss l) { return name_of(kLossNames, l); }
std::string_view to_string(Init i) { return name_of(kInits, i); }
std::string_view to_string(OptimizerKind k) { return name_of(kOptimizers, k); }
Activation parse_activation(std::string_view s) { return parse_name(kActivationNames, s, "activation"); }
Loss parse_loss(std::string_view s) { return parse_name(kLossNames, s, "loss"); }
Init parse_init(std::string_view s) { return parse_name(kInits, s, "init"); }
OptimizerKind parse_optimizer(std::string_view s) { return parse_name(kOptimizers, s, "optimizer"); }

std::string to_json(const ModelConfig& c) {
  const OptimizerConfig& o = c.optimizer;
  const json j = {
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
  };
  return j.dump();
}

ModelConfig model_config_from_json(std::string_view text, std::string_view source_name) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400 (fuzz finding)
    throw Error("config " + std::string(source_name) + ": invalid JSON: " + e.what());
  }
  // Missing keys keep their defaults, so a --config file may hold only what it changes.
  ModelConfig c;
  ObjectReader top(j, "", source_name);
  top.read("layers", c.layers);
  top.read("hidden_activation", c.hidden_activation);
  top.read("output_activation", c.output_activation);
  top.read("leaky_relu_slope", c.leaky_relu_slope);
  top.read("loss", c.loss);
  top.read("init", c.init);
  top.read("seed", c.seed);
  ObjectReader opt(top.child("optimizer"), "optimizer", source_name);
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
  top.reject_unknown();
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error("config " + std::string(source_name) + ": " + std::string(e.what()).substr(sizeof "config: " - 1));
  }
  return c;
}

}  // namespace cuae
