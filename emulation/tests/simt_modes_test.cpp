// Self tests of the emulation's GPU-like modes: static shared memory poisoned per block, selectable
// block order, sticky launch errors and guard zones around device allocations.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common/portable.cuh"
#include "test_support.h"

// Outside the anonymous namespace, so that fault messages can name them (dladdr sees exported symbols).
__global__ void store_one_past_kernel(float* out, int n) {
  const int i = static_cast<int>(threadIdx.x);
  if (i <= n) out[i] = 1.0f;  // <= : the bug
}
__global__ void store_one_before_kernel(float* out, int n) {
  const int i = static_cast<int>(threadIdx.x);
  if (i < n) out[i - 1] = 1.0f;  // i - 1 : the bug
}
__global__ void sum_one_past_kernel(const float* in, float* out, int n) {
  float sum = 0.0f;
  for (int i = 0; i <= n; ++i) sum += in[i];  // <= : the bug, reads the guard
  out[0] = sum;
}

namespace {

using cuae_simt::test::DeviceArray;
using cuae_simt::test::launch;

// Block 0 writes its shared tile; every other block reads the tile without writing it. On a GPU those
// reads see undefined values (never block 0's); here they must see the 0xFF poison (NaN).
__global__ void unwritten_shared_kernel(float* out) {
  CUAE_SHARED(float, tile, [64]);
  if (blockIdx.x == 0) tile[threadIdx.x] = 1.0f + static_cast<float>(threadIdx.x);
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = tile[(threadIdx.x + 1) % blockDim.x];
}

TEST(EmulatedSimtModes, StaticSharedIsPoisonedForEveryBlock) {
  constexpr unsigned kThreads = 64, kBlocks = 3;
  DeviceArray<float> out(kThreads * kBlocks);
  ASSERT_EQ(launch(dim3(kBlocks), dim3(kThreads), 0, unwritten_shared_kernel, out.get()), cudaSuccess);
  const std::vector<float> host = out.to_host();
  for (unsigned t = 0; t < kThreads; ++t) EXPECT_EQ(host[t], 1.0f + static_cast<float>((t + 1) % kThreads)) << t;
  for (unsigned i = kThreads; i < kThreads * kBlocks; ++i) EXPECT_TRUE(std::isnan(host[i])) << "element " << i;
}

// Two declarations of one kernel get separate storage, shared by every thread of the block.
__global__ void two_tiles_kernel(int* out) {
  CUAE_SHARED(int, first, [32]);
  CUAE_SHARED(int, second, [32]);
  first[threadIdx.x] = static_cast<int>(threadIdx.x);
  second[threadIdx.x] = -static_cast<int>(threadIdx.x);
  __syncthreads();
  const unsigned other = 31 - threadIdx.x;
  out[blockIdx.x * 32 + threadIdx.x] = first[other] * 100 + second[other];
}

TEST(EmulatedSimtModes, StaticSharedDeclarationsAreSeparateAndBlockWide) {
  DeviceArray<int> out(64);
  ASSERT_EQ(launch(dim3(2), dim3(32), 0, two_tiles_kernel, out.get()), cudaSuccess);
  const std::vector<int> host = out.to_host();
  for (int i = 0; i < 64; ++i) EXPECT_EQ(host[i], (31 - i % 32) * 99) << i;
}

__global__ void oversized_shared_kernel(float* out) {
  CUAE_SHARED(float, huge, [13 * 1024]);  // 52 KiB: nvcc refuses this much static shared memory
  huge[threadIdx.x] = 0.0f;
  out[threadIdx.x] = huge[threadIdx.x];
}

TEST(EmulatedSimtModes, StaticSharedAbove48KiBFailsTheLaunch) {
  DeviceArray<float> out(32);
  EXPECT_EQ(launch(dim3(1), dim3(32), 0, oversized_shared_kernel, out.get()), cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(cudaErrorLaunchFailure)).find("exceeds 48 KiB"), std::string::npos);
  cuae_simt::reset_sticky_error();
}

// ---- block order ---------------------------------------------------------------------------------
using cuae_simt::ThreadOrder;

