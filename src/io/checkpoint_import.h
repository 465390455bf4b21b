// The read side of checkpoints that other tools wrote (see checkpoint.h for the format): the
// header's tensor entries of every safetensors dtype, files that are not safetensors at all (a
// torch.save archive or pickle), PyTorch's naming (a `module.` prefix, nn.Sequential indices) and
// layer widths inferred from the weights, with errors naming the tensor that is wrong.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cuae/read_options.h"
#include "io/element_types.h"

namespace cuae::data {

// Throws IoError("checkpoint <path>: <field>: <why>").
[[noreturn]] void checkpoint_fail(const std::filesystem::path& path, const std::string& field, const std::string& why);

// A tensor as the header describes it, validated against the data section.
struct TensorEntry {
  std::string dtype;                      // as written: "F32", "BF16", "I64", ...
  std::optional<ElementType> float_type;  // F32, F16, BF16, F64: what parameters may be stored as
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};
using TensorMap = std::map<std::string, TensorEntry>;

TensorEntry parse_tensor_entry(const std::filesystem::path& path, const std::string& name, const nlohmann::json& value,
                               uint64_t data_bytes);

// When the first bytes show another format (a torch.save zip archive or pickle, a .npy, gzip,
// HDF5), a sentence saying so and how to convert it; otherwise empty.
std::string foreign_format(const std::filesystem::path& path, std::span<const unsigned char> head);

// Renames PyTorch's layouts to cuae's, with a note for each: strips `module.` (nn.DataParallel);
// for files without cuae metadata, renumbers nn.Sequential indices (encoder.0, encoder.2 ->
// encoder.0, encoder.1) and splits a plain nn.Sequential (0, 2, 4, 6) whose widths mirror into
// encoder and decoder. Refuses, showing the expected names, what cannot be mapped.
void map_pytorch_names(TensorMap& tensors, bool has_cuae_config, const std::filesystem::path& path,
                       const NoteSink& note);

// encoder|decoder.<i>.weight|bias, optionally under optimizer.m. / optimizer.v.
bool is_layer_tensor_name(const std::string& name);

// Layer widths {in, out0, out1, ...} from encoder.<i>.weight [out, in] and .bias [out]; a weight
// that is transposed or does not fit its bias or the previous layer is named as the culprit.
std::vector<int64_t> infer_layers(const TensorMap& tensors, const std::filesystem::path& path);

std::string shape_text(const std::vector<int64_t>& shape);

}  // namespace cuae::data
