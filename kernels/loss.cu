// Output activation fused with the loss and its gradient, with a deterministic loss reduction.
//
//   bce (out_act sigmoid), from the logits z and the target x, with e = exp(−|z|):
//     loss_e = max(z, 0) − z·x + log1p(e)                 (the stable logits form)
//     dz     = (sigmoid(z) − x) · grad_scale,  sigmoid(z) = z ≥ 0 ? 1/(1+e) : e/(1+e)
//   mse: y = out_act(z), loss_e = (y − x)², dz = 2(y − x) · out_act'(y) · grad_scale
//   loss_out[loss_index ? *loss_index : 0] = loss_scale · Σ loss_e
//
// Layout: z, target and grad are flat arrays of `count` floats (rows · features, row-major).
// Launch shape: loss_partials_kernel, 256 threads × loss_partials_size(count) blocks (≤ 1024). Thread
// t of the grid takes the 4-element "quads" t, t + grid, ... (float4 loads and stores when the three
// pointers are 16-byte aligned; element by element otherwise, in the same order so both paths sum
// identically), sums its elements in FP32, and each block reduces its 256 sums with warp shuffles and
// shared memory in a fixed tree into partials[block]. Then loss_finalize_kernel, one block of 256
// threads, sums the partials in a fixed order in double precision. No float atomics: the same input
// gives a bit-identical loss on every run.
//
// Per element: bce ~ 1 exp + 1 log1p + 1 division + 8 FLOPs; mse ~ 5 FLOPs (+ sigmoid: 1 exp + 1 div).
// Bytes per element: 8 read (z, x) + 4 written (grad; 0 when grad is null). Memory-bound.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/common/activation.cuh"
#include "kernels/common/block_sum.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/kernels.h"

namespace cuae::kernels {
namespace {

constexpr int kLossThreads = 256;         // a multiple of 32: the block reduction works per warp
constexpr int64_t kLossMaxBlocks = 1024;  // enough to fill any current GPU; partials stay small
constexpr int kFinalizeThreads = 256;

// ---- device helpers -----------------------------------------------------------------------------

// The element loss and dz (the gradient before grad_scale is applied by the caller).
__device__ __forceinline__ float loss_element(Loss kind, Activation out_act, float z, float x, float grad_scale,
                                              float* grad) {
  if (kind == Loss::bce) {
    const float e = expf(-fabsf(z));
    const float sigmoid = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    *grad = (sigmoid - x) * grad_scale;
    return fmaxf(z, 0.0f) - z * x + log1pf(e);
  }
  const float y = act::forward(out_act, z, 0.0f);
  const float diff = y - x;
  *grad = 2.0f * diff * act::derivative_from_saved(out_act, y, 0.0f) * grad_scale;
  return diff * diff;
}

// Sum over the block in a fixed tree: warp shuffles, then warp 0 over the per-warp sums.
// The result is valid in thread 0.
__device__ __forceinline__ float block_sum(float value) {
  __shared__ float warp_sums[kLossThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < kLossThreads / 32 ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  return value;
}

// ---- kernels ------------------------------------------------------------------------------------

__global__ void loss_partials_kernel(LossParams p, bool vec) {
  const int64_t quads = (p.count + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  float sum = 0.0f;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= p.count) {
      const float4 z = *reinterpret_cast<const float4*>(p.z + i);
      const float4 x = *reinterpret_cast<const float4*>(p.target + i);
      float4 g;
      sum += loss_element(p.loss, p.out_act, z.x, x.x, p.grad_scale, &g.x);
      sum += loss_element(p.loss, p.out_act, z.y, x.y, p.grad_scale, &g.y);
      sum += loss_element(p.loss, p.out_act, z.z, x.z, p.grad_scale, &g.z);
      sum += loss_element(p.loss, p.out_act, z.w, x.w, p.grad_scale, &g.w);
      if (p.grad != nullptr) *reinterpret_cast<float4*>(p.grad + i) = g;
    } else {
      for (int64_t e = i; e < i + 4 && e < p.count; ++e) {
        float g;
        sum += loss_element(p.loss, p.out_act, p.z[e], p.target[e], p.grad_scale, &g);
        if (p.grad != nullptr) p.grad[e] = g;
      }
    }
  }
  sum = block_sum(sum);
  if (threadIdx.x == 0) p.partials[blockIdx.x] = sum;
}

// One block: thread t sums partials t, t + 256, ... in order, then a fixed shared-memory tree.
__global__ void loss_finalize_kernel(LossParams p, int partial_count) {
  __shared__ double sums[kFinalizeThreads];
  double sum = 0.0;
  for (int i = static_cast<int>(threadIdx.x); i < partial_count; i += kFinalizeThreads) sum += p.partials[i];
  sum = block_sum_fixed_tree<kFinalizeThreads>(sum, sums);
  if (threadIdx.x == 0) {
    const int64_t index = p.loss_index != nullptr ? *p.loss_index : 0;
    p.loss_out[index] = static_cast<float>(sum * static_cast<double>(p.loss_scale));
  }
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------

int64_t loss_partials_size(int64_t count) {
  if (count <= 0) return 0;
  return std::min<int64_t>((count + 4 * kLossThreads - 1) / (4 * kLossThreads), kLossMaxBlocks);
}

void loss_forward_backward(const LossParams& p, cudaStream_t stream) {
  const char* kernel = "loss_forward_backward";
  const std::string shape = "count=" + std::to_string(p.count);
  require_shape(p.count >= 0, kernel, "negative element count " + shape);
  require_shape(loss_accepts_output(p.loss, p.out_act), kernel,
                std::string(loss_name(p.loss)) + " is not defined on a " + std::string(activation_name(p.out_act)) +
                    " output");
  if (p.count == 0) return;  // no elements: nothing is launched and loss_out is left as it is
  require_pointer(p.z, kernel, "z", shape);
  require_pointer(p.target, kernel, "target", shape);
  require_pointer(p.partials, kernel, "partials", shape);
  require_pointer(p.loss_out, kernel, "loss_out", shape);
  const bool vec = aligned16(p.z) && aligned16(p.target) && aligned16(p.grad);
  const int64_t blocks = loss_partials_size(p.count);
  launch("loss_partials", loss_partials_kernel, dim3(static_cast<unsigned>(blocks)), dim3(kLossThreads), 0, stream, p,
         vec);
  launch("loss_finalize", loss_finalize_kernel, dim3(1), dim3(kFinalizeThreads), 0, stream, p,
         static_cast<int>(blocks));
}

}  // namespace cuae::kernels
