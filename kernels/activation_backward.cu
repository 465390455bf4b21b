// Activation backward: dz = dy ⊙ act'(z), with act'(z) taken from the activation output y, or from
// the stored pre-activation z where needs_preactivation(act, slope) (gelu; leaky_relu with a negative
// slope); kernels/common/activation.cuh has the formulas. In place is allowed (dz may alias dy).
//
// Layout: dy, y, pre and dz are flat arrays of `count` floats (rows · features).
// Launch shape: 256-thread blocks, grid-stride over 4-element quads (≤ 4096 blocks); float4 loads and
// stores when every pointer used is 16-byte aligned, element by element otherwise.
// Per element: 1–3 FLOPs (gelu: erf + exp ≈ 30). Bytes: 12 (dy, y or pre, dz); linear: 8.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/common/activation.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/kernels.h"

namespace cuae::kernels {
namespace {

// ---- device helpers -----------------------------------------------------------------------------

// `saved` is what act'() is computed from (see activation.cuh).
__device__ __forceinline__ float backward_element(Activation act, float dy, float saved, float slope) {
  return dy * act::derivative_from_saved(act, saved, slope);
}

// ---- kernels ------------------------------------------------------------------------------------

__global__ void activation_backward_kernel(ActBackwardParams p, const float* __restrict__ saved, bool vec) {
  const int64_t quads = (p.count + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    const int64_t i = 4 * q;
    if (vec && i + 4 <= p.count) {
      const float4 dy = *reinterpret_cast<const float4*>(p.dy + i);
      const float4 s = *reinterpret_cast<const float4*>(saved + i);
      *reinterpret_cast<float4*>(p.dz + i) =
          make_float4(backward_element(p.act, dy.x, s.x, p.slope), backward_element(p.act, dy.y, s.y, p.slope),
                      backward_element(p.act, dy.z, s.z, p.slope), backward_element(p.act, dy.w, s.w, p.slope));
    } else {
      for (int64_t e = i; e < i + 4 && e < p.count; ++e) p.dz[e] = backward_element(p.act, p.dy[e], saved[e], p.slope);
    }
  }
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------

void activation_backward(const ActBackwardParams& p, cudaStream_t stream) {
  const char* kernel = "activation_backward";
  const std::string shape = "count=" + std::to_string(p.count) + ", " + std::string(activation_name(p.act));
  require_shape(p.count >= 0, kernel, "negative element count " + shape);
  if (p.count == 0) return;
  require_pointer(p.dy, kernel, "dy", shape);
  require_pointer(p.dz, kernel, "dz", shape);
  const bool from_pre = needs_preactivation(p.act, p.slope);
  const float* saved = from_pre ? p.pre : p.y;
  require_pointer(saved, kernel, from_pre ? "pre" : "y", shape);
  const bool vec = aligned16(p.dy) && aligned16(saved) && aligned16(p.dz);
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>(((p.count + 3) / 4 + kThreads - 1) / kThreads, 4096);
  launch(kernel, activation_backward_kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, p, saved, vec);
}

}  // namespace cuae::kernels
