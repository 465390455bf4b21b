// Optimizer updates over the whole flat parameter buffer, as torch.optim.Adam / torch.optim.SGD
// (foreach=False) compute them, plus the AdamW and Keras epsilon-hat variants of cuae's config.
#pragma once

#include <cstdint>
#include <span>

#include "cuae/model_config.h"

namespace cuae::cpu {

// The per-step scalars, computed in double like PyTorch does on the host.
struct OptimizerScalars {
  float beta1 = 0, one_minus_beta1 = 0, beta2 = 0, one_minus_beta2 = 0, eps = 0;
  float weight_decay = 0;    // L2, added to the gradient; 0 when decoupled
  float decay_factor = 1;    // AdamW / decoupled: p *= decay_factor before the step
  float step_size = 0;       // Adam: lr / (1 − β1^t); epsilon-hat: lr·sqrt(1 − β2^t) / (1 − β1^t); SGD: lr
  float bias_correction2_sqrt = 1;  // Adam: sqrt(1 − β2^t)
};

// Scalars of step t (1-based, the step being taken), at the config's learning rate or at `lr` (a
// schedule's rate of that step).
OptimizerScalars optimizer_scalars(const OptimizerConfig& config, int64_t t);
OptimizerScalars optimizer_scalars(const OptimizerConfig& config, int64_t t, double lr);

// One step of size t (1-based). m is Adam's first moment or SGD's momentum buffer; v is Adam's
// second moment (ignored by SGD). Elements whose gradient and parameter are 0 (the layout's
// padding) stay 0. Threads: OpenMP threads for the loop.
void optimizer_step(const OptimizerConfig& config, int64_t t, std::span<float> params, std::span<const float> grad,
                    std::span<float> m, std::span<float> v, int threads);
void optimizer_step(const OptimizerConfig& config, int64_t t, double lr, std::span<float> params,
                    std::span<const float> grad, std::span<float> m, std::span<float> v, int threads);

}  // namespace cuae::cpu
