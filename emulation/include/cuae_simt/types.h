// CUDA's qualifiers and built-in vector types for the host SIMT emulation (see cuda_runtime.h).
#pragma once

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
// kernels/common/portable.cuh's static shared memory (see README: not yet poisoned per block).
#define CUAE_SHARED(type, name, dims) static type name dims

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
