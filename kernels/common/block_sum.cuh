// A block-wide sum in double with a fixed shape, shared by the deterministic reductions
// (loss.cu's finalize, grad_clip.cu): each thread's value goes to shared memory, then a halving tree
// adds slot t + half into slot t. The order of additions depends only on the block size, never on
// scheduling, so the same inputs give the same bits on every run and every GPU.
#pragma once

#include <cuda_runtime.h>

namespace cuae::kernels {

// `sums` is the block's kThreads doubles of shared memory (kThreads a power of two, the block size).
// Every thread must call it; the total is returned to all of them.
template <int kThreads>
__device__ __forceinline__ double block_sum_fixed_tree(double value, double* sums) {
  static_assert(kThreads > 0 && (kThreads & (kThreads - 1)) == 0, "the tree halves: a power of two");
  sums[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) sums[threadIdx.x] += sums[threadIdx.x + half];
    __syncthreads();
  }
  return sums[0];
}

}  // namespace cuae::kernels
