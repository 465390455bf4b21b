// safetensors reading and writing; the format is described in checkpoint.h.
#include "io/checkpoint.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cuae/config.h"
#include "cuae/error.h"
#include "io/atomic_file.h"
#include "io/checkpoint_import.h"
#include "io/notes.h"

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

using data::checkpoint_fail;
using data::shape_text;
using data::TensorEntry;
using data::TensorMap;

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
    checkpoint_fail(path, field, e.what());
  }
}

int64_t metadata_int(const fs::path& path, const json& metadata, const char* key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) return 0;
  const std::string text = it->get<std::string>();
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    checkpoint_fail(path, std::string("__metadata__.") + key, "'" + text + "' is not a non-negative integer");
  }
  return value;
}

// The header's JSON text after the 8-byte length, with every length check; a file that is not
// safetensors at all is reported as what it is rather than as an absurd header length.
std::string read_header_text(std::ifstream& in, const fs::path& path, uint64_t file_bytes) {
  unsigned char head[16] = {};
  const auto got = static_cast<size_t>(in.read(reinterpret_cast<char*>(head), sizeof head).gcount());
  uint64_t header_bytes = 0;
  if (got >= sizeof header_bytes) std::memcpy(&header_bytes, head, sizeof header_bytes);
  const bool json_follows = got > sizeof header_bytes && head[sizeof header_bytes] == '{';
  const bool length_fits =
      got >= sizeof header_bytes && header_bytes <= kMaxHeaderBytes && header_bytes <= file_bytes - sizeof header_bytes;
  // Only then: a safetensors length can begin with a pickle's bytes (0x280 is 80 02 00 ...).
  if (!json_follows || !length_fits) {
    const std::string foreign = data::foreign_format(path, {head, got});
    if (!foreign.empty()) checkpoint_fail(path, "file", foreign);
  }
  if (got < sizeof header_bytes) {
    checkpoint_fail(path, "header length",
                    "file has " + std::to_string(file_bytes) + " bytes, fewer than the 8-byte length");
  }
  if (!length_fits && !json_follows) {
    checkpoint_fail(path, "file",
                    "is not a safetensors file (one starts with an 8-byte header length and a JSON "
                    "header '{')");
  }
  if (header_bytes > kMaxHeaderBytes) {
    checkpoint_fail(path, "header length",
                    std::to_string(header_bytes) + " bytes exceeds the limit of " + std::to_string(kMaxHeaderBytes));
  }
  if (header_bytes > file_bytes - sizeof header_bytes) {
    checkpoint_fail(
        path, "header length",
        std::to_string(header_bytes) + " bytes runs past the end of the " + std::to_string(file_bytes) + "-byte file");
  }
  std::string text(header_bytes, '\0');
  in.clear();
  in.seekg(sizeof header_bytes);
  if (!in.read(text.data(), static_cast<std::streamsize>(header_bytes))) checkpoint_fail(path, "header", "read failed");
  return text;
}

