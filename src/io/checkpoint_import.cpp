#include "io/checkpoint_import.h"

#include <charconv>
#include <cstring>
#include <set>
#include <string_view>

#include "cuae/error.h"
#include "io/notes.h"

namespace cuae::data {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// safetensors dtypes and their element sizes; the float ones are those a parameter may have.
struct DtypeInfo {
  const char* name;
  int bytes;
  std::optional<ElementType> float_type;
};
constexpr ElementType kF16{ElementKind::floating, 2}, kBF16{ElementKind::bfloat, 2};
constexpr ElementType kF32{ElementKind::floating, 4}, kF64{ElementKind::floating, 8};
const DtypeInfo kDtypes[] = {{"F32", 4, kF32}, {"F16", 2, kF16},   {"BF16", 2, kBF16}, {"F64", 8, kF64},
                             {"BOOL", 1, {}},  {"U8", 1, {}},      {"I8", 1, {}},      {"I16", 2, {}},
                             {"U16", 2, {}},   {"I32", 4, {}},     {"U32", 4, {}},     {"I64", 8, {}},
                             {"U64", 8, {}},   {"F8_E4M3", 1, {}}, {"F8_E5M2", 1, {}}};

// "encoder.3.weight" split at the first two dots after `module` ("encoder"): {3, "weight"}.
struct IndexedName {
  int64_t index = 0;
  std::string rest;
};
std::optional<IndexedName> indexed(std::string_view name, std::string_view module) {
  if (!module.empty()) {
    if (!name.starts_with(module) || name.size() <= module.size() || name[module.size()] != '.') return {};
    name.remove_prefix(module.size() + 1);
  }
  IndexedName out;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), out.index);
  if (ec != std::errc() || end == name.data() || end == name.data() + name.size() || *end != '.' || out.index < 0) {
    return {};
  }
  out.rest = std::string(end + 1, name.data() + name.size());
  return out;
}

const char* const kExpectedNames =
    "cuae reads nn.Linear layers named encoder.0 ... encoder.K-1 and decoder.0 ... decoder.K-1, each a "
    ".weight [out, in] and a .bias [out], the decoder mirroring the encoder (e.g. for layers 784, 128, 32: "
    "encoder.0.weight [128,784], encoder.1.weight [32,128], decoder.0.weight [128,32], decoder.1.weight [784,128])";

// The numbered children of `module` ("" for the top level), by index, with their tensor names.
std::map<int64_t, std::vector<std::string>> children(const TensorMap& tensors, std::string_view module) {
  std::map<int64_t, std::vector<std::string>> groups;
  for (const auto& [name, entry] : tensors)
    if (const auto parts = indexed(name, module)) groups[parts->index].push_back(name);
  return groups;
}

// Refuses a numbered child that is not an nn.Linear: its float tensors may only be a 2-D weight and
// a 1-D bias (non-float buffers are left for the "ignored" note).
void require_linear(const TensorMap& tensors, const std::string& child, const std::vector<std::string>& names,
                    const fs::path& path) {
  std::set<std::string> parts;  // a weight of the wrong dtype is refused later, by name
  for (const std::string& n : names) {
    const std::string part = n.substr(child.size() + 1);
    if (tensors.at(n).float_type || part == "weight" || part == "bias") parts.insert(part);
  }
  // A missing weight or bias is left to the checks that name it; anything else makes another module.
  const auto weight = tensors.find(child + ".weight"), bias = tensors.find(child + ".bias");
  parts.erase("weight");
  parts.erase("bias");
  const bool linear = parts.empty() && (weight == tensors.end() || weight->second.shape.size() == 2) &&
                      (bias == tensors.end() || bias->second.shape.size() == 1);
  if (linear) return;
  std::string held;
  for (const std::string& n : names) held += (held.empty() ? "" : ", ") + n + " " + shape_text(tensors.at(n).shape);
  checkpoint_fail(path, child, "is not an nn.Linear layer (it holds " + held + "); " + kExpectedNames);
}

