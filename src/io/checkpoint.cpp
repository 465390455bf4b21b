// safetensors reading and writing; the format is described in checkpoint.h.
#include "io/checkpoint.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cuae/config.h"
#include "cuae/error.h"
#include "io/atomic_file.h"

namespace cuae {

namespace {

static_assert(std::endian::native == std::endian::little, "safetensors stores little-endian data");

using nlohmann::json;
namespace fs = std::filesystem;

// A header longer than this is a corrupt or hostile file: ours are a few kilobytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t flat_offset = 0;  // into the flat parameter (or m / v) buffer
  int64_t count = 0;
};

std::vector<TensorSpec> parameter_tensors(const ParameterLayout& layout) {
  std::vector<TensorSpec> specs;
  for (const LayerLayout& layer : layout.layers) {
    if (!layer.tied()) {  // a tied decoder layer's weight is its encoder mirror's, stored once
      specs.push_back({layer.name + ".weight", {layer.out, layer.in}, layer.weight_offset, layer.in * layer.out});
    }
    specs.push_back({layer.name + ".bias", {layer.out}, layer.bias_offset, layer.out});
  }
  return specs;
}

[[noreturn]] void fail(const fs::path& path, const std::string& field, const std::string& why) {
  throw IoError("checkpoint " + path.string() + ": " + field + ": " + why);
}

std::string shape_text(const std::vector<int64_t>& shape) { return json(shape).dump(); }

// A tensor as the header describes it, validated against the data section.
struct TensorEntry {
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

TensorEntry parse_entry(const fs::path& path, const std::string& name, const json& value, uint64_t data_bytes) {
  if (!value.is_object()) fail(path, name, "must be an object with dtype, shape and data_offsets");
  const auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string()) fail(path, name + ".dtype", "missing or not a string");
  if (dtype->get<std::string>() != "F32") {
    fail(path, name + ".dtype", "is " + dtype->get<std::string>() + "; only F32 is supported");
  }
  TensorEntry entry;
  const auto shape = value.find("shape");
  if (shape == value.end() || !shape->is_array()) fail(path, name + ".shape", "missing or not an array");
  uint64_t elements = 1;
  for (const json& dim : *shape) {
    if (!dim.is_number_unsigned() || dim.get<uint64_t>() > (uint64_t{1} << 40)) {
      fail(path, name + ".shape", shape->dump() + " is not a list of sizes");
    }
    entry.shape.push_back(dim.get<int64_t>());
    // Checked before multiplying: two dimensions of 2^40 would wrap 64 bits and look small.
    const uint64_t d = dim.get<uint64_t>();
    if (d != 0 && elements > (uint64_t{1} << 40) / d) fail(path, name + ".shape", shape->dump() + " is too large");
    elements *= d;
  }
  const auto offsets = value.find("data_offsets");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned()) {
    fail(path, name + ".data_offsets", "missing or not [begin, end]");
  }
  entry.begin = (*offsets)[0].get<uint64_t>();
  entry.end = (*offsets)[1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_bytes) {
    fail(path, name + ".data_offsets", offsets->dump() + " outside the data section of " + std::to_string(data_bytes) +
                                           " bytes");
  }
  if (entry.end - entry.begin != elements * sizeof(float)) {
    fail(path, name + ".data_offsets", offsets->dump() + " spans " + std::to_string(entry.end - entry.begin) +
                                           " bytes, shape " + shape->dump() + " needs " +
                                           std::to_string(elements * sizeof(float)));
  }
  return entry;
}

// The weights of early stopping's best epoch (restore_best), flat like the parameters.
constexpr const char* kBestPrefix = "early_stopping.best.";

// The memory of schedules and early stopping, so a resumed fit decides as the uninterrupted one.
// A monitored loss may be NaN (a diverged validation): JSON has no NaN, so non-finite values are null.
json training_json(const TrainingState& s) {
  const auto value = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  return {{"lr_factor", value(s.lr_factor)},    {"plateau_best", value(s.plateau_best)},
          {"plateau_epochs", s.plateau_epochs}, {"plateau_bad_epochs", s.plateau_bad_epochs},
          {"stop_best", value(s.stop_best)},    {"best_epoch", s.best_epoch},
          {"stop_wait", s.stop_wait}};
}