// Tensors that are not parameters (BatchNorm buffers, other modules): refused when strict, otherwise
// removed with a note that lists them.
void drop_foreign_tensors(TensorMap& tensors, const fs::path& path, const CheckpointReadOptions& options) {
  std::vector<std::string> foreign;
  for (const auto& [name, entry] : tensors)
    if (!data::is_layer_tensor_name(name)) foreign.push_back(name);
  if (foreign.empty()) return;
  if (options.strict) {
    checkpoint_fail(path, foreign.front(),
                    "is not a parameter of cuae's model (nn.Linear layers encoder.<i> and "
                    "decoder.<i>); without --strict it would be ignored");
  }
  std::string listed;
  for (size_t i = 0; i < foreign.size() && i < 8; ++i) {
    listed += (i ? ", " : "") + foreign[i] + " (" + tensors.at(foreign[i]).dtype + ")";
  }
  if (foreign.size() > 8) listed += ", ...";
  for (const std::string& name : foreign) tensors.erase(name);
  data::note(options.note, "checkpoint " + path.string() + ": ignored " + std::to_string(foreign.size()) + " tensor" +
                               (foreign.size() > 1 ? "s" : "") + " that are not the model's parameters: " + listed);
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

Checkpoint read_checkpoint(const fs::path& path, const CheckpointReadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  const uint64_t file_bytes = fs::file_size(path, ec);
  if (!in || ec)
    checkpoint_fail(path, "file", "cannot open (" + (ec ? ec.message() : std::string("not readable")) + ")");
  const std::string text = read_header_text(in, path, file_bytes);
  const uint64_t data_start = sizeof(uint64_t) + text.size();
  const uint64_t data_bytes = file_bytes - data_start;

  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400 (fuzz finding)
    checkpoint_fail(path, "header", std::string("invalid JSON: ") + e.what());
  }
  if (!header.is_object()) checkpoint_fail(path, "header", "is not a JSON object");

  json metadata = json::object();
  TensorMap tensors;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) checkpoint_fail(path, "__metadata__", "is not an object");
      for (const auto& [key, v] : value.items())
        if (!v.is_string()) checkpoint_fail(path, "__metadata__." + key, "is not a string");
      metadata = value;
      continue;
    }
    tensors.emplace(name, data::parse_tensor_entry(path, name, value, data_bytes));
  }
  const auto config = metadata.find("cuae.config");
  data::map_pytorch_names(tensors, config != metadata.end(), path, options.note);

  Checkpoint result;
  try {
    if (config != metadata.end()) {
      result.run = run_config_from_json(config->get<std::string>(), path.string() + " __metadata__.cuae.config");
    } else {
      result.run.model.layers = data::infer_layers(tensors, path);
    }
    result.run.model.validate();
  } catch (const IoError&) {
    throw;
  } catch (const Error& e) {
    throw IoError("checkpoint " + path.string() + ": " + e.what());
  }
  drop_foreign_tensors(tensors, path, options);  // after infer_layers, whose message lists every tensor
  result.optimizer.step = metadata_int(path, metadata, "cuae.step");
  result.state.epochs_completed = metadata_int(path, metadata, "cuae.epochs");
  result.state.samples_into_epoch = metadata_int(path, metadata, "cuae.samples_in_epoch");
  if (const auto training = metadata.find("cuae.training"); training != metadata.end()) {
    read_training(path, training->get<std::string>(), result.state);
  }

  // Every tensor the config implies must be present with its shape; nothing else may be.
  const ParameterLayout layout = make_layout(result.run.model);
  const std::vector<TensorSpec> specs = parameter_tensors(layout);
  const std::string expected_from = config != metadata.end()
                                        ? "the config's "
                                        : "the " + shape_text(result.run.model.layers) +
                                              " layers that the encoder implies (cuae's decoder mirrors it), ";
  struct Target {
    std::string name;
    const TensorSpec* spec;
    const TensorEntry* entry;
    std::vector<float>* buffer;
  };
  std::vector<Target> targets;
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
      if (it == tensors.end())
        checkpoint_fail(path, name, "missing (" + expected_from + "shape is " + shape_text(spec.shape) + ")");
      const std::vector<int64_t>& shape = it->second.shape;
      if (shape != spec.shape) {
        const bool transposed =
            shape.size() == 2 && spec.shape.size() == 2 && shape[0] == spec.shape[1] && shape[1] == spec.shape[0];
        checkpoint_fail(path, name + ".shape",
                        shape_text(shape) + " does not match " + expected_from + shape_text(spec.shape) +
                            (transposed ? " (it is transposed)" : ""));
      }
      if (!it->second.float_type) {
        checkpoint_fail(path, name + ".dtype", "is " + it->second.dtype + "; parameters are F32, F16, BF16 or F64");
      }
      targets.push_back({name, &spec, &it->second, buffer});
    }
  }
  if (targets.size() != tensors.size()) {
    for (const auto& [name, entry] : tensors) {
      bool known = false;
      for (const Target& t : targets) known = known || t.entry == &entry;
      if (!known) checkpoint_fail(path, name, "unexpected tensor for layers " + shape_text(result.run.model.layers));
    }
  }

  // The header is valid: now allocate and read, widening F16/BF16/F64 to float32.
  result.has_optimizer_state = has_m;
  result.parameters.assign(static_cast<size_t>(layout.total_floats), 0.0f);
  if (has_m) result.optimizer.m.assign(result.parameters.size(), 0.0f);
  if (has_v) result.optimizer.v.assign(result.parameters.size(), 0.0f);
  if (has_best) result.state.best_parameters.assign(result.parameters.size(), 0.0f);
  std::map<std::string, int> converted;  // dtype -> tensors
  std::vector<std::byte> staging;
  for (const Target& t : targets) {
    float* out = t.buffer->data() + t.spec->flat_offset;
    const data::ElementType type = *t.entry->float_type;
    const bool direct = type.kind == data::ElementKind::floating && type.size == 4;
    const auto bytes = static_cast<std::streamsize>(t.entry->end - t.entry->begin);
    if (!direct) staging.resize(static_cast<size_t>(bytes));
    in.seekg(static_cast<std::streamoff>(data_start + t.entry->begin));
    if (!in.read(direct ? reinterpret_cast<char*>(out) : reinterpret_cast<char*>(staging.data()), bytes)) {
      checkpoint_fail(path, t.name, "read failed (the file changed while it was read?)");
    }
    if (!direct) {
      data::convert_to_float(staging.data(), static_cast<size_t>(t.spec->count), type, out);
      ++converted[t.entry->dtype];
    }
  }
  for (const auto& [dtype, count] : converted) {
    data::note(options.note, "checkpoint " + path.string() + ": converted " + std::to_string(count) + " " + dtype +
                                 " tensor" + (count > 1 ? "s" : "") + " to float32");
  }
  return result;
}

}  // namespace cuae
