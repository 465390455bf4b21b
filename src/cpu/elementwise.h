// Elementwise maths of the CPU backend, one row at a time: bias + activation after a GEMM, the
// activation's derivative in backward, and the output layer fused with its loss.
//
// Every function handles one row of n contiguous elements; the callers parallelise over rows with
// OpenMP, so a row's result never depends on the thread count. The loops are written to vectorise
// (`omp simd`, no calls that GCC cannot vectorise): for float, exp and log1p are the polynomial
// versions below, because glibc's expf/log1pf are scalar calls without -ffast-math and would cost
// more than the GEMMs of the 784→64→784 step. double (used by the finite-difference tests) keeps
// std::exp and std::log1p: there accuracy matters, speed does not.
#pragma once

#include <cmath>
#include <cstdint>
#include <bit>

#include "cuae/model_config.h"
#include "kernels/common/activation.cuh"

// `omp simd` where OpenMP is on (the library); nothing where it is off (tests that include this header).
#ifdef _OPENMP
#define CUAE_SIMD _Pragma("omp simd")
#define CUAE_SIMD_SUM _Pragma("omp simd reduction(+ : sum)")  // every reduction here is named sum
#else
#define CUAE_SIMD
#define CUAE_SIMD_SUM
#endif

// The library is built for baseline x86-64 (SSE2); the float hot loops are compiled again for
// AVX2+FMA and AVX-512 and picked at load time (GCC function multiversioning), so one binary runs
// everywhere and uses the machine's vector width.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CUAE_VECTOR_CLONES [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")]]
#else
#define CUAE_VECTOR_CLONES
#endif

// The row functions are forced inline so that each vector clone compiles its own copy of the loop.
#define CUAE_ROW_INLINE [[gnu::always_inline]] inline

namespace cuae::cpu {

// e^x for float, ~1 ulp on [-87, 88] (arguments are clamped to it, so the result is always a normal
// number). Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, then Cephes' degree-7 polynomial for e^r.
CUAE_ROW_INLINE float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  constexpr float kShift = 12582912.0f;  // 1.5·2^23: adding it rounds x·log2(e) to an integer
  const float n = (x * 1.44269504088896341f + kShift) - kShift;
  float r = x - n * 0.693359375f;  // ln2 split in a part exact in float and a correction
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n assembled in the exponent field
  return p * std::bit_cast<float>(bits);
}

// log(1 + t) for t in [0, 1] (the softplus tail log1p(e^-|z|)), relative error < 3e-8: with
// u = t / (2 + t) in [0, 1/3], log1p(t) = 2·atanh(u) = 2u·(1 + u²/3 + u⁴/5 + ...), and seven terms
// leave (1/9)^7/15 ≈ 1.4e-8. No cancellation for small t, unlike log(1 + t).
CUAE_ROW_INLINE float log1p_unit(float t) {
  const float u = t / (2.0f + t);
  const float u2 = u * u;
  float s = 1.0f / 13;
  s = s * u2 + 1.0f / 11;
  s = s * u2 + 1.0f / 9;
  s = s * u2 + 1.0f / 7;
  s = s * u2 + 1.0f / 5;
  s = s * u2 + 1.0f / 3;
  s = s * u2 + 1.0f;
  return 2.0f * u * s;
}

CUAE_ROW_INLINE float exp_t(float x) { return exp_approx(x); }
inline double exp_t(double x) { return std::exp(x); }
CUAE_ROW_INLINE float log1p_exp_neg(float e) { return log1p_unit(e); }  // e = exp(-|z|) in (0, 1]
inline double log1p_exp_neg(double e) { return std::log1p(e); }

// y = act(y + b) in place; pre (when non-null) receives y + b.
template <typename T>
void bias_act_row(T* y, T* pre, const T* b, int64_t n, Activation a, T slope) {
  if (pre) {
CUAE_SIMD
    for (int64_t j = 0; j < n; ++j) pre[j] = y[j] + b[j];
  }
  switch (a) {
    case Activation::relu:
CUAE_SIMD
      for (int64_t j = 0; j < n; ++j) {
        y[j] = act::relu(y[j] + b[j]);
      }
      return;
    case Activation::leaky_relu:
CUAE_SIMD
      for (int64_t j = 0; j < n; ++j) {
        y[j] = act::leaky_relu(y[j] + b[j], slope);
      }
      return;
    case Activation::sigmoid:
CUAE_SIMD
      for (int64_t j = 0; j < n; ++j) y[j] = act::sigmoid_from_exp(exp_t(-(y[j] + b[j])));
      return;
    case Activation::tanh:
      for (int64_t j = 0; j < n; ++j) y[j] = act::tanh_of(y[j] + b[j]);
      return;
    case Activation::linear:
CUAE_SIMD
      for (int64_t j = 0; j < n; ++j) y[j] += b[j];
      return;
    case Activation::gelu:
      for (int64_t j = 0; j < n; ++j) y[j] = act::gelu(y[j] + b[j]);
      return;
  }
}

