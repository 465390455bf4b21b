// Self tests of the host SIMT emulation's device side: built-ins, shared memory and barriers under
// every thread order, the proof that a missing __syncthreads() is caught, warp collectives, atomics,
// and the detection of divergent or unreachable barriers.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "cuae/error.h"
#include "kernels/common/launch.cuh"
#include "support/reference.h"
#include "support/tolerances.h"
#include "test_support.h"

namespace {

using cuae_simt::ThreadOrder;
using cuae_simt::test::DeviceArray;
using cuae_simt::test::launch;
using cuae_simt::test::ScopedOrder;

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kTile = 16;
constexpr ThreadOrder kOrders[] = {ThreadOrder::forward, ThreadOrder::reverse, ThreadOrder::random};

// ---- kernels -------------------------------------------------------------------------------------
__global__ void index_kernel(unsigned* out, unsigned* dims) {
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  out[block * threads + thread] = block * threads + thread;
  if (block == 0 && thread == 0) {
    const unsigned values[6] = {blockDim.x, blockDim.y, blockDim.z, gridDim.x, gridDim.y, gridDim.z};
    for (int i = 0; i < 6; ++i) dims[i] = values[i];
  }
}

__global__ void math_kernel(const float* x, float* out, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  const float v = x[i];
  float* o = out + 10 * i;
  o[0] = expf(v);
  o[1] = logf(fabsf(v) + 0.5f);
  o[2] = log1pf(fabsf(v));
  o[3] = tanhf(v);
  o[4] = erff(v);
  o[5] = rsqrtf(fabsf(v) + 0.5f);
  o[6] = __fdividef(v, 3.0f) + __expf(-v);
  o[7] = powf(fabsf(v) + 0.5f, 1.5f);
  o[8] = fmaxf(v, 0.25f) + fminf(v, -0.25f) + __saturatef(v);
  o[9] = static_cast<float>(max(min(i, 7), 3));
}

// c[m, n] = a[m, k] · b[n, k]^T with 16x16 shared-memory tiles. kBarriers = false is the deliberate
// bug: without __syncthreads() threads read tile entries that others have not written yet.
template <bool kBarriers>
__global__ void tiled_matmul_kernel(const float* a, const float* b, float* c, int m, int n, int k) {
  __shared__ float a_tile[kTile][kTile];
  __shared__ float b_tile[kTile][kTile + 1];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int row = static_cast<int>(blockIdx.y) * kTile + ty;
  const int col = static_cast<int>(blockIdx.x) * kTile + tx;
  const int b_row = static_cast<int>(blockIdx.x) * kTile + ty;
  float sum = 0;
  for (int t = 0; t < k; t += kTile) {
    a_tile[ty][tx] = row < m && t + tx < k ? a[static_cast<int64_t>(row) * k + t + tx] : 0.0f;
    b_tile[ty][tx] = b_row < n && t + tx < k ? b[static_cast<int64_t>(b_row) * k + t + tx] : 0.0f;
    if (kBarriers) __syncthreads();
    for (int p = 0; p < kTile; ++p) sum += a_tile[ty][p] * b_tile[tx][p];
    if (kBarriers) __syncthreads();
  }
  if (row < m && col < n) c[static_cast<int64_t>(row) * n + col] = sum;
}

// out[cols, rows] = in[rows, cols]^T through a padded tile in dynamic shared memory.
__global__ void transpose_kernel(const float* in, float* out, int rows, int cols) {
  CUAE_DYNAMIC_SHARED(float, tile);
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int x = static_cast<int>(blockIdx.x) * kTile + tx, y = static_cast<int>(blockIdx.y) * kTile + ty;
  if (x < cols && y < rows) tile[ty * (kTile + 1) + tx] = in[y * cols + x];
  __syncthreads();
  const int out_x = static_cast<int>(blockIdx.y) * kTile + tx, out_y = static_cast<int>(blockIdx.x) * kTile + ty;
  if (out_x < rows && out_y < cols) out[out_y * rows + out_x] = tile[tx * (kTile + 1) + ty];
}

// Block 0 writes its dynamic shared memory; every block then reads it back.
__global__ void shared_poison_kernel(float* out) {
  CUAE_DYNAMIC_SHARED(float, scratch);
  if (blockIdx.x == 0) scratch[threadIdx.x] = 1.0f;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = scratch[threadIdx.x];
}

// Each thread appends its index to `order` when it first runs and again after a barrier.
__global__ void arrival_order_kernel(unsigned* counter, unsigned* order) {
  order[atomicAdd(counter, 1u)] = threadIdx.x;
  __syncthreads();
  order[atomicAdd(counter, 1u)] = threadIdx.x;
}

// Seven results per thread; see WarpCollectivesMatchTheirDefinitions.
__global__ void warp_kernel(int* out, double* doubles) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int warp = static_cast<int>(threadIdx.x / 32);
  const int v = lane + 1 + 100 * warp;
  int* o = out + 7 * threadIdx.x;
  int xor_sum = v;
  for (int offset = 16; offset > 0; offset /= 2) xor_sum += __shfl_xor_sync(kFullMask, xor_sum, offset);
  o[0] = xor_sum;
  int down_sum = v;
  for (int offset = 16; offset > 0; offset /= 2) down_sum += __shfl_down_sync(kFullMask, down_sum, offset);
  o[1] = down_sum;
  o[2] = __shfl_sync(kFullMask, v, 5);
  int scan = v;
  for (int offset = 1; offset < 32; offset *= 2) {
    const int up = __shfl_up_sync(kFullMask, scan, offset);
    if (lane >= offset) scan += up;
  }
  o[3] = scan;
  int segment = v;
  for (int offset = 4; offset > 0; offset /= 2) segment += __shfl_down_sync(kFullMask, segment, offset, 8);
  o[4] = segment;
  o[5] = static_cast<int>(__ballot_sync(kFullMask, lane % 3 == 0));
  o[6] = __all_sync(kFullMask, v > 0) + 2 * __any_sync(kFullMask, lane == 7 && warp == 1);
  double d = 0.5 * v;
  __syncwarp();
  for (int offset = 16; offset > 0; offset /= 2) d += __shfl_xor_sync(kFullMask, d, offset);
  doubles[threadIdx.x] = d;
}

