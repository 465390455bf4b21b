#include "engine/init.h"

#include <cmath>

#include "kernels/common/random.cuh"

namespace cuae {

namespace {

void fill_uniform(float* out, int64_t count, float bound, uint64_t seed, uint64_t stream) {
  for (int64_t i = 0; i < count; ++i) {
    const float u = rng::uniform_at(seed, stream, static_cast<uint64_t>(i));
    out[i] = (2.0f * u - 1.0f) * bound;
  }
}

}  // namespace

std::vector<float> initial_parameters(const ModelConfig& config, const ParameterLayout& layout) {
  std::vector<float> flat(static_cast<size_t>(layout.total_floats), 0.0f);
  for (size_t l = 0; l < layout.layers.size(); ++l) {
    const LayerLayout& layer = layout.layers[l];
    const uint64_t weight_stream = 2 * l, bias_stream = 2 * l + 1;
    float* w = flat.data() + layer.weight_offset;
    float* b = flat.data() + layer.bias_offset;
    const int64_t weights = layer.tied() ? 0 : layer.in * layer.out;  // a tied weight is its mirror's
    if (config.init == Init::glorot_uniform) {
      const double a = std::sqrt(6.0 / static_cast<double>(layer.in + layer.out));
      fill_uniform(w, weights, static_cast<float>(a), config.seed, weight_stream);
    } else {
      const auto bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(layer.in)));
      fill_uniform(w, weights, bound, config.seed, weight_stream);
      fill_uniform(b, layer.out, bound, config.seed, bias_stream);
    }
  }
  return flat;
}

}  // namespace cuae
