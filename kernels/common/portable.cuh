// Qualifiers for code shared by host C++ and CUDA (including the host SIMT emulation).
#pragma once

// (Under the host SIMT emulation all code is host code, so the qualifiers are not needed there.)
#if defined(__CUDACC__)
#define CUAE_HOST_DEVICE __host__ __device__
#else
#define CUAE_HOST_DEVICE
#endif

// Static shared memory, declared inside a kernel body: CUAE_SHARED(float4, tile, [2][8][33]);
// Under nvcc a plain __shared__ array. The host SIMT emulation defines the same macro in its
// cuda_runtime.h (per-block storage there), so kernels never write `__shared__` themselves.
#if defined(__CUDACC__) && !defined(CUAE_SIMT_EMULATION)
#define CUAE_SHARED(type, name, dims) __shared__ type name dims
#endif

// Dynamic shared memory, declared inside a kernel body: CUAE_DYNAMIC_SHARED(float, tile);
// One byte array under the hood, because two kernels of one file declaring `extern __shared__`
// arrays of different types with the same name do not compile. The host SIMT emulation defines the
// same macro in its cuda_runtime.h (a pointer to the block's poisoned buffer).
#if defined(__CUDACC__) && !defined(CUAE_SIMT_EMULATION)
#define CUAE_DYNAMIC_SHARED(type, name)                                  \
  extern __shared__ __align__(16) unsigned char cuae_dynamic_shared_[]; \
  type* const name = reinterpret_cast<type*>(cuae_dynamic_shared_)
#endif

// `#pragma unroll` for nvcc; host compilers (the SIMT emulation) would warn about an unknown pragma.
#if defined(__CUDACC__)
#define CUAE_UNROLL _Pragma("unroll")
#else
#define CUAE_UNROLL
#endif
