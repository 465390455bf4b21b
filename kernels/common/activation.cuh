// The activation formulas, once, for every scalar type and every caller: the CUDA kernels (float),
// the CPU backend's row passes (float, inside vectorised loops) and the double-precision test
// references. The list itself is cuae::Activation (include/cuae/activation.h).
//
//   relu   max(z, 0)             sigmoid 1 / (1 + e^-z)       tanh  tanh(z)
//   linear z                     leaky   z > 0 ? z : slope·z  gelu  z/2 · (1 + erf(z/√2))  (torch.nn.GELU)
//
// Derivatives come from what backward keeps (`saved`): the output y where act' can be recovered from
// it, the pre-activation z where needs_preactivation() says it cannot:
//   relu, leaky  saved > 0 ? 1 : (0 or slope)    (sign(y) = sign(z) for slope ≥ 0)
//   sigmoid y(1 − y);  tanh 1 − y²;  linear 1;  gelu Φ(z) + z·φ(z)
#pragma once

#include <cmath>

#include "cuae/activation.h"
#include "kernels/common/portable.cuh"

namespace cuae::act {

// Elementary functions by scalar type: the float versions are the CUDA device functions (and libm's
// under the host SIMT emulation), the double versions libm's.
CUAE_HOST_DEVICE inline float exp_of(float x) { return expf(x); }
CUAE_HOST_DEVICE inline double exp_of(double x) { return exp(x); }
CUAE_HOST_DEVICE inline float tanh_of(float x) { return tanhf(x); }
CUAE_HOST_DEVICE inline double tanh_of(double x) { return tanh(x); }
CUAE_HOST_DEVICE inline float erf_of(float x) { return erff(x); }
CUAE_HOST_DEVICE inline double erf_of(double x) { return erf(x); }

template <typename T>
CUAE_HOST_DEVICE inline T relu(T z) {
  return z > T(0) ? z : T(0);
}
template <typename T>
CUAE_HOST_DEVICE inline T leaky_relu(T z, T slope) {
  const T negative = slope * z;  // both sides computed first: a select vectorises, a branch does not
  return z > T(0) ? z : negative;
}
// 1 / (1 + e^-z) given e^-z, so that a caller with its own exp (the CPU's vector polynomial) shares it.
template <typename T>
CUAE_HOST_DEVICE inline T sigmoid_from_exp(T exp_neg_z) {
  return T(1) / (T(1) + exp_neg_z);
}
template <typename T>
CUAE_HOST_DEVICE inline T sigmoid(T z) {
  return sigmoid_from_exp(exp_of(-z));
}
template <typename T>
CUAE_HOST_DEVICE inline T gelu(T z) {
  return T(0.5) * z * (T(1) + erf_of(z * T(0.70710678118654752440)));  // 1/√2
}
template <typename T>
CUAE_HOST_DEVICE inline T gelu_derivative(T z) {
  const T cdf = T(0.5) * (T(1) + erf_of(z * T(0.70710678118654752440)));
  const T pdf = T(0.39894228040143267794) * exp_of(T(-0.5) * z * z);  // 1/√(2π) · e^(−z²/2)
  return cdf + z * pdf;
}

template <typename T>
CUAE_HOST_DEVICE inline T forward(Activation a, T z, T slope) {
  switch (a) {
    case Activation::relu: return relu(z);
    case Activation::sigmoid: return sigmoid(z);
    case Activation::tanh: return tanh_of(z);
    case Activation::linear: return z;
    case Activation::leaky_relu: return leaky_relu(z, slope);
    case Activation::gelu: return gelu(z);
  }
  return z;
}

// act'(z) from `saved`: z where needs_preactivation(a, slope), the output y otherwise.
template <typename T>
CUAE_HOST_DEVICE inline T derivative_from_saved(Activation a, T saved, T slope) {
  switch (a) {
    case Activation::relu: return saved > T(0) ? T(1) : T(0);
    case Activation::sigmoid: return saved * (T(1) - saved);
    case Activation::tanh: return T(1) - saved * saved;
    case Activation::linear: return T(1);
    case Activation::leaky_relu: return saved > T(0) ? T(1) : slope;
    case Activation::gelu: return gelu_derivative(saved);
  }
  return T(1);
}

// act'(z) from z itself (the references, which keep z for every activation).
template <typename T>
CUAE_HOST_DEVICE inline T derivative(Activation a, T z, T slope) {
  if (a == Activation::sigmoid || a == Activation::tanh) return derivative_from_saved(a, forward(a, z, slope), slope);
  return derivative_from_saved(a, z, slope);
}

}  // namespace cuae::act
