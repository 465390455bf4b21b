// Self tests of the host SIMT emulation's runtime API: launch-time checks, memory accounting and
// range checks, error reporting, graph capture and replay, events.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using cuae_simt::test::DeviceArray;
using cuae_simt::test::launch;

__global__ void add_one_kernel(float* data, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) data[i] += 1.0f;
}

__global__ void big_shared_kernel(float* out) {
  CUAE_DYNAMIC_SHARED(float, scratch);
  scratch[threadIdx.x] = 2.0f;
  out[threadIdx.x] = scratch[threadIdx.x];
}

// Shrinks the emulated device for one test.
class ScopedDeviceMemory {
 public:
  explicit ScopedDeviceMemory(size_t bytes) : previous_(cuae_simt::device_memory_bytes()) {
    cuae_simt::set_device_memory_bytes(bytes);
  }
  ScopedDeviceMemory(const ScopedDeviceMemory&) = delete;
  ScopedDeviceMemory& operator=(const ScopedDeviceMemory&) = delete;
  ~ScopedDeviceMemory() { cuae_simt::set_device_memory_bytes(previous_); }

 private:
  size_t previous_;
};

// A non-blocking stream, destroyed at scope exit.
class Stream {
 public:
  Stream() { EXPECT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { cudaStreamDestroy(stream_); }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

TEST(EmulatedSimtLaunch, InvalidConfigurationsAreRejectedLikeTheRealRuntime) {
  DeviceArray<float> data(8);
  EXPECT_EQ(launch(dim3(1), dim3(1025), 0, add_one_kernel, data.get(), 8), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "cudaGetLastError resets";
  EXPECT_EQ(launch(dim3(1), dim3(32, 32, 2), 0, add_one_kernel, data.get(), 8), cudaErrorInvalidConfiguration);
  EXPECT_EQ(launch(dim3(1), dim3(1, 1, 65), 0, add_one_kernel, data.get(), 8), cudaErrorInvalidConfiguration);
  EXPECT_EQ(launch(dim3(1, 65536), dim3(1), 0, add_one_kernel, data.get(), 8), cudaErrorInvalidConfiguration);
  EXPECT_EQ(launch(dim3(0), dim3(1), 0, add_one_kernel, data.get(), 8), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidConfiguration) << "cudaPeekAtLastError keeps it";
  cudaGetLastError();
}

TEST(EmulatedSimtLaunch, DynamicSharedMemoryAbove48KiBNeedsTheFunctionAttribute) {
  const size_t bytes = 64 * 1024;
  DeviceArray<float> out(32);
  EXPECT_EQ(launch(dim3(1), dim3(32), bytes, big_shared_kernel, out.get()), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFuncSetAttribute(big_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024),
            cudaErrorInvalidValue);
  ASSERT_EQ(cudaFuncSetAttribute(big_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)),
            cudaSuccess);
  ASSERT_EQ(launch(dim3(1), dim3(32), bytes, big_shared_kernel, out.get()), cudaSuccess);
  EXPECT_EQ(out.to_host()[31], 2.0f);
  cudaGetLastError();
}

TEST(EmulatedSimtMemory, AllocationBeyondTheEmulatedDeviceFails) {
  const size_t used = cuae_simt::device_memory_used();
  ScopedDeviceMemory device(used + (1 << 20));
  void* first = nullptr;
  void* second = nullptr;
  ASSERT_EQ(cudaMalloc(&first, 600 << 10), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&second, 600 << 10), cudaErrorMemoryAllocation);
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  size_t free_bytes = 0, total_bytes = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess);
  EXPECT_EQ(total_bytes, used + (1 << 20));
  EXPECT_EQ(free_bytes, (1 << 20) - (600 << 10));
  ASSERT_EQ(cudaFree(first), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&second, 600 << 10), cudaSuccess);
  EXPECT_EQ(cuae_simt::device_memory_used(), used + (600 << 10));
  EXPECT_EQ(cudaFree(second), cudaSuccess);
  EXPECT_EQ(cudaFree(second), cudaErrorInvalidValue) << "double free";
  cudaGetLastError();
}

TEST(EmulatedSimtMemory, FreshAllocationsArePoisonedAndAligned) {
  DeviceArray<float> data(13);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(data.get()) % 256, 0u);
  for (float v : data.to_host()) EXPECT_TRUE(std::isnan(v));
}

