// Fused dense layer forward: Y[M, N] = act(X[M, K] · W[N, K]ᵀ + b[N]), optional pre-activation store.
//
// Layout: row-major; X rows and W rows are both K-contiguous (an "NT" GEMM), Y and pre are
// N-contiguous. The same-shaped bias_act_forward is the epilogue of the cuBLAS-forward baseline.
//
// GEMM: each block computes a BM×BN tile of Y over K in steps of BK. The X and W tiles are staged
// in shared memory TRANSPOSED (k-major, rows padded by 4 floats) so that every thread reads its
// micro-tile fragments as float4 with no bank conflicts (A fragments are warp broadcasts, B
// fragments are 16 distinct float4 per half-warp). Double-buffered: while tile k is multiplied, tile
// k+1 is already in registers and goes to the other shared buffer, so there is one barrier per k step.
// Each thread owns a TM×TN micro-tile in registers, split into 4×4 sub-blocks spaced BM/(TM/4) rows
// apart, and accumulates in FP32 in k order. Global loads are float4 when K % 4 == 0 and both X and W
// are 16-byte aligned, scalar (with per-element K bounds) otherwise; rows/cols past M/N load zeros.
//   big   tile 128×128×8, 256 threads, 8×8 micro-tile: 2·8·8 = 128 FLOP per 4 float4 shared reads.
//   small tile  64×64×16, 256 threads, 4×4 micro-tile: for problems with too few big tiles to fill a GPU.
// Blocks form a 1-D grid with the N tile fastest, so consecutive blocks reuse the same X tile from L2
// and the whole W (N·K floats) stays L2-resident for typical layer sizes.
//
// Roofline per GEMM: 2·M·N·K FLOPs; DRAM bytes ≈ 4·(M·K + N·K + M·N (+ M·N pre)) with L2 reuse.
// Epilogue per output: 1 add + the activation (gelu: erff ≈ 20 FLOPs).
// bias_act_forward: per element 1 add + activation, 8 bytes (12 with pre); 256-thread blocks of float4.
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/common/activation.cuh"
#include "kernels/common/launch.cuh"
#include "kernels/kernels.h"

namespace cuae::kernels {
namespace {

// ---- device helpers -----------------------------------------------------------------------------

__device__ __forceinline__ float component(const float4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// Loads the float4 slot (row, k..k+3) of a K-contiguous [rows, K] matrix, zeros outside it.
template <bool kVec>
__device__ __forceinline__ float4 load_k4(const float* __restrict__ a, int64_t row, int64_t rows, int k, int kk) {
  float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (row >= rows) return v;
  const float* src = a + row * kk + k;
  if (kVec) {  // K % 4 == 0 and k % 4 == 0: the slot is either wholly inside K or wholly outside
    if (k < kk) v = *reinterpret_cast<const float4*>(src);
  } else {
    if (k + 0 < kk) v.x = src[0];
    if (k + 1 < kk) v.y = src[1];
    if (k + 2 < kk) v.z = src[2];
    if (k + 3 < kk) v.w = src[3];
  }
  return v;
}

// ---- kernels ------------------------------------------------------------------------------------

template <int BM, int BN, int BK, int TM, int TN, bool kVec>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2)
    dense_forward_kernel(DenseForwardParams p, int n_tiles, bool vec_out) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  constexpr int kThreadCols = BN / TN;                  // threads along N
  constexpr int kLdA = (BM + 4) / 4, kLdB = (BN + 4) / 4;  // padded shared rows, in float4
  constexpr int kSlotsPerRow = BK / 4;                  // float4 slots per tile row
  constexpr int kLoadsA = BM * BK / 4 / kThreads, kLoadsB = BN * BK / 4 / kThreads;
  constexpr int kRowStep = 4 * BM / TM, kColStep = 4 * BN / TN;  // distance between 4×4 sub-blocks
  static_assert(BM * BK % (4 * kThreads) == 0 && BN * BK % (4 * kThreads) == 0, "whole float4 slots per thread");
  static_assert(TM % 4 == 0 && TN % 4 == 0 && BK % 4 == 0, "micro-tiles are made of 4×4 sub-blocks");

  __shared__ float4 tile_a[2][BK][kLdA];  // X tile, k-major: tile_a[k][m]
  __shared__ float4 tile_b[2][BK][kLdB];  // W tile, k-major: tile_b[k][n]

  const float* __restrict__ x = p.x;
  const float* __restrict__ w = p.w;
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % kThreadCols, ty = tid / kThreadCols;
  const int tile_n = static_cast<int>(blockIdx.x % static_cast<unsigned>(n_tiles));
  const int64_t row0 = static_cast<int64_t>(blockIdx.x / static_cast<unsigned>(n_tiles)) * BM;
  const int col0 = tile_n * BN;

