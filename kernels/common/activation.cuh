// Device-side activation functions, shared by the forward epilogues (dense_forward.cu, loss.cu) and
// activation_backward.cu so that forward and backward agree on the exact FP32 formulas.
//
//   relu  max(z, 0)          sigmoid 1 / (1 + e^-z)      tanh   tanh(z)
//   linear z                 leaky   z > 0 ? z : slope·z gelu   z/2 · (1 + erf(z/√2))  (torch.nn.GELU)
//
// Derivatives come from the activation output y where that is possible (saves storing z), and from the
// stored pre-activation z for gelu: relu y > 0; leaky y > 0 ? 1 : slope (slope > 0); sigmoid y(1 − y);
// tanh 1 − y²; linear 1; gelu Φ(z) + z·φ(z).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "cuae/error.h"
#include "kernels/kernels.h"

// `#pragma unroll` for nvcc; host compilers (the SIMT emulation) would warn about an unknown pragma.
#if defined(__CUDACC__)
#define CUAE_UNROLL _Pragma("unroll")
#else
#define CUAE_UNROLL
#endif

namespace cuae::kernels {

// ---- device helpers -----------------------------------------------------------------------------

__device__ __forceinline__ float act_forward(Act act, float z, float slope) {
  switch (act) {
    case Act::relu: return z > 0.0f ? z : 0.0f;
    case Act::sigmoid: return 1.0f / (1.0f + expf(-z));
    case Act::tanh: return tanhf(z);
    case Act::linear: return z;
    case Act::leaky_relu: return z > 0.0f ? z : slope * z;
    case Act::gelu: return 0.5f * z * (1.0f + erff(z * 0.707106781186547524f));
  }
  return z;
}

// act'(z) from the output y, or from the pre-activation z for gelu (act_needs_preactivation).
__device__ __forceinline__ float act_derivative(Act act, float y, float z, float slope) {
  switch (act) {
    case Act::relu: return y > 0.0f ? 1.0f : 0.0f;
    case Act::sigmoid: return y * (1.0f - y);
    case Act::tanh: return 1.0f - y * y;
    case Act::linear: return 1.0f;
    case Act::leaky_relu: return y > 0.0f ? 1.0f : slope;
    case Act::gelu: {
      const float cdf = 0.5f * (1.0f + erff(z * 0.707106781186547524f));
      const float pdf = 0.398942280401432678f * expf(-0.5f * z * z);  // 1/√(2π) · e^(−z²/2)
      return cdf + z * pdf;
    }
  }
  return 1.0f;
}

// ---- launcher helpers (host) --------------------------------------------------------------------

// Launcher validation: throws cuae::ShapeError "<kernel>: <message>".
inline void require_shape(bool ok, const char* kernel, const std::string& message) {
  if (!ok) throw ShapeError(std::string(kernel) + ": " + message);
}
inline void require_pointer(const void* pointer, const char* kernel, const char* name, const std::string& shape) {
  if (pointer == nullptr) throw Error(std::string(kernel) + ": " + name + " is null (" + shape + ")");
}

}  // namespace cuae::kernels
