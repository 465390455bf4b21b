// Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_, Keras global_clipnorm), graph-capturable.
//
//   ‖g‖ = √(Σ g_i²)  over the whole flat gradient (padding floats are zero and add nothing)
//   coef = max_norm / (‖g‖ + 1e-6);  scale = coef < 1 ? float(coef) : 1   (a NaN norm leaves scale = 1)
// The scale goes to OptimizerStepState::grad_scale in device memory, and the optimizer kernels multiply
// each gradient element by it, so clipping costs no extra pass that writes the gradient and no host
// synchronisation. That matches the CPU backend, which multiplies the gradient by the same float.
//
// Determinism: squares are summed in double, in an order fixed by the element count only. Stage 1,
// sum_squares_kernel: 256-thread blocks (grad_clip_partials_size(count) of them, ≤ 1024); thread t sums
// the elements t, t + grid, ... and each block reduces in a fixed shared-memory tree into
// partials[block]. Stage 2, clip_scale_kernel: one block sums the partials in a fixed order and writes
// the scale. No atomics, so every run gives the same bits; the sum differs from the CPU backend's
// serial double sum only by double rounding.
//
// Layout: grads is a flat array of `count` floats; partials holds grad_clip_partials_size(count) doubles.
// Per element: 1 FMA in double; 4 bytes read. Memory-bound: count · 4 bytes, one read of the gradient.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/common/activation.cuh"
#include "kernels/common/block_sum.cuh"
#include "kernels/kernels.h"
#include "kernels/common/launch.cuh"

namespace cuae::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1024;

__global__ void sum_squares_kernel(GradClipParams p) {
  __shared__ double sums[kThreads];
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  double sum = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.count; i += stride) {
    const double g = p.grads[i];
    sum += g * g;
  }
  sum = block_sum_fixed_tree<kThreads>(sum, sums);
  if (threadIdx.x == 0) p.partials[blockIdx.x] = sum;
}

__global__ void clip_scale_kernel(GradClipParams p, int partial_count) {
  __shared__ double sums[kThreads];
  double sum = 0.0;
  for (int i = static_cast<int>(threadIdx.x); i < partial_count; i += kThreads) sum += p.partials[i];
  sum = block_sum_fixed_tree<kThreads>(sum, sums);
  if (threadIdx.x == 0) {
    const double coef = static_cast<double>(p.max_norm) / (sqrt(sum) + 1e-6);
    p.state->grad_scale = coef < 1.0 ? static_cast<float>(coef) : 1.0f;
  }
}

}  // namespace

int64_t grad_clip_partials_size(int64_t count) {
  if (count <= 0) return 0;
  return std::min<int64_t>((count + kThreads - 1) / kThreads, kMaxBlocks);
}

void grad_clip_scale(const GradClipParams& p, cudaStream_t stream) {
  const char* kernel = "grad_clip_scale";
  const std::string shape = "count=" + std::to_string(p.count);
  require_shape(p.count >= 0, kernel, "negative element count " + shape);
  require_shape(p.max_norm > 0 && std::isfinite(p.max_norm), kernel,
                "max_norm must be finite and > 0, got " + std::to_string(p.max_norm));
  require_pointer(p.state, kernel, "state", shape);
  if (p.count == 0) return;  // no gradient: grad_scale keeps its value
  require_pointer(p.grads, kernel, "grads", shape);
  require_pointer(p.partials, kernel, "partials", shape);
  const int64_t blocks = grad_clip_partials_size(p.count);
  launch("grad_clip_sum_squares", sum_squares_kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream,
         p);
  launch("grad_clip_scale", clip_scale_kernel, dim3(1), dim3(kThreads), 0, stream, p, static_cast<int>(blocks));
}

}  // namespace cuae::kernels