void read_training(const fs::path& path, const std::string& text, TrainingState& s) {
  const std::string field = "__metadata__.cuae.training";
  try {
    const json j = json::parse(text);
    const auto number = [&](const char* key) {
      const json& v = j.at(key);
      return v.is_null() ? std::nan("") : v.get<double>();
    };
    s.lr_factor = number("lr_factor");
    s.plateau_best = number("plateau_best");
    s.plateau_epochs = j.at("plateau_epochs").get<int>();
    s.plateau_bad_epochs = j.at("plateau_bad_epochs").get<int>();
    s.stop_best = number("stop_best");
    s.best_epoch = j.at("best_epoch").get<int>();
    s.stop_wait = j.at("stop_wait").get<int>();
  } catch (const json::exception& e) {
    fail(path, field, e.what());
  }
}

int64_t metadata_int(const fs::path& path, const json& metadata, const char* key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) return 0;
  const std::string text = it->get<std::string>();
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    fail(path, std::string("__metadata__.") + key, "'" + text + "' is not a non-negative integer");
  }
  return value;
}

// A PyTorch-saved file: layers = {encoder.0 in, encoder.0 out, encoder.1 out, ...}; the rest default.
ModelConfig infer_config(const fs::path& path, const std::map<std::string, TensorEntry>& tensors) {
  ModelConfig config;
  config.layers.clear();
  for (int i = 0;; ++i) {
    const std::string name = "encoder." + std::to_string(i) + ".weight";
    const auto it = tensors.find(name);
    if (it == tensors.end()) break;
    if (it->second.shape.size() != 2) fail(path, name + ".shape", shape_text(it->second.shape) + " is not [out, in]");
    if (i == 0) config.layers.push_back(it->second.shape[1]);
    config.layers.push_back(it->second.shape[0]);
  }
  if (config.layers.empty()) fail(path, "encoder.0.weight", "missing, and there is no __metadata__.cuae.config");
  return config;
}

}  // namespace

