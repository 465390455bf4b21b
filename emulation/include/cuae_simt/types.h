// CUDA's qualifiers and built-in vector types for the host SIMT emulation (see cuda_runtime.h).
#pragma once

#include <cstddef>
#include <cstdint>

// Host and device are the same machine here, so the execution-space qualifiers vanish. There is no
// __noinline__: libstdc++ spells __attribute__((__noinline__)), which such a macro would break.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Blocks run one after another on one OS thread, so a block's shared memory is a static that every
// fiber of the block sees. It keeps the previous block's (or kernel's) values: kernels must write
// shared memory before reading it, never rely on zero initialisation. Write `__shared__ T x[..];`,
// not `static __shared__`.
#define __shared__ static
// kernels/common/portable.cuh's static shared memory: a reference to per-block storage that the
// scheduler fills with 0xFF (NaN) before every block, as on a GPU, where a block never sees another
// block's values. `slot` (one per declaration) keys the storage; see scheduler.h.
#define CUAE_SHARED(type, name, dims)                                                               \
  using cuae_shared_type_##name = type dims;                                                       \
  static ::cuae_simt::detail::SharedSlot cuae_shared_slot_##name;                                  \
  cuae_shared_type_##name& name = *static_cast<cuae_shared_type_##name*>(                          \
      ::cuae_simt::detail::static_shared_memory(cuae_shared_slot_##name, sizeof(cuae_shared_type_##name), \
                                                alignof(cuae_shared_type_##name)))

namespace cuae_simt::detail {
// One CUAE_SHARED declaration; its address is the key of the declaration's per-block storage.
struct SharedSlot {
  unsigned char unused = 0;
};
// The calling block's storage for `slot` (allocated at first use in a launch, poisoned per block).
void* static_shared_memory(SharedSlot& slot, size_t bytes, size_t alignment);
}  // namespace cuae_simt::detail

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}  // NOLINT: implicit as in CUDA
  constexpr operator uint3() const { return {x, y, z}; }  // NOLINT: implicit as in CUDA
};

struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};

inline constexpr float2 make_float2(float x, float y) { return {x, y}; }
inline constexpr float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline constexpr int2 make_int2(int x, int y) { return {x, y}; }
inline constexpr int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline constexpr uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }
