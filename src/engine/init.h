// Initial weights, computed on the host from config.seed so that every backend starts from the same
// bits: weight element i of layer l is rng::uniform_at(seed, 2l, i), its bias element rng::uniform_at(
// seed, 2l + 1, i), scaled to the init's range.
#pragma once

#include <vector>

#include "cuae/layout.h"
#include "cuae/model_config.h"

namespace cuae {

// glorot_uniform (Keras): W ~ U(-a, a), a = sqrt(6 / (in + out)), b = 0.
// torch_default (nn.Linear.reset_parameters): W, b ~ U(-1/sqrt(in), 1/sqrt(in)).
// Returns layout.total_floats values; padding floats are 0.
std::vector<float> initial_parameters(const ModelConfig& config, const ParameterLayout& layout);

}  // namespace cuae