TensorMap renamed(const TensorMap& tensors, const std::map<std::string, std::string>& prefix_map,
                  const fs::path& path) {
  TensorMap out;
  for (const auto& [name, entry] : tensors) {
    std::string target = name;
    for (const auto& [from, to] : prefix_map)
      if (name.starts_with(from + ".")) target = to + name.substr(from.size());
    if (!out.emplace(target, entry).second)
      checkpoint_fail(path, name, "would be read as " + target + ", which is also present");
  }
  return out;
}

std::string list(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

// encoder.0, encoder.2, ... (an nn.Sequential with activations between the Linears) -> encoder.0, .1;
// every numbered child must be an nn.Linear (a BatchNorm between them has no cuae equivalent).
void renumber_sequential(TensorMap& tensors, const std::string& module, const fs::path& path, const NoteSink& sink) {
  const auto groups = children(tensors, module);
  int64_t expected = 0;
  bool contiguous = true;
  for (const auto& [index, names] : groups) {
    require_linear(tensors, module + "." + std::to_string(index), names, path);
    contiguous = contiguous && index == expected++;
  }
  if (contiguous) return;
  std::map<std::string, std::string> prefix_map;
  std::vector<std::string> from, to;
  for (const auto& [index, names] : groups) {
    const std::string child = module + "." + std::to_string(index);
    prefix_map[child] = module + "." + std::to_string(prefix_map.size());
    from.push_back(child);
    to.push_back(prefix_map[child]);
  }
  tensors = renamed(tensors, prefix_map, path);
  note(sink, "checkpoint " + path.string() + ": read nn.Sequential layers " + list(from) + " as " + list(to) +
                 " (the modules between them hold no parameters)");
}

// 0, 2, 4, 6 (a plain nn.Sequential) -> encoder.0, encoder.1, decoder.0, decoder.1 when the widths
// mirror, which is what cuae's decoder does; otherwise the split is unknown and the file refused.
void split_plain_sequential(TensorMap& tensors, const fs::path& path, const NoteSink& sink) {
  const auto groups = children(tensors, "");
  if (groups.empty()) return;
  std::vector<int64_t> widths;
  std::vector<std::string> from;
  for (const auto& [index, names] : groups) {
    const std::string child = std::to_string(index);
    const auto weight = tensors.find(child + ".weight"), bias = tensors.find(child + ".bias");
    if (weight == tensors.end() && bias == tensors.end()) continue;  // buffers only: ignored later
    require_linear(tensors, child, names, path);
    // The split needs every width (fuzz finding: a lone "0.bias" was looked up as a weight).
    for (const auto& [it, part] : {std::pair{weight, ".weight"}, std::pair{bias, ".bias"}}) {
      if (it == tensors.end()) checkpoint_fail(path, child + part, std::string("missing; ") + kExpectedNames);
    }
    if (widths.empty()) widths.push_back(weight->second.shape[1]);
    widths.push_back(bias->second.shape[0]);
    from.push_back(child);
  }
  if (from.empty()) return;
  bool mirrors = from.size() % 2 == 0;
  for (size_t i = 0; mirrors && i < widths.size(); ++i) mirrors = widths[i] == widths[widths.size() - 1 - i];
  if (!mirrors) {
    checkpoint_fail(path, from.front() + ".weight",
                    "the file holds a plain nn.Sequential of " + std::to_string(from.size()) + " Linear layers " +
                        "(widths " + shape_text(widths) + ") that does not mirror, so it cannot be split into an " +
                        "encoder and a decoder; " + kExpectedNames);
  }
  std::map<std::string, std::string> prefix_map;
  std::vector<std::string> to;
  const size_t half = from.size() / 2;
  for (size_t i = 0; i < from.size(); ++i) {
    prefix_map[from[i]] = (i < half ? "encoder." : "decoder.") + std::to_string(i < half ? i : i - half);
    to.push_back(prefix_map[from[i]]);
  }
  tensors = renamed(tensors, prefix_map, path);
  note(sink, "checkpoint " + path.string() + ": read a plain nn.Sequential's layers " + list(from) + " as " + list(to) +
                 " (its widths " + shape_text(widths) + " mirror)");
}

}  // namespace

void checkpoint_fail(const fs::path& path, const std::string& field, const std::string& why) {
  throw IoError("checkpoint " + path.string() + ": " + field + ": " + why);
}

