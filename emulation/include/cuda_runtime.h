// The host SIMT emulation's substitute for <cuda_runtime.h>: the CUDA subset that cuae's kernels
// and CUDA backend use, so that the same sources compile with g++ and run on the CPU in CI.
//
// Subset (anything else fails to compile):
//   qualifiers  __global__ __device__ __host__ __forceinline__ __launch_bounds__(...)
//               __align__(n) __restrict__ (GCC's); __shared__ (a static, see types.h);
//               CUAE_DYNAMIC_SHARED(type, name) for dynamic shared memory
//   built-ins   threadIdx blockIdx blockDim gridDim warpSize, dim3 uint3 float2 float4 int2 int4
//   sync        __syncthreads() __syncwarp(mask) __threadfence()
//   warp        __shfl_sync __shfl_xor_sync __shfl_down_sync __shfl_up_sync (width 1..32),
//               __ballot_sync __all_sync __any_sync
//   atomics     atomicAdd (int, unsigned, unsigned long long, float, double),
//               atomicExch atomicCAS atomicMax atomicMin (integers)
//   math        <math.h> in the global namespace, rsqrtf __expf __logf __powf __fdividef __frcp_rn
//               __fmaf_rn __saturatef ..., min/max, __ldg, __popc __clz __ffs, __float_as_int ...
//   host API    see cuae_simt/runtime.h: errors, device queries, memory, streams, events, graphs,
//               cudaFuncSetAttribute, cudaLaunchKernelEx (no <<<>>>).
//
// Execution model: a launch runs synchronously on the calling OS thread (launches are serialised
// process-wide). Blocks run one after another; the threads of a block run as Boost.Context fibers.
// The scheduler resumes every runnable thread once per round, in forward, reverse or seeded random
// order (cuae_simt::set_thread_order or CUAE_SIMT_ORDER=forward|reverse|random:SEED), and each runs
// until it finishes or reaches __syncthreads() or a warp collective. A block barrier opens when every
// thread of the block waits at the same __syncthreads() call site; a warp collective when every live
// lane of its mask waits with the same mask and operation. A thread that exits while others wait at
// __syncthreads(), divergent barriers and any other deadlock fail the launch with
// cudaErrorLaunchFailure; cudaGetErrorString then names the kernel, block, thread and call site.
#pragma once

#include "cuae_simt/device.h"
#include "cuae_simt/runtime.h"
#include "cuae_simt/scheduler.h"
#include "cuae_simt/types.h"