// dz = da ⊙ act'(·), from the layer output y (dz may alias y), or from pre where needs_preactivation.
// The derivatives are activation.cuh's, written as selections where they are 0 or 1 (the same values).
template <typename T>
void act_backward_row(const T* da, T* dz, const T* y, const T* pre, int64_t n, Activation a, T slope) {
  switch (a) {
    case Activation::relu:
CUAE_SIMD
      for (int64_t j = 0; j < n; ++j) dz[j] = y[j] > 0 ? da[j] : T(0);
      return;
    case Activation::leaky_relu:
      if (pre) {
CUAE_SIMD
        for (int64_t j = 0; j < n; ++j) {
          const T neg = slope * da[j];
          dz[j] = pre[j] > 0 ? da[j] : neg;
        }
      } else {
CUAE_SIMD
        for (int64_t j = 0; j < n; ++j) {
          const T neg = slope * da[j];
          dz[j] = y[j] > 0 ? da[j] : neg;
        }
      }
      return;
    case Activation::sigmoid:
CUAE_SIMD
      for (int64_t j = 0; j < n; ++j) dz[j] = da[j] * y[j] * (T(1) - y[j]);
      return;
    case Activation::tanh:
CUAE_SIMD
      for (int64_t j = 0; j < n; ++j) dz[j] = da[j] * (T(1) - y[j] * y[j]);
      return;
    case Activation::linear:
CUAE_SIMD
      for (int64_t j = 0; j < n; ++j) dz[j] = da[j];
      return;
    case Activation::gelu:
      for (int64_t j = 0; j < n; ++j) dz[j] = da[j] * act::gelu_derivative(pre[j]);
      return;
  }
}

// Output layer + loss on one row. z = logits without bias (the GEMM result), b the bias, x the
// target. Returns the row's summed loss. Within a row the sum runs in T across the vector lanes
// (each lane adds n/16 terms: ~1e-7 relative for 784 features, and a double accumulator would
// stop GCC vectorising); the caller adds the rows in double. When dz is non-null it receives dLoss/dz already
// multiplied by `scale` (1 / (rows·features) for a mean); dz may alias z.
//
// BCE on sigmoid(z), stable form: max(z,0) − z·x + log1p(e^−|z|); d/dz = sigmoid(z) − x, with the
// sigmoid taken from the same e^−|z| so each element costs one exp.
template <typename T>
CUAE_ROW_INLINE T bce_row(const T* z, const T* b, const T* x, T* dz, T scale, int64_t n) {
  T sum = 0;
  if (dz) {
CUAE_SIMD_SUM
    for (int64_t j = 0; j < n; ++j) {
      const T zj = z[j] + b[j];
      const T e = exp_t(-std::abs(zj));
      // Both sides of every select are computed first: GCC (trapping math) will not speculate an
      // arithmetic operation out of a conditional, and a conditional one blocks vectorisation.
      const T inv = T(1) / (T(1) + e);
      const T e_inv = e * inv;
      const T s = zj >= 0 ? inv : e_inv;
      sum += (zj > 0 ? zj : T(0)) - zj * x[j] + log1p_exp_neg(e);
      dz[j] = (s - x[j]) * scale;
    }
  } else {
CUAE_SIMD_SUM
    for (int64_t j = 0; j < n; ++j) {
      const T zj = z[j] + b[j];
      const T e = exp_t(-std::abs(zj));
      sum += (zj > 0 ? zj : T(0)) - zj * x[j] + log1p_exp_neg(e);
    }
  }
  return sum;
}

// MSE on y = out_act(z) (sigmoid or linear): (y − x)²; d/dz = 2(y − x)·out_act'(y).
template <typename T>
CUAE_ROW_INLINE T mse_row(const T* z, const T* b, const T* x, T* dz, T scale, int64_t n, Activation out_act) {
  T sum = 0;
  const T two_scale = 2 * scale;
  if (out_act == Activation::sigmoid) {
CUAE_SIMD_SUM
    for (int64_t j = 0; j < n; ++j) {
      const T y = T(1) / (T(1) + exp_t(-(z[j] + b[j])));
      const T d = y - x[j];
      sum += d * d;
      if (dz) dz[j] = two_scale * d * y * (T(1) - y);
    }
  } else {
CUAE_SIMD_SUM
    for (int64_t j = 0; j < n; ++j) {
      const T d = z[j] + b[j] - x[j];
      sum += d * d;
      if (dz) dz[j] = two_scale * d;
    }
  }
  return sum;
}

}  // namespace cuae::cpu
