// Synthetic data sets, element by element from the counter-based Philox generator, so that any
// element is a pure function of (seed, row, column): the CPU loop here and a GPU kernel later produce
// the same data set for the same seed without sharing any generator state.
//
// Streams of uniform_at(seed, stream, i):
//   random:N,D         x[r, c] = U(kRandomStream, r*D + c)                            in [0, 1)
//   structured:N,D,K   z[r, k] = 2 U(kLatentStream, r*K + k) - 1                      latent in [-1, 1)
//                      A[c, k] = (2 U(kMixStream, c*K + k) - 1) * 2 sqrt(3 / K)        Var(A z) = 4/3
//                      b[c]    = U(kOffsetStream, c) - 0.5
//                      x[r, c] = sigmoid(sum_k A[c, k] z[r, k] + b[c])                 in (0, 1)
// The structured set lies on a K-dimensional manifold, so an autoencoder whose code has >= K units
// can drive its loss well below that of the data's mean; values in (0, 1) suit BCE.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common/random.cuh"

namespace cuae::data {

inline constexpr uint64_t kRandomStream = 0x52414E44;  // "RAND"
inline constexpr uint64_t kLatentStream = 0x4C41544E;  // "LATN"
inline constexpr uint64_t kMixStream = 0x4D495821;     // "MIX!"
inline constexpr uint64_t kOffsetStream = 0x4F464653;  // "OFFS"

CUAE_HOST_DEVICE inline float random_element(uint64_t seed, int64_t row, int64_t col, int64_t cols) {
  return rng::uniform_at(seed, kRandomStream, static_cast<uint64_t>(row * cols + col));
}

CUAE_HOST_DEVICE inline float structured_latent(uint64_t seed, int64_t row, int64_t k, int64_t latent) {
  return 2.0f * rng::uniform_at(seed, kLatentStream, static_cast<uint64_t>(row * latent + k)) - 1.0f;
}

CUAE_HOST_DEVICE inline float structured_mix(uint64_t seed, int64_t col, int64_t k, int64_t latent) {
  const float scale = 2.0f * sqrtf(3.0f / static_cast<float>(latent));
  return (2.0f * rng::uniform_at(seed, kMixStream, static_cast<uint64_t>(col * latent + k)) - 1.0f) * scale;
}

CUAE_HOST_DEVICE inline float structured_offset(uint64_t seed, int64_t col) {
  return rng::uniform_at(seed, kOffsetStream, static_cast<uint64_t>(col)) - 0.5f;
}

}  // namespace cuae::data