  float4 stage_a[kLoadsA], stage_b[kLoadsB];
  auto load_tile = [&](int k0) {
    CUAE_UNROLL
    for (int l = 0; l < kLoadsA; ++l) {
      const int slot = tid + l * kThreads;
      stage_a[l] = load_k4<kVec>(x, row0 + slot / kSlotsPerRow, p.m, k0 + slot % kSlotsPerRow * 4, p.k);
    }
    CUAE_UNROLL
    for (int l = 0; l < kLoadsB; ++l) {
      const int slot = tid + l * kThreads;
      stage_b[l] = load_k4<kVec>(w, col0 + slot / kSlotsPerRow, p.n, k0 + slot % kSlotsPerRow * 4, p.k);
    }
  };
  auto store_tile = [&](int buf) {
    CUAE_UNROLL
    for (int l = 0; l < kLoadsA; ++l) {
      const int slot = tid + l * kThreads, row = slot / kSlotsPerRow, k = slot % kSlotsPerRow * 4;
      CUAE_UNROLL
      for (int i = 0; i < 4; ++i) reinterpret_cast<float*>(tile_a[buf][k + i])[row] = component(stage_a[l], i);
    }
    CUAE_UNROLL
    for (int l = 0; l < kLoadsB; ++l) {
      const int slot = tid + l * kThreads, col = slot / kSlotsPerRow, k = slot % kSlotsPerRow * 4;
      CUAE_UNROLL
      for (int i = 0; i < 4; ++i) reinterpret_cast<float*>(tile_b[buf][k + i])[col] = component(stage_b[l], i);
    }
  };

  float acc[TM][TN];
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  const int k_tiles = (p.k + BK - 1) / BK;
  load_tile(0);
  store_tile(0);
  __syncthreads();
  for (int kt = 0; kt < k_tiles; ++kt) {
    const int buf = kt & 1;
    if (kt + 1 < k_tiles) load_tile((kt + 1) * BK);  // global latency hides behind the FMAs below
CUAE_UNROLL
    for (int k = 0; k < BK; ++k) {
      float a[TM], b[TN];
CUAE_UNROLL
      for (int g = 0; g < TM / 4; ++g) {
        const float4 v = tile_a[buf][k][g * (BM / TM) + ty];
        a[4 * g] = v.x, a[4 * g + 1] = v.y, a[4 * g + 2] = v.z, a[4 * g + 3] = v.w;
      }
CUAE_UNROLL
      for (int h = 0; h < TN / 4; ++h) {
        const float4 v = tile_b[buf][k][h * (BN / TN) + tx];
        b[4 * h] = v.x, b[4 * h + 1] = v.y, b[4 * h + 2] = v.z, b[4 * h + 3] = v.w;
      }
CUAE_UNROLL
      for (int i = 0; i < TM; ++i)
CUAE_UNROLL
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    // The other buffer was last read in step kt−1, which every thread finished before the barrier
    // that ended it; this step's barrier publishes the new tile before step kt+1 reads it.
    if (kt + 1 < k_tiles) store_tile(buf ^ 1);
    __syncthreads();
  }

  // Epilogue: bias, activation, optional pre-activation; float4 stores when N % 4 == 0 and aligned.
  // Fully unrolled so that acc stays in registers (a runtime index would move it to local memory).
  CUAE_UNROLL
  for (int h = 0; h < TN / 4; ++h) {
    const int col = col0 + h * kColStep + tx * 4;
    float bias[4];
    CUAE_UNROLL
    for (int j = 0; j < 4; ++j) bias[j] = (p.bias != nullptr && col + j < p.n) ? p.bias[col + j] : 0.0f;
    CUAE_UNROLL
    for (int g = 0; g < TM / 4; ++g)
      CUAE_UNROLL
      for (int i = 0; i < 4; ++i) {
        const int64_t row = row0 + g * kRowStep + ty * 4 + i;
        if (row >= p.m || col >= p.n) continue;
        float z[4], y[4];
        CUAE_UNROLL
        for (int j = 0; j < 4; ++j) {
          z[j] = acc[4 * g + i][4 * h + j] + bias[j];
          y[j] = act::forward(p.act, z[j], p.slope);
        }
        const int64_t offset = row * p.n + col;
        if (vec_out) {  // N % 4 == 0, so col < N implies col + 3 < N
          *reinterpret_cast<float4*>(p.y + offset) = make_float4(y[0], y[1], y[2], y[3]);
          if (p.pre != nullptr) *reinterpret_cast<float4*>(p.pre + offset) = make_float4(z[0], z[1], z[2], z[3]);
        } else {
          CUAE_UNROLL
          for (int j = 0; j < 4; ++j) {
            if (col + j >= p.n) continue;
            p.y[offset + j] = y[j];
            if (p.pre != nullptr) p.pre[offset + j] = z[j];
          }
        }
      }
  }
}

// Elementwise epilogue of the cuBLAS-forward baseline: one float4 slot ("quad") per thread per step.
__global__ void bias_act_forward_kernel(BiasActParams p, bool vec) {
  const int64_t count = p.m * p.n;
  const int64_t quads = (count + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    const int64_t i = 4 * q;
    if (vec) {  // N % 4 == 0: the quad lies within one row
      const float4 zv = *reinterpret_cast<const float4*>(p.z + i);
      const int col = static_cast<int>(i % p.n);
      float z[4] = {zv.x, zv.y, zv.z, zv.w};
      for (int j = 0; j < 4; ++j) z[j] += p.bias != nullptr ? p.bias[col + j] : 0.0f;
      if (p.pre != nullptr) *reinterpret_cast<float4*>(p.pre + i) = make_float4(z[0], z[1], z[2], z[3]);
      *reinterpret_cast<float4*>(p.y + i) = make_float4(act::forward(p.act, z[0], p.slope), act::forward(p.act, z[1], p.slope),
                                                        act::forward(p.act, z[2], p.slope), act::forward(p.act, z[3], p.slope));
    } else {
      for (int64_t e = i; e < i + 4 && e < count; ++e) {
        const float z = p.z[e] + (p.bias != nullptr ? p.bias[e % p.n] : 0.0f);
        if (p.pre != nullptr) p.pre[e] = z;
        p.y[e] = act::forward(p.act, z, p.slope);
      }
    }
  }
}

// ---- launchers ----------------------------------------------------------------------------------

// Below this many 128×128 tiles (about two per SM on an H100/H200) the 64×64 tile keeps more SMs busy.
constexpr int64_t kBigTileMinBlocks = 256;

template <int BM, int BN, int BK, int TM, int TN>
void launch_dense(const DenseForwardParams& p, cudaStream_t stream, bool vec_in, bool vec_out) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  const int64_t m_tiles = (p.m + BM - 1) / BM;
  const int n_tiles = (p.n + BN - 1) / BN;
  const dim3 grid(static_cast<unsigned>(m_tiles * n_tiles));
  if (vec_in) {
    launch("dense_forward", dense_forward_kernel<BM, BN, BK, TM, TN, true>, grid, dim3(kThreads), 0, stream, p, n_tiles,
           vec_out);
  } else {
    launch("dense_forward", dense_forward_kernel<BM, BN, BK, TM, TN, false>, grid, dim3(kThreads), 0, stream, p, n_tiles,
           vec_out);
  }
}

std::string dense_shape(const DenseForwardParams& p) {
  return "m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) + " k=" + std::to_string(p.k);
}

}  // namespace

