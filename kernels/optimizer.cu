// Optimizer steps over all parameters held in one flat buffer, graph-capturable.
//
// optimizer_begin_kernel (1 thread) advances the device-resident OptimizerStepState: step t += 1,
// then, in double precision as PyTorch computes them on the host,
//   bc1 = 1 − β1^t, bc2 = 1 − β2^t, bias_correction2_sqrt = √bc2,
//   step_size = lr / bc1            (Keras epsilon-hat: lr · √bc2 / bc1),
// and batch += 1 (it runs after the step's gather and loss, so it selects the next batch).
// adam_update_kernel, per element (torch.optim.Adam / AdamW, foreach=False):
//   g = grad · grad_scale (+ wd·p unless decoupled);  p *= 1 − lr·wd if decoupled (AdamW)
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p −= step_size · m / (√v / bias_correction2_sqrt + eps)     (epsilon-hat: / (√v + eps))
// sgd_update_kernel (torch.optim.SGD, dampening 0, no nesterov):
//   g = grad · grad_scale + wd·p;  b = (t == 1 ? g : μ·b + g) when μ ≠ 0, else b = g;  p −= lr·b
// The scalars that change every step come from the state in device memory, so the same launch
// replays correctly from a captured CUDA graph. grad_scale is 1, or the global-norm clip factor that
// grad_clip.cu wrote for this step: clipping as a multiply on the gradient's way into the update.
//
// Layout: params, grads, m, v, momentum are flat arrays of `count` floats.
// Launch shape: 256-thread blocks, grid-stride over 4-element quads (≤ 4096 blocks); float4 when every
// buffer is 16-byte aligned, element by element otherwise.
// Per element: Adam ~12 FLOPs + 1 sqrt + 1 div, 28 bytes (read p, g, m, v; write p, m, v).
//              SGD ~4 FLOPs, 20 bytes with momentum (read p, g, b; write p, b), 12 without.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/common/activation.cuh"
#include "kernels/kernels.h"
#include "kernels/common/launch.cuh"

namespace cuae::kernels {
namespace {

constexpr int kThreads = 256;

// Per-launch constants, converted to float once on the host the way PyTorch casts Python scalars.
struct AdamConstants {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay;  // decay = 1 − lr·wd
  bool decoupled, epsilon_hat;
};

// ---- device helpers -----------------------------------------------------------------------------

__device__ __forceinline__ void adam_element(float& p, float g, float& m, float& v, const AdamConstants& c,
                                             float step_size, float bc2_sqrt) {
  if (c.decoupled) {
    p *= c.decay;
  } else if (c.weight_decay != 0.0f) {
    g += c.weight_decay * p;
  }
  m = c.beta1 * m + c.one_minus_beta1 * g;
  v = c.beta2 * v + c.one_minus_beta2 * g * g;
  const float denom = c.epsilon_hat ? sqrtf(v) + c.eps : sqrtf(v) / bc2_sqrt + c.eps;
  p -= step_size * (m / denom);
}

__device__ __forceinline__ void sgd_element(float& p, float g, float* buf, float lr, float mu, float wd, bool first) {
  if (wd != 0.0f) g += wd * p;
  if (buf != nullptr) {
    *buf = first ? g : mu * *buf + g;
    g = *buf;
  }
  p -= lr * g;
}

// Four gradient elements times the step's clip factor (exactly g when grad_scale is 1).
__device__ __forceinline__ float4 scaled_grads4(const float* grads, float grad_scale) {
  const float4 g = *reinterpret_cast<const float4*>(grads);
  return make_float4(g.x * grad_scale, g.y * grad_scale, g.z * grad_scale, g.w * grad_scale);
}

// ---- kernels ------------------------------------------------------------------------------------

__global__ void optimizer_begin_kernel(OptimizerStepState* state, double lr, double beta1, double beta2,
                                       bool epsilon_hat) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  const int64_t t = state->step + 1;
  const double bc1 = 1.0 - pow(beta1, static_cast<double>(t));
  const double bc2 = 1.0 - pow(beta2, static_cast<double>(t));
  state->step = t;
  state->bias_correction2_sqrt = sqrt(bc2);
  state->step_size = epsilon_hat ? lr * sqrt(bc2) / bc1 : lr / bc1;
  state->batch += 1;
}

__global__ void adam_update_kernel(AdamParams p, AdamConstants c, bool vec) {
  const float step_size = static_cast<float>(p.state->step_size);
  const float bc2_sqrt = static_cast<float>(p.state->bias_correction2_sqrt);
  const float grad_scale = p.state->grad_scale;
  const int64_t quads = (p.count + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= p.count) {
      float4 w = *reinterpret_cast<const float4*>(p.params + i);
      const float4 g = scaled_grads4(p.grads + i, grad_scale);
      float4 m = *reinterpret_cast<const float4*>(p.m + i);
      float4 v = *reinterpret_cast<const float4*>(p.v + i);
      adam_element(w.x, g.x, m.x, v.x, c, step_size, bc2_sqrt);
      adam_element(w.y, g.y, m.y, v.y, c, step_size, bc2_sqrt);
      adam_element(w.z, g.z, m.z, v.z, c, step_size, bc2_sqrt);
      adam_element(w.w, g.w, m.w, v.w, c, step_size, bc2_sqrt);
      *reinterpret_cast<float4*>(p.params + i) = w;
      *reinterpret_cast<float4*>(p.m + i) = m;
      *reinterpret_cast<float4*>(p.v + i) = v;
    } else {
      for (int64_t e = i; e < i + 4 && e < p.count; ++e)
        adam_element(p.params[e], p.grads[e] * grad_scale, p.m[e], p.v[e], c, step_size, bc2_sqrt);
    }
  }
}