__global__ void down_reduce_kernel(float* out) {
  float sum = 1.0f;
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(kFullMask, sum, offset);
  out[threadIdx.x] = sum;
}

__global__ void atomic_kernel(float* f, int* i, unsigned long long* u, int* largest) {
  const int id = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(f, 1.0f);
  atomicAdd(i, 2);
  atomicAdd(u, 1ull << 33);
  atomicMax(largest, id);
}

__global__ void divergent_barrier_kernel(float* out) {
  if (threadIdx.x < 5) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

__global__ void early_exit_kernel(float* out) {
  if (threadIdx.x == 3) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void mixed_collective_kernel(float* out) {
  float v = 1.0f;
  if (threadIdx.x == 0) v = __shfl_sync(kFullMask, v, 1);
  __syncthreads();
  out[threadIdx.x] = v;
}

__global__ void foreign_mask_kernel(float* out) { out[threadIdx.x] = __shfl_sync(0x2u, 1.0f, 1); }

// ---- helpers -------------------------------------------------------------------------------------
struct Gemm {
  int m, n, k;
  std::vector<float> a, b;
  std::vector<double> ref;
  Gemm(int m_, int n_, int k_, uint64_t seed)
      : m(m_), n(n_), k(k_), a(cuae::ref::random_floats(size_t(m) * k, seed)),
        b(cuae::ref::random_floats(size_t(n) * k, seed + 1)) {
    cuae::ref::dense_forward(a.data(), b.data(), nullptr, m, n, k, cuae::Activation::linear, 0, ref);
  }
  template <bool kBarriers>
  double relative_error() const {
    DeviceArray<float> da(a), db(b), dc(size_t(m) * n);
    const cudaError_t error = launch(dim3(unsigned(n + kTile - 1) / kTile, unsigned(m + kTile - 1) / kTile),
                                     dim3(kTile, kTile), 0, tiled_matmul_kernel<kBarriers>, da.get(), db.get(),
                                     dc.get(), m, n, k);
    EXPECT_EQ(error, cudaSuccess) << cudaGetErrorString(error);
    return cuae::ref::relative_error(dc.to_host(), ref);
  }
};

// Launches a kernel that must fail and returns the emulator's message.
template <typename Kernel>
std::string failure_of(Kernel kernel, unsigned threads) {
  DeviceArray<float> out(threads);
  const cudaError_t error = launch(dim3(1), dim3(threads), 0, kernel, out.get());
  EXPECT_EQ(error, cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  std::string message = cudaGetErrorString(error);
  cuae_simt::reset_sticky_error();  // the fault was provoked on purpose
  return message;
}

// ---- tests ---------------------------------------------------------------------------------------
TEST(EmulatedSimtBuiltins, IndicesCoverEveryThreadOfAThreeDimensionalGrid) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  const unsigned total = 3 * 2 * 2 * 5 * 3 * 2;
  DeviceArray<unsigned> out(total), dims(6);
  ASSERT_EQ(launch(grid, block, 0, index_kernel, out.get(), dims.get()), cudaSuccess);
  const std::vector<unsigned> host = out.to_host();
  for (unsigned i = 0; i < total; ++i) ASSERT_EQ(host[i], i) << "slot " << i;
  EXPECT_EQ(dims.to_host(), (std::vector<unsigned>{5, 3, 2, 3, 2, 2}));
  EXPECT_EQ(dim3().y, 1u);
  EXPECT_EQ(alignof(float4), 16u);
  EXPECT_EQ(make_float4(1, 2, 3, 4).w, 4.0f);
}

TEST(EmulatedSimtBuiltins, MathFunctionsMatchDoublePrecision) {
  const int n = 37;
  const std::vector<float> x = cuae::ref::random_floats(n, 11, -3, 3);
  DeviceArray<float> dx(x), out(size_t(n) * 10);
  ASSERT_EQ(launch(dim3(2), dim3(32), 0, math_kernel, dx.get(), out.get(), n), cudaSuccess);
  std::vector<double> ref;
  for (int i = 0; i < n; ++i) {
    const double v = x[i], a = std::abs(v);
    const double sat = v < 0 ? 0 : (v > 1 ? 1 : v);
    for (double r : {std::exp(v), std::log(a + 0.5), std::log1p(a), std::tanh(v), std::erf(v), 1 / std::sqrt(a + 0.5),
                     v / 3 + std::exp(-v), std::pow(a + 0.5, 1.5), std::max(v, 0.25) + std::min(v, -0.25) + sat,
                     double(std::max(std::min(i, 7), 3))}) {
      ref.push_back(r);
    }
  }
  EXPECT_LE(cuae::ref::relative_error(out.to_host(), ref), cuae::tol::kElementwise);
}

class EmulatedSimtOrders : public ::testing::TestWithParam<ThreadOrder> {};

TEST_P(EmulatedSimtOrders, TiledMatmulWithBarriersIsCorrect) {
  ScopedOrder order(GetParam(), 99);
  const Gemm gemm(37, 29, 45, 5);
  EXPECT_LE(gemm.relative_error<true>(), cuae::tol::kDense);
}

TEST_P(EmulatedSimtOrders, DynamicSharedTransposeIsExact) {
  ScopedOrder order(GetParam(), 3);
  const int rows = 21, cols = 35;
  const std::vector<float> in = cuae::ref::random_floats(size_t(rows) * cols, 17);
  DeviceArray<float> din(in), dout(in.size());
  ASSERT_EQ(launch(dim3((cols + kTile - 1) / kTile, (rows + kTile - 1) / kTile), dim3(kTile, kTile),
                   kTile * (kTile + 1) * sizeof(float), transpose_kernel, din.get(), dout.get(), rows, cols),
            cudaSuccess);
  const std::vector<float> out = dout.to_host();
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) ASSERT_EQ(out[size_t(c) * rows + r], in[size_t(r) * cols + c]) << r << "," << c;
}

INSTANTIATE_TEST_SUITE_P(AllOrders, EmulatedSimtOrders, ::testing::ValuesIn(kOrders),
                         [](const auto& info) { return std::string(cuae_simt::test::order_name(info.param)); });

TEST(EmulatedSimtRaces, MissingSyncthreadsGivesAWrongResult) {
  const Gemm gemm(37, 29, 45, 5);
  int wrong = 0;
  for (ThreadOrder o : kOrders) {
    ScopedOrder order(o, 99);
    const double error = gemm.relative_error<false>();
    std::printf("barrier-less tiled matmul, %s order: relative error %.3g\n", cuae_simt::test::order_name(o), error);
    wrong += !(error <= 1e-3);  // NaN counts as wrong
  }
  EXPECT_GE(wrong, 1) << "the emulation did not expose the missing __syncthreads()";
}

TEST(EmulatedSimtRaces, DynamicSharedMemoryIsPoisonedBeforeEachBlock) {
  const unsigned threads = 24;
  DeviceArray<float> out(2 * threads);
  ASSERT_EQ(launch(dim3(2), dim3(threads), threads * sizeof(float), shared_poison_kernel, out.get()), cudaSuccess);
  const std::vector<float> host = out.to_host();
  for (unsigned i = 0; i < threads; ++i) {
    EXPECT_EQ(host[i], 1.0f);
    EXPECT_TRUE(std::isnan(host[threads + i])) << "block 1 read block 0's shared memory at " << i;
  }
}

TEST(EmulatedSimtScheduler, ThreadOrderIsForwardReverseOrSeededRandomPerRound) {
  const unsigned n = 64;
  auto run = [&](ThreadOrder o, uint64_t seed) {
    ScopedOrder order(o, seed);
    DeviceArray<unsigned> counter(std::vector<unsigned>{0}), arrivals(2 * n);
    EXPECT_EQ(launch(dim3(1), dim3(n), 0, arrival_order_kernel, counter.get(), arrivals.get()), cudaSuccess);
    return arrivals.to_host();
  };
  std::vector<unsigned> forward(n), reverse(n);
  std::iota(forward.begin(), forward.end(), 0u);
  std::iota(reverse.rbegin(), reverse.rend(), 0u);
  const auto twice = [](std::vector<unsigned> v) {
    v.insert(v.end(), v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(run(ThreadOrder::forward, 0), twice(forward));
  EXPECT_EQ(run(ThreadOrder::reverse, 0), twice(reverse));
  const std::vector<unsigned> random = run(ThreadOrder::random, 7);
  EXPECT_EQ(random, run(ThreadOrder::random, 7)) << "same seed, same order";
  const std::vector<unsigned> first(random.begin(), random.begin() + n), second(random.begin() + n, random.end());
  EXPECT_NE(first, forward);
  EXPECT_NE(first, reverse);
  EXPECT_NE(first, second) << "the order is drawn again at every round";
  EXPECT_TRUE(std::is_permutation(first.begin(), first.end(), forward.begin()));
}

TEST(EmulatedSimtWarp, WarpCollectivesMatchTheirDefinitions) {
  const unsigned threads = 64;
  DeviceArray<int> out(7 * threads);
  DeviceArray<double> doubles(threads);
  ASSERT_EQ(launch(dim3(1), dim3(threads), 0, warp_kernel, out.get(), doubles.get()), cudaSuccess);
  const std::vector<int> o = out.to_host();
  const std::vector<double> d = doubles.to_host();
  for (int t = 0; t < int(threads); ++t) {
    const int lane = t % 32, warp = t / 32, base = 1 + 100 * warp;
    auto value = [&](int l) { return l + base; };
    const int warp_sum = 32 * base + 31 * 32 / 2;
    int scan = 0, segment = 0;
    for (int l = 0; l <= lane; ++l) scan += value(l);
    for (int l = lane; l < (lane / 8 + 1) * 8; ++l) segment += value(l);
    const int* r = &o[7 * size_t(t)];
    EXPECT_EQ(r[0], warp_sum) << "xor reduction, thread " << t;
    if (lane == 0) {
      EXPECT_EQ(r[1], warp_sum) << "down reduction, warp " << warp;
    }
    EXPECT_EQ(r[2], value(5)) << "broadcast, thread " << t;
    EXPECT_EQ(r[3], scan) << "up scan, thread " << t;
    if (lane % 8 == 0) {
      EXPECT_EQ(r[4], segment) << "width-8 down reduction, thread " << t;
    }
    EXPECT_EQ(static_cast<unsigned>(r[5]), 0x49249249u) << "ballot, thread " << t;
    EXPECT_EQ(r[6], 1 + 2 * warp) << "all/any, thread " << t;
    EXPECT_EQ(d[size_t(t)], 0.5 * warp_sum) << "double xor reduction, thread " << t;
  }
}

TEST(EmulatedSimtWarp, ShuffleFromALaneOutsideTheBlockReturnsNaN) {
  DeviceArray<float> out(40);  // the second warp has 8 lanes; lane 0 reads lane 16 on the first step
  ASSERT_EQ(launch(dim3(1), dim3(40), 0, down_reduce_kernel, out.get()), cudaSuccess);
  const std::vector<float> host = out.to_host();
  EXPECT_EQ(host[0], 32.0f);
  EXPECT_TRUE(std::isnan(host[32]));
}

TEST(EmulatedSimtAtomics, AtomicAddAndMaxCountEveryThread) {
  const unsigned blocks = 7, threads = 96;
  DeviceArray<float> f(std::vector<float>{0.5f});
  DeviceArray<int> i(std::vector<int>{0}), largest(std::vector<int>{-1});
  DeviceArray<unsigned long long> u(std::vector<unsigned long long>{0});
  ASSERT_EQ(launch(dim3(blocks), dim3(threads), 0, atomic_kernel, f.get(), i.get(), u.get(), largest.get()),
            cudaSuccess);
  EXPECT_EQ(f.to_host()[0], 0.5f + blocks * threads);
  EXPECT_EQ(i.to_host()[0], int(2 * blocks * threads));
  EXPECT_EQ(u.to_host()[0], (1ull << 33) * blocks * threads);
  EXPECT_EQ(largest.to_host()[0], int(blocks * threads - 1));
}

TEST(EmulatedSimtBarriers, DivergentSyncthreadsFailsTheLaunchNamingBlockThreadAndSite) {
  const std::string message = failure_of(divergent_barrier_kernel, 32);
  std::printf("%s\n", message.c_str());
  EXPECT_NE(message.find("divergent barriers"), std::string::npos) << message;
  EXPECT_NE(message.find("block (0,0,0)"), std::string::npos) << message;
  EXPECT_NE(message.find("thread ("), std::string::npos) << message;
  EXPECT_NE(message.find("simt_test.cpp:"), std::string::npos) << message;
}

TEST(EmulatedSimtBarriers, ThreadExitingWhileOthersWaitFailsTheLaunch) {
  const std::string message = failure_of(early_exit_kernel, 8);
  EXPECT_NE(message.find("thread (3,0,0): exited while"), std::string::npos) << message;
}

TEST(EmulatedSimtBarriers, ShuffleAgainstSyncthreadsIsADeadlock) {
  const std::string message = failure_of(mixed_collective_kernel, 32);
  EXPECT_NE(message.find("deadlock"), std::string::npos) << message;
}

TEST(EmulatedSimtBarriers, MaskWithoutTheCallingLaneFailsTheLaunch) {
  const std::string message = failure_of(foreign_mask_kernel, 32);
  EXPECT_NE(message.find("does not include the calling lane"), std::string::npos) << message;
}

TEST(EmulatedSimtBarriers, LaunchHelperThrowsCudaErrorNamingTheKernelAndALaterLaunchWorks) {
  DeviceArray<float> out(32);
  try {
    cuae::kernels::launch("divergent_barrier_kernel", divergent_barrier_kernel, dim3(1), dim3(32), 0, nullptr, out.get());
    ADD_FAILURE() << "no exception";
  } catch (const cuae::CudaError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("divergent_barrier_kernel: launch failed"), std::string::npos) << message;
    EXPECT_NE(message.find("cudaErrorLaunchFailure"), std::string::npos) << message;
    EXPECT_NE(message.find("divergent barriers"), std::string::npos) << message;
  }
  cuae_simt::reset_sticky_error();  // on a GPU the process would have to end here
  const Gemm gemm(20, 18, 33, 8);  // the aborted fibers left nothing behind
  EXPECT_LE(gemm.relative_error<true>(), cuae::tol::kDense);
}

TEST(EmulatedSimtPerformance, Tiled256x784x64GemmRunsInUnderAFewSeconds) {
  const Gemm gemm(256, 784, 64, 21);
  const auto start = std::chrono::steady_clock::now();
  const double error = gemm.relative_error<true>();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("256x784x64 GEMM, 16x16 tiles (784 blocks of 256 fibers): %.3f s\n", seconds);
  EXPECT_LE(error, cuae::tol::kDense);
}

}  // namespace
