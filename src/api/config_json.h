// The pieces of the one configuration grammar (cuae/run_config.h) shared by model_config.cpp and
// run_config.cpp: a reader for one JSON object that knows its keys, and how floats are written.
#pragma once

#include <charconv>
#include <limits>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuae/backend_options.h"
#include "cuae/error.h"
#include "cuae/fit.h"
#include "cuae/model_config.h"

namespace cuae::config_json {

using nlohmann::json;

// Floats go through their shortest decimal form, so 1e-3f is written as 0.001 and reads back exactly.
inline double json_float(float v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  double d = 0;
  std::from_chars(buf, res.ptr, d);
  return d;
}

// The enums of the grammar, read from their names (the parsers throw listing the accepted names).
inline void parse_value(const std::string& s, Activation& out) { out = parse_activation(s); }
inline void parse_value(const std::string& s, Loss& out) { out = parse_loss(s); }
inline void parse_value(const std::string& s, Init& out) { out = parse_init(s); }
inline void parse_value(const std::string& s, OptimizerKind& out) { out = parse_optimizer(s); }
inline void parse_value(const std::string& s, Noise& out) { out = parse_noise(s); }
inline void parse_value(const std::string& s, LrSchedule& out) { out = parse_lr_schedule(s); }
void parse_value(const std::string& s, BackendOptions::Forward& out);  // run_config.cpp

// Reads one JSON object's known keys into typed fields; any other key is an error naming it and the
// source. Messages: "config <source>: <path.key>: <why>".
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
      read_value(field, *it, out);
    } catch (const json::exception& e) {
      fail(field, e.what());
    }
  }

  // The nested object under `key` ({} when absent), to be read by its own ObjectReader.
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

  std::string_view source() const { return source_; }

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    throw Error("config " + std::string(source_) + ": " + field + ": " + why);
  }

 private:
  template <typename T>
  void read_value(const std::string& field, const json& v, T& out) const {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      if (!v.is_number()) fail(field, "must be a number");
      out = static_cast<T>(v.get<double>());
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) fail(field, "must be true or false");
      out = v.get<bool>();
    } else if constexpr (std::is_same_v<T, uint64_t>) {
      if (!v.is_number_unsigned()) fail(field, "must be a non-negative integer");
      out = v.get<uint64_t>();
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) fail(field, "must be an integer");
      const int64_t value = v.get<int64_t>();
      if (value < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          value > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        fail(field, std::to_string(value) + " is out of range");
      }
      out = static_cast<T>(value);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) fail(field, "must be a string");
      out = v.get<std::string>();
    } else if constexpr (std::is_same_v<T, std::vector<float>>) {
      if (!v.is_array()) fail(field, "must be an array of numbers");
      out.clear();
      for (const auto& element : v) {
        if (!element.is_number()) fail(field, "must be an array of numbers, got " + element.dump());
        out.push_back(static_cast<float>(element.get<double>()));
      }
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      if (!v.is_array()) fail(field, "must be an array of integers");
      out.clear();
      for (const auto& element : v) {
        if (!element.is_number_integer()) fail(field, "must be an array of integers, got " + element.dump());
        out.push_back(element.get<int64_t>());
      }
    } else {
      if (!v.is_string()) fail(field, "must be a string");
      try {
        parse_value(v.get<std::string>(), out);
      } catch (const Error& e) {
        fail(field, std::string(e.what()).substr(sizeof "config: " - 1));
      }
    }
  }

  const json& object_;
  std::string path_;
  std::string_view source_;
  std::vector<const char*> known_;
};

// The ModelConfig part of the grammar: its keys sit at the top level of a run configuration.
json model_to_json(const ModelConfig& config);            // model_config.cpp
void read_model(ObjectReader& top, ModelConfig& config);  // model_config.cpp; no validation
json parse_json(std::string_view text, std::string_view source_name);

}  // namespace cuae::config_json
