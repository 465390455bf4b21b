// Where every parameter lives in the flat parameter buffer. All backends and checkpoints share it.
//
// The network is dims = layers ++ reverse(layers[0 .. n-2]); dense layer l maps dims[l] -> dims[l+1].
// Layer l's weight is [out, in] row-major (PyTorch nn.Linear), followed by its bias [out]. Layers are
// stored in order, so the flat buffer is W0 b0 W1 b1 ... With tied weights a decoder layer stores
// only its bias and reads its mirror encoder layer's weight, transposed. Each tensor starts on a multiple of 4 floats
// (16 bytes) so vector loads are always aligned; the padding floats are zero and never trained.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cuae/model_config.h"

namespace cuae {

struct LayerLayout {
  std::string name;  // "encoder.0", ..., "decoder.0", ...
  int64_t in = 0;
  int64_t out = 0;
  Activation activation = Activation::relu;
  int64_t weight_offset = 0;  // in floats, into the flat buffer
  int64_t bias_offset = 0;
  // Tied weights: this decoder layer uses encoder layer `tied_to`'s weight, stored [in, out] (its
  // mirror's [out, in]), so Z = A·W_encoder; -1 for a layer with its own weight.
  int tied_to = -1;
  bool tied() const { return tied_to >= 0; }
};

struct ParameterLayout {
  std::vector<LayerLayout> layers;
  int64_t total_floats = 0;  // flat buffer size, padding included
  int64_t parameter_count = 0;  // trainable scalars, padding excluded
  int encoder_layers = 0;    // layers [0, encoder_layers) form the encoder

  int64_t input_dim() const { return layers.front().in; }
  int64_t code_dim() const { return layers[static_cast<size_t>(encoder_layers) - 1].out; }
};

ParameterLayout make_layout(const ModelConfig&);

}  // namespace cuae
