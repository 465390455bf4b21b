// Input corruption for denoising autoencoders, one element at a time from Philox, so the CPU
// backend's loop, a CUDA batch gather and `cuae reconstruct --noise` produce the same corrupted value
// for element i of a batch. Maths, for x the clean value, u_k = uniform_at(seed, stream, k) in [0, 1):
//   gaussian:σ     x + σ·normal_at(seed, stream, i), clipped to [0, 1] when the data's range is that
//   mask:p         0 if u_i < p, else x
//   salt-pepper:p  if u_{2i} < p: 0 or 1 as u_{2i+1} < 0.5, else x
// Cost per element: one Philox4x32-10 block (two for gaussian and salt-pepper) for each value.
#pragma once

#include <cstdint>

#include "cuae/regularization.h"
#include "kernels/common/random.cuh"

namespace cuae::noise {

template <typename T>
CUAE_HOST_DEVICE inline T corrupted(Noise::Kind kind, float amount, uint64_t seed, uint64_t stream, uint64_t i, T x,
                                    bool clip_to_unit) {
  switch (kind) {
    case Noise::Kind::none: return x;
    case Noise::Kind::gaussian: {
      const T v = x + static_cast<T>(amount * rng::normal_at(seed, stream, i));
      return clip_to_unit ? (v < T(0) ? T(0) : v > T(1) ? T(1) : v) : v;
    }
    case Noise::Kind::mask: return rng::uniform_at(seed, stream, i) < amount ? T(0) : x;
    case Noise::Kind::salt_pepper:
      if (rng::uniform_at(seed, stream, 2 * i) < amount) return rng::uniform_at(seed, stream, 2 * i + 1) < 0.5f ? T(0) : T(1);
      return x;
  }
  return x;
}

}  // namespace cuae::noise