void write_checkpoint(const fs::path& path, const RunConfig& run, const ParameterLayout& layout,
                      std::span<const float> parameters, const OptimizerState& optimizer,
                      const TrainingState& state) {
  const auto total = static_cast<size_t>(layout.total_floats);
  if (parameters.size() != total) {
    throw Error("save " + path.string() + ": " + std::to_string(parameters.size()) + " parameters, layout has " +
                std::to_string(total));
  }
  struct Source {
    std::string name;
    const float* data;
  };
  std::vector<Source> sources;
  const std::vector<TensorSpec> specs = parameter_tensors(layout);
  for (const TensorSpec& s : specs) sources.push_back({s.name, parameters.data() + s.flat_offset});
  for (const auto& [prefix, buffer] : {std::pair{"optimizer.m.", &optimizer.m}, std::pair{"optimizer.v.", &optimizer.v},
                                       std::pair{kBestPrefix, &state.best_parameters}}) {
    if (buffer->empty()) continue;
    if (buffer->size() != total) {
      throw Error("save " + path.string() + ": " + prefix + " holds " + std::to_string(buffer->size()) +
                  " floats, layout has " + std::to_string(total));
    }
    for (const TensorSpec& s : specs) sources.push_back({prefix + s.name, buffer->data() + s.flat_offset});
  }

  json header = json::object();
  uint64_t offset = 0;
  for (size_t i = 0; i < sources.size(); ++i) {
    const TensorSpec& spec = specs[i % specs.size()];
    const uint64_t bytes = static_cast<uint64_t>(spec.count) * sizeof(float);
    header[sources[i].name] = {{"dtype", "F32"}, {"shape", spec.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  header["__metadata__"] = {{"format", "pt"},
                            {"cuae.config", to_json(run)},
                            {"cuae.step", std::to_string(optimizer.step)},
                            {"cuae.epochs", std::to_string(state.epochs_completed)},
                            {"cuae.samples_in_epoch", std::to_string(state.samples_into_epoch)},
                            {"cuae.training", training_json(state).dump()},
                            {"cuae.version", CUAE_VERSION}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned

  data::AtomicFile file(path);
  const uint64_t length = text.size();
  file.write(&length, sizeof length);
  file.write(text);
  for (size_t i = 0; i < sources.size(); ++i) {
    file.write(sources[i].data, static_cast<size_t>(specs[i % specs.size()].count) * sizeof(float));
  }
  file.commit();
}

Checkpoint read_checkpoint(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const uint64_t file_bytes = fs::file_size(path, ec);
  if (!in || ec) fail(path, "file", "cannot open (" + (ec ? ec.message() : std::string("not readable")) + ")");
  uint64_t header_bytes = 0;
  if (file_bytes < sizeof header_bytes || !in.read(reinterpret_cast<char*>(&header_bytes), sizeof header_bytes)) {
    fail(path, "header length", "file has " + std::to_string(file_bytes) + " bytes, fewer than the 8-byte length");
  }
  if (header_bytes > kMaxHeaderBytes) {
    fail(path, "header length", std::to_string(header_bytes) + " bytes exceeds the limit of " +
                                    std::to_string(kMaxHeaderBytes));
  }
  if (header_bytes > file_bytes - sizeof header_bytes) {
    fail(path, "header length", std::to_string(header_bytes) + " bytes runs past the end of the " +
                                    std::to_string(file_bytes) + "-byte file");
  }
  std::string text(header_bytes, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_bytes))) fail(path, "header", "read failed");
  const uint64_t data_start = sizeof header_bytes + header_bytes;
  const uint64_t data_bytes = file_bytes - data_start;

  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400 (fuzz finding)
    fail(path, "header", std::string("invalid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header", "is not a JSON object");

  json metadata = json::object();
  std::map<std::string, TensorEntry> tensors;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(path, "__metadata__", "is not an object");
      for (const auto& [key, v] : value.items())
        if (!v.is_string()) fail(path, "__metadata__." + key, "is not a string");
      metadata = value;
      continue;
    }
    tensors.emplace(name, parse_entry(path, name, value, data_bytes));
  }

  Checkpoint result;
  try {
    const auto config = metadata.find("cuae.config");
    if (config != metadata.end()) {
      result.run = run_config_from_json(config->get<std::string>(), path.string() + " __metadata__.cuae.config");
    } else {
      result.run.model = infer_config(path, tensors);
    }
    result.run.model.validate();
  } catch (const IoError&) {
    throw;
  } catch (const Error& e) {
    throw IoError("checkpoint " + path.string() + ": " + e.what());
  }
  result.optimizer.step = metadata_int(path, metadata, "cuae.step");
  result.state.epochs_completed = metadata_int(path, metadata, "cuae.epochs");
  result.state.samples_into_epoch = metadata_int(path, metadata, "cuae.samples_in_epoch");
  if (const auto training = metadata.find("cuae.training"); training != metadata.end()) {
    read_training(path, training->get<std::string>(), result.state);
  }

  // Every tensor the config implies must be present with its shape; nothing else may be.
  const ParameterLayout layout = make_layout(result.run.model);
  const std::vector<TensorSpec> specs = parameter_tensors(layout);
  struct Target {
    std::string name;
    const TensorSpec* spec;
    const TensorEntry* entry;
    std::vector<float>* buffer;
  };
  std::vector<Target> targets;
  size_t matched = 0;
  const bool adam = result.run.model.optimizer.kind == OptimizerKind::adam;
  const bool has_m = tensors.contains("optimizer.m." + specs.front().name);
  const bool has_v = adam && has_m;
  const bool has_best = tensors.contains(kBestPrefix + specs.front().name);
  for (const auto& [prefix, present, buffer] :
       {std::tuple{"", true, &result.parameters}, std::tuple{"optimizer.m.", has_m, &result.optimizer.m},
        std::tuple{"optimizer.v.", has_v, &result.optimizer.v},
        std::tuple{kBestPrefix, has_best, &result.state.best_parameters}}) {
    if (!present) continue;
    for (const TensorSpec& spec : specs) {
      const std::string name = prefix + spec.name;
      const auto it = tensors.find(name);
      if (it == tensors.end()) fail(path, name, "missing (the config needs shape " + shape_text(spec.shape) + ")");
      if (it->second.shape != spec.shape) {
        fail(path, name + ".shape", shape_text(it->second.shape) + " does not match the config's " +
                                        shape_text(spec.shape));
      }
      targets.push_back({name, &spec, &it->second, buffer});
      ++matched;
    }
  }
  if (matched != tensors.size()) {
    for (const auto& [name, entry] : tensors) {
      bool known = false;
      for (const Target& t : targets) known = known || t.entry == &entry;
      if (!known) fail(path, name, "unexpected tensor for layers " + shape_text(result.run.model.layers));
    }
  }

  // The header is valid: now allocate and read.
  result.has_optimizer_state = has_m;
  result.parameters.assign(static_cast<size_t>(layout.total_floats), 0.0f);
  if (has_m) result.optimizer.m.assign(result.parameters.size(), 0.0f);
  if (has_v) result.optimizer.v.assign(result.parameters.size(), 0.0f);
  if (has_best) result.state.best_parameters.assign(result.parameters.size(), 0.0f);
  for (const Target& t : targets) {
    in.seekg(static_cast<std::streamoff>(data_start + t.entry->begin));
    if (!in.read(reinterpret_cast<char*>(t.buffer->data() + t.spec->flat_offset),
                 static_cast<std::streamsize>(t.entry->end - t.entry->begin))) {
      fail(path, t.name, "read failed (the file changed while it was read?)");
    }
  }
  return result;
}

}  // namespace cuae
