// Counter-based random numbers and a random permutation, identical on host and device.
//
// philox4x32_10: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11), the generator
// behind cuRAND's and PyTorch's Philox. Given (counter, key) it returns four 32-bit words, so element i
// of any random stream is computed independently: synthetic data is the same on every backend.
//
// permute_index(i, n, key): a bijection on [0, n) from a 4-round Feistel network over the next power
// of four, with cycle-walking back into range. Each epoch's shuffle is permute_index(., n, epoch_key),
// computed per row by whoever needs it (the CPU loop or the GPU gather kernel): no permutation array is
// built, sorted or copied. Cost: ~4 rounds x (1 + expected walks < 2) multiply-hash steps per row.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common/portable.cuh"

namespace cuae::rng {

struct Philox4 {
  uint32_t x, y, z, w;
};

CUAE_HOST_DEVICE inline uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

CUAE_HOST_DEVICE inline Philox4 philox4x32_10(Philox4 counter, uint32_t key0, uint32_t key1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(kMul0, counter.x, &hi0);
    const uint32_t lo1 = mulhilo32(kMul1, counter.z, &hi1);
    counter = {hi1 ^ counter.y ^ key0, lo1, hi0 ^ counter.w ^ key1, lo0};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// Four uniforms in [0, 1) (24-bit mantissa, never 1.0) for the 4-element block `block` of stream `seed`.
CUAE_HOST_DEVICE inline void uniform4(uint64_t seed, uint64_t stream, uint64_t block, float out[4]) {
  const Philox4 bits = philox4x32_10({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                      static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)},
                                     static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  constexpr float kScale = 1.0f / 16777216.0f;  // 2^-24
  out[0] = static_cast<float>(bits.x >> 8) * kScale;
  out[1] = static_cast<float>(bits.y >> 8) * kScale;
  out[2] = static_cast<float>(bits.z >> 8) * kScale;
  out[3] = static_cast<float>(bits.w >> 8) * kScale;
}

// Element i of the uniform [0, 1) stream (seed, stream).
CUAE_HOST_DEVICE inline float uniform_at(uint64_t seed, uint64_t stream, uint64_t i) {
  float four[4];
  uniform4(seed, stream, i >> 2, four);
  return four[i & 3];
}

// The random draws of training steps: input corruption, dropout masks, a VAE's ε. Stream
// (purpose, step, layer) of the model's seed holds the draws of one optimizer step t (1-based) for one
// layer, so every draw is keyed by (seed, step, element): runs reproduce, resume exactly, and every
// backend draws the same numbers. The purpose in the top byte keeps these streams apart from the
// initial weights' (2l and 2l + 1).
enum class DrawPurpose : uint32_t { input_noise = 1, dropout = 2, latent = 3 };

CUAE_HOST_DEVICE inline uint64_t draw_stream(DrawPurpose purpose, int64_t step, int layer) {
  return (static_cast<uint64_t>(purpose) << 56) | (static_cast<uint64_t>(layer & 0xff) << 48) |
         (static_cast<uint64_t>(step) & ((uint64_t{1} << 48) - 1));
}

// Element i of the standard normal stream (seed, stream): Box–Muller on uniforms 2i and 2i + 1, in
// double (so host and device agree to the last float bit wherever their double log, sqrt and cos do).
CUAE_HOST_DEVICE inline float normal_at(uint64_t seed, uint64_t stream, uint64_t i) {
  const double u1 = 1.0 - static_cast<double>(uniform_at(seed, stream, 2 * i));  // (0, 1]: log is finite
  const double u2 = static_cast<double>(uniform_at(seed, stream, 2 * i + 1));
  return static_cast<float>(sqrt(-2.0 * log(u1)) * cos(6.283185307179586477 * u2));
}

CUAE_HOST_DEVICE inline uint32_t feistel_round(uint32_t half, uint32_t key, uint32_t round) {
  const Philox4 bits = philox4x32_10({half, round, 0u, 0u}, key, 0x85EBCA6Bu);
  return bits.x;
}

// A bijection on [0, n), n >= 1, chosen by key. Returns i unchanged when n <= 1.
CUAE_HOST_DEVICE inline uint64_t permute_index(uint64_t i, uint64_t n, uint64_t key) {
  if (n <= 1) return i;
  int half_bits = 1;  // domain is 4^half_bits >= n
  while ((uint64_t{1} << (2 * half_bits)) < n) ++half_bits;
  const uint64_t half_mask = (uint64_t{1} << half_bits) - 1;
  uint64_t x = i;
  do {  // cycle-walk: the domain is < 4n, so the expected number of walks is < 4
    uint64_t left = x >> half_bits, right = x & half_mask;
    for (uint32_t round = 0; round < 4; ++round) {
      const uint64_t mixed = (left ^ feistel_round(static_cast<uint32_t>(right), static_cast<uint32_t>(key ^ (key >> 32)), round)) & half_mask;
      left = right;
      right = mixed;
    }
    x = (left << half_bits) | right;
  } while (x >= n);
  return x;
}

// The permutation key of an epoch: epochs differ, runs with the same seed agree.
CUAE_HOST_DEVICE inline uint64_t epoch_shuffle_key(uint64_t seed, int64_t epoch) {
  const Philox4 bits = philox4x32_10({static_cast<uint32_t>(epoch), static_cast<uint32_t>(epoch >> 32), 0x5EEDu, 0u},
                                     static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return (static_cast<uint64_t>(bits.x) << 32) | bits.y;
}

}  // namespace cuae::rng