__global__ void sgd_update_kernel(SgdParams p, bool vec) {
  const bool first = p.state->step == 1;
  const float grad_scale = p.state->grad_scale;
  const float lr = p.lr, mu = p.momentum_factor, wd = p.weight_decay;
  float* momentum = mu != 0.0f ? p.momentum : nullptr;
  const int64_t quads = (p.count + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= p.count) {
      float4 w = *reinterpret_cast<const float4*>(p.params + i);
      const float4 g = scaled_grads4(p.grads + i, grad_scale);
      float4 b = momentum != nullptr ? *reinterpret_cast<const float4*>(momentum + i) : make_float4(0, 0, 0, 0);
      float* bp = momentum != nullptr ? &b.x : nullptr;
      sgd_element(w.x, g.x, bp, lr, mu, wd, first);
      sgd_element(w.y, g.y, bp ? &b.y : nullptr, lr, mu, wd, first);
      sgd_element(w.z, g.z, bp ? &b.z : nullptr, lr, mu, wd, first);
      sgd_element(w.w, g.w, bp ? &b.w : nullptr, lr, mu, wd, first);
      *reinterpret_cast<float4*>(p.params + i) = w;
      if (momentum != nullptr) *reinterpret_cast<float4*>(momentum + i) = b;
    } else {
      for (int64_t e = i; e < i + 4 && e < p.count; ++e)
        sgd_element(p.params[e], p.grads[e] * grad_scale, momentum != nullptr ? momentum + e : nullptr, lr, mu, wd, first);
    }
  }
}

unsigned elementwise_blocks(int64_t count) {
  return static_cast<unsigned>(std::min<int64_t>(((count + 3) / 4 + kThreads - 1) / kThreads, 4096));
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------

void optimizer_begin(const AdamParams& p, cudaStream_t stream) {
  require_pointer(p.state, "optimizer_begin", "state", "count=" + std::to_string(p.count));
  launch("optimizer_begin", optimizer_begin_kernel, dim3(1), dim3(1), 0, stream, p.state, static_cast<double>(p.lr),
         static_cast<double>(p.beta1), static_cast<double>(p.beta2), p.epsilon_hat);
}

void adam_update(const AdamParams& p, cudaStream_t stream) {
  const char* kernel = "adam_update";
  const std::string shape = "count=" + std::to_string(p.count);
  require_shape(p.count >= 0, kernel, "negative element count " + shape);
  require_pointer(p.state, kernel, "state", shape);
  if (p.count == 0) return;
  require_pointer(p.params, kernel, "params", shape);
  require_pointer(p.grads, kernel, "grads", shape);
  require_pointer(p.m, kernel, "m", shape);
  require_pointer(p.v, kernel, "v", shape);
  const double lr = p.lr, wd = p.weight_decay;
  const AdamConstants c{p.beta1,
                        static_cast<float>(1.0 - static_cast<double>(p.beta1)),
                        p.beta2,
                        static_cast<float>(1.0 - static_cast<double>(p.beta2)),
                        p.eps,
                        p.weight_decay,
                        static_cast<float>(1.0 - lr * wd),
                        p.decoupled_weight_decay,
                        p.epsilon_hat};
  const bool vec = aligned16(p.params) && aligned16(p.grads) && aligned16(p.m) && aligned16(p.v);
  launch(kernel, adam_update_kernel, dim3(elementwise_blocks(p.count)), dim3(kThreads), 0, stream, p, c, vec);
}

void sgd_update(const SgdParams& p, cudaStream_t stream) {
  const char* kernel = "sgd_update";
  const std::string shape = "count=" + std::to_string(p.count);
  require_shape(p.count >= 0, kernel, "negative element count " + shape);
  require_pointer(p.state, kernel, "state", shape);
  if (p.count == 0) return;
  require_pointer(p.params, kernel, "params", shape);
  require_pointer(p.grads, kernel, "grads", shape);
  if (p.momentum_factor != 0.0f) require_pointer(p.momentum, kernel, "momentum", shape);
  const bool vec = aligned16(p.params) && aligned16(p.grads) && aligned16(p.momentum);
  launch(kernel, sgd_update_kernel, dim3(elementwise_blocks(p.count)), dim3(kThreads), 0, stream, p, vec);
}

}  // namespace cuae::kernels
