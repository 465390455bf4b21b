// Adam and SGD as torch.optim computes them: the tensor arithmetic in float, in PyTorch's order
// (mul_ then add_, sqrt(v) / sqrt(bc2) + eps, addcdiv), the step scalars in double.
#include "cpu/optimizer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cpu/elementwise.h"  // CUAE_VECTOR_CLONES
#include "cuae/error.h"
#include "engine/schedule.h"  // decimal_double

namespace cuae::cpu {

OptimizerScalars optimizer_scalars(const OptimizerConfig& config, int64_t t) {
  return optimizer_scalars(config, t, decimal_double(config.lr));
}

OptimizerScalars optimizer_scalars(const OptimizerConfig& config, int64_t t, double lr) {
  const double beta1 = decimal_double(config.beta1);
  const double beta2 = decimal_double(config.beta2);
  const double wd = decimal_double(config.weight_decay);
  OptimizerScalars s;
  s.beta1 = static_cast<float>(beta1);
  s.one_minus_beta1 = static_cast<float>(1 - beta1);
  s.beta2 = static_cast<float>(beta2);
  s.one_minus_beta2 = static_cast<float>(1 - beta2);
  s.eps = static_cast<float>(decimal_double(config.eps));
  s.weight_decay = config.decoupled_weight_decay ? 0.0f : static_cast<float>(wd);
  s.decay_factor = config.decoupled_weight_decay ? static_cast<float>(1 - lr * wd) : 1.0f;
  if (config.kind == OptimizerKind::sgd) {
    s.step_size = static_cast<float>(lr);
    return s;
  }
  const double bc1 = 1 - std::pow(beta1, static_cast<double>(t));
  const double bc2 = 1 - std::pow(beta2, static_cast<double>(t));
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bc2));
  s.step_size = static_cast<float>(config.epsilon_hat ? lr * std::sqrt(bc2) / bc1 : lr / bc1);
  return s;
}

namespace {

// The update of elements [0, n), called per thread on its own contiguous range. v >= 0, so sqrt
// never sets errno; no-math-errno (with the builtin, expanded in this function's options) lets GCC
// use vector sqrt instead of a libm call per element.
CUAE_VECTOR_CLONES [[gnu::optimize("no-math-errno")]] void adam_range(const OptimizerScalars s, bool eps_hat,
                                                                      int64_t n, float* p, const float* g_in,
                                                                      float* m, float* v) {
  if (eps_hat) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float g = g_in[i] + s.weight_decay * p[i];
      const float pi = p[i] * s.decay_factor;
      m[i] = m[i] * s.beta1 + g * s.one_minus_beta1;
      v[i] = v[i] * s.beta2 + g * g * s.one_minus_beta2;
      p[i] = pi - s.step_size * (m[i] / (__builtin_sqrtf(v[i]) + s.eps));
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float g = g_in[i] + s.weight_decay * p[i];
      const float pi = p[i] * s.decay_factor;
      m[i] = m[i] * s.beta1 + g * s.one_minus_beta1;
      v[i] = v[i] * s.beta2 + g * g * s.one_minus_beta2;
      p[i] = pi - s.step_size * (m[i] / (__builtin_sqrtf(v[i]) / s.bias_correction2_sqrt + s.eps));
    }
  }
}

CUAE_VECTOR_CLONES void sgd_range(const OptimizerScalars s, float momentum, bool first, int64_t n, float* p,
                                  const float* g_in, float* buf) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    float g = g_in[i] + s.weight_decay * p[i];
    const float pi = p[i] * s.decay_factor;
    if (momentum != 0) {
      buf[i] = first ? g : momentum * buf[i] + g;
      g = buf[i];
    }
    p[i] = pi - s.step_size * g;
  }
}

}  // namespace

void optimizer_step(const OptimizerConfig& config, int64_t t, std::span<float> params, std::span<const float> grad,
                    std::span<float> m, std::span<float> v, int threads) {
  optimizer_step(config, t, decimal_double(config.lr), params, grad, m, v, threads);
}

void optimizer_step(const OptimizerConfig& config, int64_t t, double lr, std::span<float> params,
                    std::span<const float> grad, std::span<float> m, std::span<float> v, int threads) {
  const bool adam = config.kind == OptimizerKind::adam;
  if (t < 1 || grad.size() != params.size() || m.size() != params.size() || (adam && v.size() != params.size()))
    throw Error("optimizer_step: step " + std::to_string(t) + ", " + std::to_string(params.size()) +
                " parameters, gradient " + std::to_string(grad.size()) + ", m " + std::to_string(m.size()) +
                ", v " + std::to_string(v.size()) + " (sizes must agree, step >= 1)");
  const OptimizerScalars s = optimizer_scalars(config, t, lr);
  const int64_t n = static_cast<int64_t>(params.size());
  // Contiguous ranges split on 16-float (64-byte) boundaries: no two threads write one cache line.
  constexpr int64_t kLine = 16;
  const int64_t lines = (n + kLine - 1) / kLine;
  // One thread below ~a quarter million parameters (the 784→64→784 model has 100k): the update is a
  // few tens of microseconds there, less than a fork/join costs on a loaded machine.
  constexpr int64_t kParallelMin = int64_t{1} << 18;
  const int team = n >= kParallelMin ? threads : 1;
#pragma omp parallel num_threads(team) if (team > 1)
  {
    const int64_t th = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t i0 = std::min(n, lines * th / nt * kLine), i1 = std::min(n, lines * (th + 1) / nt * kLine);
    if (i1 > i0) {
      if (adam) {
        adam_range(s, config.epsilon_hat, i1 - i0, params.data() + i0, grad.data() + i0, m.data() + i0, v.data() + i0);
      } else {
        sgd_range(s, config.beta1, t == 1, i1 - i0, params.data() + i0, grad.data() + i0, m.data() + i0);
      }
    }
  }
}

}  // namespace cuae::cpu
