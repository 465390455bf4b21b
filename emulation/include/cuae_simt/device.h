// Device-side built-ins of the host SIMT emulation: thread indices, barriers, warp collectives,
// atomics and the CUDA math functions the kernels use. See cuda_runtime.h for the execution model.
#pragma once

#include <math.h>  // expf, logf, ... in the global namespace, as CUDA provides them

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <type_traits>

#include "scheduler.h"
#include "types.h"

// The scheduler sets these before it resumes a thread. Plain globals: launches are serialised.
inline uint3 threadIdx{0, 0, 0};
inline uint3 blockIdx{0, 0, 0};
inline dim3 blockDim{1, 1, 1};
inline dim3 gridDim{1, 1, 1};
inline constexpr int warpSize = 32;

// Dynamic shared memory, sized by the launch and poisoned (all bytes 0xFF, i.e. NaN) before each
// block. Use inside the kernel body; under nvcc portable.cuh defines the same macro.
#define CUAE_DYNAMIC_SHARED(type, name) \
  type* const name = static_cast<type*>(::cuae_simt::detail::dynamic_shared_memory())

// ---- barriers -----------------------------------------------------------------------------------
// The call site is part of the barrier: threads waiting at different __syncthreads() is an error.
inline void __syncthreads(std::source_location site = std::source_location::current()) {
  cuae_simt::detail::block_barrier(site);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location site = std::source_location::current()) {
  cuae_simt::detail::warp_collective(cuae_simt::detail::WarpOp::sync, mask, 0, -1, site);
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- warp shuffles and votes --------------------------------------------------------------------
namespace cuae_simt::detail {

template <typename T>
uint64_t to_bits(T value) {
  static_assert(std::is_arithmetic_v<T> && sizeof(T) <= 8, "the emulation shuffles arithmetic types of <= 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}

template <typename T>
T from_bits(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

inline int checked_width(int width) {
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    throw Fault("shuffle width " + std::to_string(width) + " is not a power of two in [1, 32]");
  }
  return width;
}

template <typename T>
T shuffle(unsigned mask, T var, int source, const std::source_location& site) {
  return from_bits<T>(warp_collective(WarpOp::shfl, mask, to_bits(var), source, site));
}

}  // namespace cuae_simt::detail

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
              std::source_location site = std::source_location::current()) {
  const int w = cuae_simt::detail::checked_width(width);
  const int lane = static_cast<int>(cuae_simt::detail::lane_id());
  return cuae_simt::detail::shuffle(mask, var, (lane & ~(w - 1)) + (src_lane & (w - 1)), site);
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                  std::source_location site = std::source_location::current()) {
  const int w = cuae_simt::detail::checked_width(width);
  const int lane = static_cast<int>(cuae_simt::detail::lane_id());
  int source = (lane ^ lane_mask) & 31;
  if ((source & ~(w - 1)) > (lane & ~(w - 1))) source = lane;  // later groups: own value, as in CUDA
  return cuae_simt::detail::shuffle(mask, var, source, site);
}

template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   std::source_location site = std::source_location::current()) {
  const int w = cuae_simt::detail::checked_width(width);
  const int lane = static_cast<int>(cuae_simt::detail::lane_id());
  const bool inside = (lane & (w - 1)) + static_cast<int64_t>(delta) < w;
  return cuae_simt::detail::shuffle(mask, var, inside ? lane + static_cast<int>(delta) : lane, site);
}

template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 std::source_location site = std::source_location::current()) {
  const int w = cuae_simt::detail::checked_width(width);
  const int lane = static_cast<int>(cuae_simt::detail::lane_id());
  const bool inside = (lane & (w - 1)) >= static_cast<int64_t>(delta);
  return cuae_simt::detail::shuffle(mask, var, inside ? lane - static_cast<int>(delta) : lane, site);
}

inline unsigned __ballot_sync(unsigned mask, int predicate, std::source_location site = std::source_location::current()) {
  return static_cast<unsigned>(
      cuae_simt::detail::warp_collective(cuae_simt::detail::WarpOp::ballot, mask, predicate != 0, -1, site));
}
inline int __all_sync(unsigned mask, int predicate, std::source_location site = std::source_location::current()) {
  return static_cast<int>(
      cuae_simt::detail::warp_collective(cuae_simt::detail::WarpOp::all, mask, predicate != 0, -1, site));
}
inline int __any_sync(unsigned mask, int predicate, std::source_location site = std::source_location::current()) {
  return static_cast<int>(
      cuae_simt::detail::warp_collective(cuae_simt::detail::WarpOp::any, mask, predicate != 0, -1, site));
}

// ---- atomics ------------------------------------------------------------------------------------
// One OS thread runs every fiber, so these need no hardware atomicity; atomic_ref keeps them honest.
template <typename T>
concept CuaeSimtAtomicAddable = std::is_same_v<T, int> || std::is_same_v<T, unsigned> ||
                                std::is_same_v<T, unsigned long long> || std::is_same_v<T, float> ||
                                std::is_same_v<T, double>;
template <typename T>
concept CuaeSimtAtomicInt = std::is_same_v<T, int> || std::is_same_v<T, unsigned> || std::is_same_v<T, unsigned long long>;

template <CuaeSimtAtomicAddable T>
T atomicAdd(T* address, std::type_identity_t<T> value) {
  return std::atomic_ref<T>(*address).fetch_add(value);
}
template <CuaeSimtAtomicInt T>
T atomicExch(T* address, std::type_identity_t<T> value) {
  return std::atomic_ref<T>(*address).exchange(value);
}
template <CuaeSimtAtomicInt T>
T atomicCAS(T* address, std::type_identity_t<T> compare, std::type_identity_t<T> value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value);
  return compare;  // the old value either way
}
template <CuaeSimtAtomicInt T>
T atomicMax(T* address, std::type_identity_t<T> value) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (old < value && !ref.compare_exchange_weak(old, value)) {
  }
  return old;
}
template <CuaeSimtAtomicInt T>
T atomicMin(T* address, std::type_identity_t<T> value) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (old > value && !ref.compare_exchange_weak(old, value)) {
  }
  return old;
}

// ---- loads, bit tricks and math -----------------------------------------------------------------
template <typename T>
T __ldg(const T* address) {
  return *address;
}

inline int __popc(unsigned x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(int x) { return std::countl_zero(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return x == 0 ? 0 : std::countr_zero(static_cast<unsigned>(x)) + 1; }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __tanhf(float x) { return std::tanh(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float x, float y, float z) { return std::fma(x, y, z); }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }  // NaN -> 0 as CUDA
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }

// CUDA's min/max overloads; like CUDA's they take two operands of one type.
#define CUAE_SIMT_MIN_MAX(T)                             \
  inline T min(T a, T b) { return b < a ? b : a; }       \
  inline T max(T a, T b) { return a < b ? b : a; }
CUAE_SIMT_MIN_MAX(int)
CUAE_SIMT_MIN_MAX(unsigned)
CUAE_SIMT_MIN_MAX(long)
CUAE_SIMT_MIN_MAX(unsigned long)
CUAE_SIMT_MIN_MAX(long long)
CUAE_SIMT_MIN_MAX(unsigned long long)
#undef CUAE_SIMT_MIN_MAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
