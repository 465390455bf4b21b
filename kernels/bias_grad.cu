// Bias gradient: db[n] = Σ_m dz[m, n], summed in a fixed order (no float atomics): bit-reproducible.
//
// Layout: dz is [M, N] row-major (N contiguous); db is [N].
// Launch shape: bias_grad_columns_kernel, blocks of 32×8 threads; blockIdx.x picks 32 columns,
// blockIdx.y one chunk of rows. A warp reads 32 consecutive floats of a row (coalesced); the 8 warps
// take rows r, r+8, ... of the chunk, and thread row 0 adds the 8 partial sums in order. With one chunk
// (M ≤ 256) the sums go straight to db; otherwise each chunk writes workspace[chunk, n] and
// bias_grad_chunks_kernel (256 threads, one column each) adds the chunks in order.
// Chunks: ceil(M / 256) capped at 128, so large M still gets 128 × ceil(N/32) blocks.
// Per element: 1 add, 4 bytes read. Memory-bound.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/common/activation.cuh"
#include "kernels/kernels.h"
#include "kernels/common/launch.cuh"

namespace cuae::kernels {
namespace {

constexpr int kColumns = 32;   // threads along N (one warp)
constexpr int kRowLanes = 8;   // threads along M
constexpr int64_t kMinRowsPerChunk = 256;
constexpr int64_t kMaxChunks = 128;

int64_t chunk_count(int64_t m) { return std::clamp<int64_t>((m + kMinRowsPerChunk - 1) / kMinRowsPerChunk, 1, kMaxChunks); }

// ---- kernels ------------------------------------------------------------------------------------

// Sums rows [chunk·rows_per_chunk, +rows_per_chunk) of 32 columns into out[chunk, n].
__global__ void bias_grad_columns_kernel(const float* __restrict__ dz, float* __restrict__ out, int64_t m, int n,
                                         int64_t rows_per_chunk) {
  __shared__ float partial[kRowLanes][kColumns + 1];  // +1: the column read below is conflict-free
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int col = static_cast<int>(blockIdx.x) * kColumns + tx;
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t end = begin + rows_per_chunk < m ? begin + rows_per_chunk : m;
  float sum = 0.0f;
  if (col < n)
    for (int64_t row = begin + ty; row < end; row += kRowLanes) sum += dz[row * n + col];
  partial[ty][tx] = sum;
  __syncthreads();
  if (ty == 0 && col < n) {
    float total = 0.0f;
    for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][tx];
    out[static_cast<int64_t>(blockIdx.y) * n + col] = total;
  }
}

__global__ void bias_grad_chunks_kernel(const float* __restrict__ workspace, float* __restrict__ db, int n,
                                        int64_t chunks) {
  const int col = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (col >= n) return;
  float total = 0.0f;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) total += workspace[chunk * n + col];
  db[col] = total;
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------

int64_t bias_grad_workspace_size(int64_t m, int n) {
  const int64_t chunks = chunk_count(m);
  return chunks > 1 ? chunks * std::max(n, 0) : 0;
}

void bias_grad(const BiasGradParams& p, cudaStream_t stream) {
  const char* kernel = "bias_grad";
  const std::string shape = "m=" + std::to_string(p.m) + " n=" + std::to_string(p.n);
  require_shape(p.m >= 0 && p.n >= 0, kernel, "negative shape " + shape);
  if (p.n == 0) return;
  require_pointer(p.db, kernel, "db", shape);
  // M = 0 still launches: the empty sum defines db = 0, which the backward pass needs.
  if (p.m > 0) require_pointer(p.dz, kernel, "dz", shape);
  const int64_t chunks = chunk_count(p.m);
  const int64_t rows_per_chunk = (p.m + chunks - 1) / chunks;
  if (chunks > 1) require_pointer(p.workspace, kernel, "workspace", shape);
  float* out = chunks > 1 ? p.workspace : p.db;
  const dim3 grid(ceil_div(p.n, kColumns), static_cast<unsigned>(chunks));
  launch("bias_grad_columns", bias_grad_columns_kernel, grid, dim3(kColumns, kRowLanes), 0, stream,
         static_cast<const float*>(p.dz), out, p.m, p.n, rows_per_chunk);
  if (chunks > 1) {
    constexpr int kThreads = 256;
    launch("bias_grad_chunks", bias_grad_chunks_kernel, dim3(ceil_div(p.n, kThreads)), dim3(kThreads), 0, stream,
           static_cast<const float*>(p.workspace), p.db, p.n, chunks);
  }
}

}  // namespace cuae::kernels