class ScopedBlockOrder {
 public:
  explicit ScopedBlockOrder(ThreadOrder order, uint64_t seed = 1) : previous_(cuae_simt::block_order()) {
    cuae_simt::set_block_order(order, seed);
  }
  ScopedBlockOrder(const ScopedBlockOrder&) = delete;
  ScopedBlockOrder& operator=(const ScopedBlockOrder&) = delete;
  ~ScopedBlockOrder() { cuae_simt::set_block_order(previous_, 1); }

 private:
  ThreadOrder previous_;
};

// Thread 0 of each block appends the block's linear index (blocks run one after another here).
__global__ void block_order_kernel(unsigned* sequence, unsigned* count) {
  if (threadIdx.x != 0) return;
  sequence[(*count)++] = blockIdx.x + gridDim.x * blockIdx.y;
}

std::vector<unsigned> run_order(ThreadOrder order, uint64_t seed) {
  ScopedBlockOrder scoped(order, seed);
  DeviceArray<unsigned> sequence(12), count(std::vector<unsigned>{0});
  EXPECT_EQ(launch(dim3(4, 3), dim3(2), 0, block_order_kernel, sequence.get(), count.get()), cudaSuccess);
  return sequence.to_host();
}

TEST(EmulatedSimtModes, BlockOrderIsSelectable) {
  const std::vector<unsigned> forward = run_order(ThreadOrder::forward, 0);
  const std::vector<unsigned> reverse = run_order(ThreadOrder::reverse, 0);
  const std::vector<unsigned> random = run_order(ThreadOrder::random, 7);
  for (unsigned i = 0; i < 12; ++i) {
    EXPECT_EQ(forward[i], i);
    EXPECT_EQ(reverse[i], 11 - i);
  }
  EXPECT_NE(random, forward);
  EXPECT_NE(random, reverse);
  EXPECT_TRUE(std::is_permutation(random.begin(), random.end(), forward.begin()));
  EXPECT_EQ(run_order(ThreadOrder::random, 7), random) << "the seed reproduces the order";
}

// The bug block order exposes: each block stores one element past its row. In ascending order the
// next block overwrites it, so only the last row's stray store (into the guard) would be visible.
__global__ void row_overrun_kernel(float* out, int width) {
  for (int c = static_cast<int>(threadIdx.x); c <= width; c += static_cast<int>(blockDim.x)) {  // <= : the bug
    out[blockIdx.x * width + c] = static_cast<float>(blockIdx.x);
  }
}

