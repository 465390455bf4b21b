// make_layout: the flat parameter buffer shared by every backend and by checkpoints (see layout.h).
#include "cuae/layout.h"

#include <string>

namespace cuae {

namespace {

// Tensors start on a multiple of 4 floats (16 bytes) so float4 loads are always aligned.
constexpr int64_t kAlignFloats = 4;

int64_t align_up(int64_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

}  // namespace

ParameterLayout make_layout(const ModelConfig& config) {
  config.validate();
  const auto& widths = config.layers;
  // dims = layers ++ reverse(layers[0 .. n-2]): {784, 128, 32} -> {784, 128, 32, 128, 784}.
  std::vector<int64_t> dims(widths.begin(), widths.end());
  for (size_t i = widths.size() - 1; i-- > 0;) dims.push_back(widths[i]);

  ParameterLayout layout;
  layout.encoder_layers = static_cast<int>(widths.size()) - 1;
  const size_t layer_count = dims.size() - 1;
  int64_t offset = 0;
  for (size_t l = 0; l < layer_count; ++l) {
    LayerLayout layer;
    const bool encoder = static_cast<int>(l) < layout.encoder_layers;
    const size_t index = encoder ? l : l - static_cast<size_t>(layout.encoder_layers);
    layer.name = (encoder ? "encoder." : "decoder.") + std::to_string(index);
    layer.in = dims[l];
    layer.out = dims[l + 1];
    layer.activation = l + 1 == layer_count ? config.output_activation : config.hidden_activation;
    if (config.tied_weights && !encoder) {
      layer.tied_to = static_cast<int>(layer_count - 1 - l);  // the mirror: in and out swapped
      layer.weight_offset = layout.layers[static_cast<size_t>(layer.tied_to)].weight_offset;
    } else {
      layer.weight_offset = offset;
      offset = align_up(offset + layer.in * layer.out);
      layout.parameter_count += layer.in * layer.out;
    }
    layer.bias_offset = offset;
    offset = align_up(offset + layer.out);
    layout.parameter_count += layer.out;
    layout.layers.push_back(std::move(layer));
  }
  layout.total_floats = offset;
  return layout;
}

}  // namespace cuae