void dense_forward(const DenseForwardParams& p, cudaStream_t stream) {
  const char* kernel = "dense_forward";
  const std::string shape = dense_shape(p);
  require_shape(p.m >= 0 && p.n >= 0 && p.k >= 0, kernel, "negative shape " + shape);
  if (p.m == 0 || p.n == 0) return;
  require_pointer(p.y, kernel, "y", shape);
  if (p.k > 0) {
    require_pointer(p.x, kernel, "x", shape);
    require_pointer(p.w, kernel, "w", shape);
  }
  require_shape((p.m + 63) / 64 * ((p.n + 63) / 64) < (int64_t{1} << 31), kernel, "too many output tiles for " + shape);
  const bool vec_in = p.k % 4 == 0 && aligned16(p.x) && aligned16(p.w);
  const bool vec_out = p.n % 4 == 0 && aligned16(p.y) && aligned16(p.pre);
  require_shape(p.tile == 0 || p.tile == 64 || p.tile == 128, kernel,
                "tile must be 0 (automatic), 64 or 128, got " + std::to_string(p.tile));
  const int64_t big_tiles = (p.m + 127) / 128 * ((p.n + 127) / 128);
  if (p.tile == 128 || (p.tile == 0 && big_tiles >= kBigTileMinBlocks)) {
    launch_dense<128, 128, 8, 8, 8>(p, stream, vec_in, vec_out);
  } else {
    launch_dense<64, 64, 16, 4, 4>(p, stream, vec_in, vec_out);
  }
}

void bias_act_forward(const BiasActParams& p, cudaStream_t stream) {
  const char* kernel = "bias_act_forward";
  const std::string shape = "m=" + std::to_string(p.m) + " n=" + std::to_string(p.n);
  require_shape(p.m >= 0 && p.n >= 0, kernel, "negative shape " + shape);
  if (p.m == 0 || p.n == 0) return;
  require_pointer(p.z, kernel, "z", shape);
  require_pointer(p.y, kernel, "y", shape);
  const bool vec = p.n % 4 == 0 && aligned16(p.z) && aligned16(p.y) && aligned16(p.pre);
  constexpr int kThreads = 256;
  const int64_t quads = (p.m * p.n + 3) / 4;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>((quads + kThreads - 1) / kThreads, 4096)));
  launch(kernel, bias_act_forward_kernel, grid, dim3(kThreads), 0, stream, p, vec);
}

}  // namespace cuae::kernels