TEST(EmulatedSimtModes, ReverseBlockOrderShowsAStorePastTheRow) {
  constexpr int kWidth = 5, kRows = 4;
  const auto row_is_clean = [&](ThreadOrder order) {
    ScopedBlockOrder scoped(order);
    DeviceArray<float> out(kWidth * kRows + 1);
    EXPECT_EQ(launch(dim3(kRows), dim3(4), 0, row_overrun_kernel, out.get(), kWidth), cudaSuccess);
    const std::vector<float> host = out.to_host();
    for (int r = 0; r < kRows; ++r) {
      for (int c = 0; c < kWidth; ++c) {
        if (host[r * kWidth + c] != static_cast<float>(r)) return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(row_is_clean(ThreadOrder::forward)) << "hidden in ascending order";
  EXPECT_FALSE(row_is_clean(ThreadOrder::reverse)) << "shown in descending order";
}

// ---- sticky errors -------------------------------------------------------------------------------
__global__ void faulting_kernel(float* out) {
  if (threadIdx.x == 0) __syncthreads();  // divergent barrier: the launch fails
  out[threadIdx.x] = 0.0f;
}

__global__ void fill_kernel(float* out) { out[threadIdx.x] = 2.0f; }

TEST(EmulatedSimtModes, AFaultIsStickyUntilReset) {
  DeviceArray<float> out(32);
  ASSERT_EQ(launch(dim3(1), dim3(32), 0, faulting_kernel, out.get()), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure) << "not cleared by reading it";
  EXPECT_EQ(launch(dim3(1), dim3(32), 0, fill_kernel, out.get()), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  void* more = nullptr;
  EXPECT_EQ(cudaMalloc(&more, 64), cudaErrorLaunchFailure);
  std::vector<float> host(32);
  EXPECT_EQ(cudaMemcpy(host.data(), out.get(), 32 * sizeof(float), cudaMemcpyDeviceToHost), cudaErrorLaunchFailure);
  cudaStream_t stream = nullptr;
  EXPECT_EQ(cudaStreamCreate(&stream), cudaErrorLaunchFailure);
  cuae_simt::reset_sticky_error();
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  ASSERT_EQ(launch(dim3(1), dim3(32), 0, fill_kernel, out.get()), cudaSuccess);
  for (const float v : out.to_host()) EXPECT_EQ(v, 2.0f);
}

// ---- guard zones ---------------------------------------------------------------------------------
std::string fault_after_reset() {
  std::string message = cudaGetErrorString(cudaErrorLaunchFailure);
  cuae_simt::reset_sticky_error();
  return message;
}

TEST(EmulatedSimtModes, AStorePastTheEndFailsTheLaunchNamingKernelAndOffset) {
  constexpr int kCount = 7;
  DeviceArray<float> out(kCount);
  ASSERT_EQ(launch(dim3(1), dim3(32), 0, store_one_past_kernel, out.get(), kCount), cudaErrorLaunchFailure);
  const std::string message = fault_after_reset();
  EXPECT_NE(message.find("store_one_past_kernel"), std::string::npos) << message;
  EXPECT_NE(message.find("allocation of 28 bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("offset 28"), std::string::npos) << message;
  EXPECT_NE(message.find("guard zone"), std::string::npos) << message;
  // The guards are poisoned again: a correct launch afterwards passes.
  ASSERT_EQ(launch(dim3(1), dim3(kCount), 0, fill_kernel, out.get()), cudaSuccess);
}

TEST(EmulatedSimtModes, AStoreBeforeTheStartFailsTheLaunch) {
  DeviceArray<float> out(5);
  ASSERT_EQ(launch(dim3(1), dim3(32), 0, store_one_before_kernel, out.get(), 5), cudaErrorLaunchFailure);
  const std::string message = fault_after_reset();
  EXPECT_NE(message.find("store_one_before_kernel"), std::string::npos) << message;
  EXPECT_NE(message.find("offset -4"), std::string::npos) << message;
}

TEST(EmulatedSimtModes, AReadPastTheEndSeesNaN) {
  constexpr int kCount = 9;
  DeviceArray<float> in(std::vector<float>(kCount, 1.0f)), out(1);
  ASSERT_EQ(launch(dim3(1), dim3(1), 0, sum_one_past_kernel, in.get(), out.get(), kCount), cudaSuccess);
  EXPECT_TRUE(std::isnan(out.to_host()[0]));
  ASSERT_EQ(launch(dim3(1), dim3(1), 0, sum_one_past_kernel, in.get(), out.get(), kCount - 1), cudaSuccess);
  EXPECT_EQ(out.to_host()[0], static_cast<float>(kCount));
}

// ---- asynchronous streams ------------------------------------------------------------------------
class ScopedAsync {
 public:
  explicit ScopedAsync(bool on, uint64_t seed = 1) : previous_(cuae_simt::async_streams()) {
    cuae_simt::set_async_streams(on, seed);
  }
  ScopedAsync(const ScopedAsync&) = delete;
  ScopedAsync& operator=(const ScopedAsync&) = delete;
  ~ScopedAsync() { cuae_simt::set_async_streams(previous_, 1); }

 private:
  bool previous_;
};

class OwnStream {
 public:
  OwnStream() { EXPECT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess); }
  OwnStream(const OwnStream&) = delete;
  OwnStream& operator=(const OwnStream&) = delete;
  ~OwnStream() { cudaStreamDestroy(stream_); }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class Pinned {
 public:
  explicit Pinned(size_t count) { EXPECT_EQ(cudaMallocHost(&data_, count * sizeof(float)), cudaSuccess); }
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;
  ~Pinned() { cudaFreeHost(data_); }
  float* get() const { return data_; }

 private:
  float* data_ = nullptr;
};

cudaError_t fill_on(cudaStream_t stream, float* out) {
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(1);
  config.blockDim = dim3(32);
  config.stream = stream;
  return cudaLaunchKernelEx(&config, fill_kernel, out);
}

TEST(EmulatedSimtModes, AsyncStreamsRunOnlyWhenWaitedFor) {
  ScopedAsync async(true);
  OwnStream stream;
  DeviceArray<float> data(32);
  Pinned host(32);
  host.get()[0] = -1.0f;
  ASSERT_EQ(fill_on(stream.get(), data.get()), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(host.get(), data.get(), 32 * sizeof(float), cudaMemcpyDeviceToHost, stream.get()),
            cudaSuccess);
  EXPECT_EQ(host.get()[0], -1.0f) << "a host read before the sync sees stale data";
  ASSERT_EQ(cudaStreamSynchronize(stream.get()), cudaSuccess);
  EXPECT_EQ(host.get()[0], 2.0f);
  EXPECT_EQ(host.get()[31], 2.0f);
}

TEST(EmulatedSimtModes, AsyncStreamsNeedTheEventWait) {
  ScopedAsync async(true);
  OwnStream producer, consumer;
  cudaEvent_t ready = nullptr;
  ASSERT_EQ(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), cudaSuccess);
  for (const bool wait : {false, true}) {
    DeviceArray<float> data(32), copy(32);
    ASSERT_EQ(fill_on(producer.get(), data.get()), cudaSuccess);
    ASSERT_EQ(cudaEventRecord(ready, producer.get()), cudaSuccess);
    if (wait) {
      ASSERT_EQ(cudaStreamWaitEvent(consumer.get(), ready, 0), cudaSuccess);
    }
    ASSERT_EQ(cudaMemcpyAsync(copy.get(), data.get(), 32 * sizeof(float), cudaMemcpyDeviceToDevice, consumer.get()),
              cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(consumer.get()), cudaSuccess);  // the producer is not synchronised
    const std::vector<float> host = copy.to_host();
    if (wait) {
      EXPECT_EQ(host[0], 2.0f) << "the wait ran the producer up to the record";
    } else {
      EXPECT_TRUE(std::isnan(host[0])) << "without the wait the consumer copied unwritten memory";
    }
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  cudaEventDestroy(ready);
}

TEST(EmulatedSimtModes, AsyncEventSynchronizeRunsUpToTheRecordOnly) {
  ScopedAsync async(true);
  OwnStream stream;
  DeviceArray<float> first(32), second(32);
  cudaEvent_t between = nullptr;
  ASSERT_EQ(cudaEventCreate(&between), cudaSuccess);
  ASSERT_EQ(fill_on(stream.get(), first.get()), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(between, stream.get()), cudaSuccess);
  ASSERT_EQ(fill_on(stream.get(), second.get()), cudaSuccess);
  ASSERT_EQ(cudaEventSynchronize(between), cudaSuccess);
  EXPECT_EQ(first.to_host()[0], 2.0f);
  EXPECT_TRUE(std::isnan(second.to_host()[0])) << "queued after the record: not run yet";
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(second.to_host()[0], 2.0f);
  cudaEventDestroy(between);
}

TEST(EmulatedSimtModes, AsyncPageableCopiesAreStagedAtTheCall) {
  ScopedAsync async(true);
  OwnStream stream;
  DeviceArray<float> data(32);
  std::vector<float> host(32, -1.0f);  // pageable: a GPU copies it synchronously, after the queued work
  ASSERT_EQ(fill_on(stream.get(), data.get()), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(host.data(), data.get(), 32 * sizeof(float), cudaMemcpyDeviceToHost, stream.get()),
            cudaSuccess);
  EXPECT_EQ(host[0], 2.0f);
}

TEST(EmulatedSimtModes, CapturedCopiesFromPageableMemoryAreRefused) {
  OwnStream stream;
  DeviceArray<float> data(8);
  std::vector<float> pageable(8, 1.0f);
  ASSERT_EQ(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(data.get(), pageable.data(), 8 * sizeof(float), cudaMemcpyHostToDevice, stream.get()),
            cudaErrorStreamCaptureUnsupported);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(stream.get(), &graph), cudaErrorStreamCaptureInvalidated);

  Pinned pinned(8);
  ASSERT_EQ(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(data.get(), pinned.get(), 8 * sizeof(float), cudaMemcpyHostToDevice, stream.get()),
            cudaSuccess);
  ASSERT_EQ(cudaStreamEndCapture(stream.get(), &graph), cudaSuccess);
  cudaGraphDestroy(graph);
  cudaGetLastError();
}

}  // namespace