std::string shape_text(const std::vector<int64_t>& shape) { return json(shape).dump(); }

TensorEntry parse_tensor_entry(const fs::path& path, const std::string& name, const json& value, uint64_t data_bytes) {
  if (!value.is_object()) checkpoint_fail(path, name, "must be an object with dtype, shape and data_offsets");
  const auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string()) checkpoint_fail(path, name + ".dtype", "missing or not a string");
  TensorEntry entry;
  entry.dtype = dtype->get<std::string>();
  int element_bytes = 0;  // 0: a dtype this reader does not know; its size is not checked
  for (const DtypeInfo& d : kDtypes) {
    if (entry.dtype != d.name) continue;
    element_bytes = d.bytes;
    entry.float_type = d.float_type;
  }
  const auto shape = value.find("shape");
  if (shape == value.end() || !shape->is_array()) checkpoint_fail(path, name + ".shape", "missing or not an array");
  uint64_t elements = 1;
  for (const json& dim : *shape) {
    if (!dim.is_number_unsigned() || dim.get<uint64_t>() > (uint64_t{1} << 40)) {
      checkpoint_fail(path, name + ".shape", shape->dump() + " is not a list of sizes");
    }
    entry.shape.push_back(dim.get<int64_t>());
    // Checked before multiplying: two dimensions of 2^40 would wrap 64 bits and look small.
    const uint64_t d = dim.get<uint64_t>();
    if (d != 0 && elements > (uint64_t{1} << 40) / d)
      checkpoint_fail(path, name + ".shape", shape->dump() + " is too large");
    elements *= d;
  }
  const auto offsets = value.find("data_offsets");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned()) {
    checkpoint_fail(path, name + ".data_offsets", "missing or not [begin, end]");
  }
  entry.begin = (*offsets)[0].get<uint64_t>();
  entry.end = (*offsets)[1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_bytes) {
    checkpoint_fail(path, name + ".data_offsets",
                    offsets->dump() + " outside the data section of " + std::to_string(data_bytes) + " bytes");
  }
  const uint64_t needed = elements * static_cast<uint64_t>(element_bytes);
  if (element_bytes != 0 && entry.end - entry.begin != needed) {
    checkpoint_fail(path, name + ".data_offsets",
                    offsets->dump() + " spans " + std::to_string(entry.end - entry.begin) + " bytes, shape " +
                        shape->dump() + " needs " + std::to_string(needed) + " (" + entry.dtype + ")");
  }
  return entry;
}

std::string foreign_format(const fs::path& path, std::span<const unsigned char> head) {
  const auto starts = [&](std::string_view magic) {
    return head.size() >= magic.size() && std::memcmp(head.data(), magic.data(), magic.size()) == 0;
  };
  std::string kind;
  bool torch = false;
  if (starts("PK\x03\x04")) {
    kind = "a zip archive, as torch.save writes (PyTorch's format since 1.6)";
    torch = true;
  } else if (head.size() >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5) {
    kind = "a Python pickle, as torch.save wrote before PyTorch 1.6 (or with _use_new_zipfile_serialization=False)";
    torch = true;
  } else if (starts("\x93NUMPY")) {
    kind = "a NumPy .npy array";
  } else if (starts("\x1f\x8b")) {
    kind = "gzip-compressed";
  } else if (starts("\x89HDF")) {
    kind = "an HDF5 file (Keras .h5)";
  } else {
    return "";
  }
  std::string text = "is not a safetensors file but " + kind;
  if (torch) {
    fs::path out = path;
    out.replace_extension(".safetensors");
    if (out == path) out.replace_extension(".converted.safetensors");
    text +=
        "; convert its state_dict in Python: import torch; from safetensors.torch import save_file; "
        "save_file(torch.load(\"" +
        path.string() + "\", map_location=\"cpu\"), \"" + out.string() +
        "\")  (for a whole model saved with torch.save(model), save torch.load(...).state_dict())";
  }
  return text;
}