TEST(EmulatedSimtMemory, CopiesOutsideADeviceAllocationAreRejected) {
  DeviceArray<float> data(16);
  std::vector<float> host(32, 1.0f);
  EXPECT_EQ(cudaMemcpy(data.get(), host.data(), 17 * sizeof(float), cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), data.get() + 1, 16 * sizeof(float), cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), host.data() + 16, 4, cudaMemcpyDeviceToHost), cudaErrorInvalidValue)
      << "host pointer passed as device memory";
  EXPECT_EQ(cudaMemset(host.data(), 0, 4), cudaErrorInvalidValue);
  ASSERT_EQ(cudaMemset(data.get() + 8, 0, 8 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(data.get(), host.data(), 8 * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  const std::vector<float> back = data.to_host();
  EXPECT_EQ(back[7], 1.0f);
  EXPECT_EQ(back[8], 0.0f);
  cudaGetLastError();
}

TEST(EmulatedSimtDevice, PropertiesDescribeTheEmulator) {
  int count = 0, device = -1;
  ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  EXPECT_EQ(count, 1);
  EXPECT_EQ(cudaSetDevice(1), cudaErrorInvalidDevice);
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(device, 0);
  cudaDeviceProp prop;
  ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  EXPECT_STREQ(prop.name, "cuae SIMT emulator");
  EXPECT_EQ(prop.warpSize, 32);
  EXPECT_EQ(prop.totalGlobalMem, cuae_simt::device_memory_bytes());
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  EXPECT_EQ(sms, prop.multiProcessorCount);
  EXPECT_STREQ(cudaGetErrorName(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorMemoryAllocation), "out of memory");
  cudaGetLastError();
}

TEST(EmulatedSimtGraphs, CapturedWorkRunsOnlyWhenTheGraphIsLaunched) {
  const int n = 37;
  DeviceArray<float> data(std::vector<float>(n, 0.0f));
  float* host = nullptr;  // pinned: a GPU refuses to capture a copy into pageable memory
  ASSERT_EQ(cudaMallocHost(&host, n * sizeof(float)), cudaSuccess);
  std::fill(host, host + n, -1.0f);
  Stream stream;
  ASSERT_EQ(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeGlobal), cudaSuccess);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  ASSERT_EQ(cudaStreamIsCapturing(stream.get(), &status), cudaSuccess);
  EXPECT_EQ(status, cudaStreamCaptureStatusActive);
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(2);
  config.blockDim = dim3(32);
  config.stream = stream.get();
  ASSERT_EQ(cudaLaunchKernelEx(&config, add_one_kernel, data.get(), n), cudaSuccess);
  ASSERT_EQ(cudaLaunchKernelEx(&config, add_one_kernel, data.get(), n), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(host, data.get(), n * sizeof(float), cudaMemcpyDeviceToHost, stream.get()),
            cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream.get(), &graph), cudaSuccess);
  EXPECT_EQ(host[0], -1.0f) << "capture must not execute";
  EXPECT_EQ(data.to_host()[0], 0.0f) << "capture must not execute";
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphDestroy(graph), cudaSuccess);  // the executable graph keeps its own copy
  for (int i = 0; i < 3; ++i) ASSERT_EQ(cudaGraphLaunch(exec, stream.get()), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream.get()), cudaSuccess);
  EXPECT_EQ(host[n - 1], 6.0f);
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(host), cudaSuccess);
}

TEST(EmulatedSimtGraphs, SynchronisingDuringCaptureInvalidatesIt) {
  Stream stream;
  ASSERT_EQ(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream.get()), cudaErrorStreamCaptureUnsupported);
  void* memory = nullptr;
  EXPECT_EQ(cudaMalloc(&memory, 64), cudaErrorStreamCaptureUnsupported);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(stream.get(), &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);
  EXPECT_EQ(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeGlobal), cudaErrorStreamCaptureUnsupported)
      << "the legacy stream cannot capture";
  cudaGetLastError();
}

TEST(EmulatedSimtGraphs, StreamJoiningThroughAnEventIsCapturedToo) {
  const int n = 8;
  DeviceArray<float> data(std::vector<float>(n, 0.0f));
  Stream main, side;
  cudaEvent_t fork = nullptr;
  ASSERT_EQ(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(main.get(), cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(fork, main.get()), cudaSuccess);
  ASSERT_EQ(cudaStreamWaitEvent(side.get(), fork, 0), cudaSuccess);
  cudaLaunchConfig_t config{};
  config.blockDim = dim3(n);
  config.stream = side.get();
  ASSERT_EQ(cudaLaunchKernelEx(&config, add_one_kernel, data.get(), n), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(main.get(), &graph), cudaSuccess);
  EXPECT_EQ(data.to_host()[0], 0.0f);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, main.get()), cudaSuccess);
  EXPECT_EQ(data.to_host()[0], 1.0f);
  ASSERT_EQ(cudaLaunchKernelEx(&config, add_one_kernel, data.get(), n), cudaSuccess) << "side left the capture";
  EXPECT_EQ(data.to_host()[0], 2.0f);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaEventDestroy(fork);
}

TEST(EmulatedSimtEvents, ElapsedTimeNeedsTwoTimedRecords) {
  cudaEvent_t start = nullptr, end = nullptr, untimed = nullptr;
  ASSERT_EQ(cudaEventCreate(&start), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&end), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming), cudaSuccess);
  float ms = -1;
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, end), cudaErrorInvalidResourceHandle) << "not recorded yet";
  ASSERT_EQ(cudaEventRecord(start, nullptr), cudaSuccess);
  DeviceArray<float> data(std::vector<float>(64, 0.0f));
  ASSERT_EQ(launch(dim3(1), dim3(64), 0, add_one_kernel, data.get(), 64), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(end, nullptr), cudaSuccess);
  ASSERT_EQ(cudaEventSynchronize(end), cudaSuccess);
  ASSERT_EQ(cudaEventElapsedTime(&ms, start, end), cudaSuccess);
  EXPECT_GE(ms, 0.0f);
  ASSERT_EQ(cudaEventRecord(untimed, nullptr), cudaSuccess);
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, untimed), cudaErrorInvalidResourceHandle);
  cudaEventDestroy(start);
  cudaEventDestroy(end);
  cudaEventDestroy(untimed);
  cudaGetLastError();
}

}  // namespace