void map_pytorch_names(TensorMap& tensors, bool has_cuae_config, const fs::path& path, const NoteSink& sink) {
  size_t prefixed = 0;
  for (const auto& [name, entry] : tensors) prefixed += name.starts_with("module.");
  if (prefixed > 0) {
    TensorMap stripped;
    for (auto& [name, entry] : tensors) {
      const std::string target = name.starts_with("module.") ? name.substr(7) : name;
      if (!stripped.emplace(target, entry).second) {
        checkpoint_fail(path, name, "both " + name + " and " + target + " are present");
      }
    }
    tensors = std::move(stripped);
    note(sink, "checkpoint " + path.string() + ": stripped the 'module.' prefix (nn.DataParallel) from " +
                   std::to_string(prefixed) + " tensor names");
  }
  if (has_cuae_config) return;  // cuae's own names need no mapping
  bool has_modules = false;
  for (const auto& [name, entry] : tensors) has_modules = has_modules || name.starts_with("encoder.");
  if (!has_modules) split_plain_sequential(tensors, path, sink);
  renumber_sequential(tensors, "encoder", path, sink);
  renumber_sequential(tensors, "decoder", path, sink);
}

bool is_layer_tensor_name(const std::string& name) {
  std::string_view rest = name;
  for (const std::string_view prefix : {"optimizer.m.", "optimizer.v."})
    if (rest.starts_with(prefix)) rest.remove_prefix(prefix.size());
  for (const std::string_view module : {"encoder", "decoder"}) {
    const auto parts = indexed(rest, module);
    if (parts && (parts->rest == "weight" || parts->rest == "bias")) return true;
  }
  return false;
}

std::vector<int64_t> infer_layers(const TensorMap& tensors, const fs::path& path) {
  std::vector<int64_t> layers;
  for (int i = 0;; ++i) {
    const std::string layer = "encoder." + std::to_string(i);
    const auto weight = tensors.find(layer + ".weight");
    if (weight == tensors.end()) break;
    const auto bias = tensors.find(layer + ".bias");
    const std::vector<int64_t>& w = weight->second.shape;
    if (!weight->second.float_type) {
      checkpoint_fail(path, layer + ".weight.dtype",
                      "is " + weight->second.dtype + "; parameters are F32, F16, BF16 or F64");
    }
    if (w.size() != 2) checkpoint_fail(path, layer + ".weight.shape", shape_text(w) + " is not [out, in]");
    if (bias == tensors.end()) {
      checkpoint_fail(path, layer + ".bias", "missing: cuae's layers have biases (nn.Linear(..., bias=True))");
    }
    if (bias->second.shape.size() != 1) {
      checkpoint_fail(path, layer + ".bias.shape", shape_text(bias->second.shape) + " is not [out]");
    }
    const int64_t out = bias->second.shape[0];
    // The first layer's input width is whichever dimension is not the bias's; later ones must match.
    const int64_t in = layers.empty() ? (w[0] == out ? w[1] : w[0]) : layers.back();
    const bool transposed = w == std::vector<int64_t>{in, out};
    if (w != std::vector<int64_t>{out, in} && (transposed || !layers.empty())) {
      const std::string from =
          layers.empty() ? "" : " and encoder." + std::to_string(i - 1) + " has " + std::to_string(in) + " outputs";
      checkpoint_fail(path, layer + ".weight.shape",
                      shape_text(w) + (transposed ? " is transposed" : " does not fit") +
                          ": nn.Linear stores [out, in] = " + shape_text({out, in}) + " (its bias has " +
                          std::to_string(out) + " outputs" + from + ")");
    }
    if (w[0] != out) {
      checkpoint_fail(
          path, layer + ".weight.shape",
          shape_text(w) + " does not fit its bias of " + std::to_string(out) + " outputs: nn.Linear stores [out, in]");
    }
    if (layers.empty()) layers.push_back(in);
    layers.push_back(out);
  }
  if (layers.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, entry] : tensors)
      if (names.size() < 6) names.push_back(name);
    checkpoint_fail(
        path, "encoder.0.weight",
        "missing, and there is no __metadata__.cuae.config (the file holds " +
            (names.empty() ? std::string("no tensors") : list(names) + (tensors.size() > 6 ? ", ..." : "")) + "); " +
            kExpectedNames);
  }
  return layers;
}

}  // namespace cuae::data
