// Host-side CUDA runtime API of the host SIMT emulation: errors, memory, streams, events, graphs and
// kernel launch. "Device" memory is host memory; every call completes before it returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "scheduler.h"
#include "types.h"

// The codes the emulation returns, with the real runtime's values.
enum cudaError : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureImplicit = 906,
};
using cudaError_t = cudaError;

const char* cudaGetErrorName(cudaError_t error);
// For cudaErrorLaunchFailure this is the emulator's detailed text (kernel, block, thread, site).
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();

// ---- device ---------------------------------------------------------------------------------------
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int maxThreadsPerMultiProcessor;
  int multiProcessorCount;
  int major;
  int minor;
  int l2CacheSize;
  int memoryBusWidth;
};

enum cudaDeviceAttr : int {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrMaxThreadsPerMultiProcessor = 39,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrL2CacheSize = 89,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);

// ---- memory ---------------------------------------------------------------------------------------
enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

struct CUstream_st;
using cudaStream_t = CUstream_st*;  // nullptr: the legacy default stream

// Device allocations are 256-byte aligned host memory, poisoned (0xFF bytes, NaN) like fresh device
// memory is undefined. Live bytes beyond the emulated device size fail with cudaErrorMemoryAllocation.
cudaError_t cudaMalloc(void** pointer, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** pointer, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(pointer), bytes);
}
cudaError_t cudaFree(void* pointer);
cudaError_t cudaMallocHost(void** pointer, size_t bytes);
template <typename T>
cudaError_t cudaMallocHost(T** pointer, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(pointer), bytes);
}
cudaError_t cudaFreeHost(void* pointer);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
// The device side of a copy or memset must lie inside one live device allocation.
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);

// ---- streams and events ---------------------------------------------------------------------------
inline constexpr unsigned cudaStreamDefault = 0;
inline constexpr unsigned cudaStreamNonBlocking = 1;
inline constexpr unsigned cudaEventDefault = 0;
inline constexpr unsigned cudaEventBlockingSync = 1;
inline constexpr unsigned cudaEventDisableTiming = 2;

struct CUevent_st;
using cudaEvent_t = CUevent_st*;

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
// Host steady-clock milliseconds between the two records.
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

// ---- graphs ---------------------------------------------------------------------------------------
// While a stream captures, launches, async copies/memsets and graph launches on it (and on streams
// that joined through cudaStreamWaitEvent on an event recorded in the capture) are recorded in
// order; cudaGraphLaunch replays them. Synchronising calls during a capture fail as on a GPU.
enum cudaStreamCaptureMode : int {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus : int {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};

struct CUgraph_st;
struct CUgraphExec_st;
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

// ---- kernels --------------------------------------------------------------------------------------
enum cudaFuncAttribute : int {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

struct cudaLaunchConfig_t {
  dim3 gridDim;
  dim3 blockDim;
  size_t dynamicSmemBytes;
  cudaStream_t stream;
};

namespace cuae_simt {

// Emulated device memory size (default 8 GiB, or CUAE_SIMT_DEVICE_MEMORY bytes); and bytes in use.
void set_device_memory_bytes(size_t bytes);

// Asynchronous streams (README): work queued on a created stream runs only when something waits for
// it; independent streams are interleaved in an order drawn from `seed`. Overrides
// CUAE_SIMT_ASYNC=SEED (any SEED > 0 turns it on). Switching runs whatever is queued.
void set_async_streams(bool on, uint64_t seed = 1);
bool async_streams();

// Emulation only, for tests that provoke a fault on purpose: clears the sticky error that a failed
// launch leaves (on a GPU only the end of the process does). See README, "Sticky errors".
void reset_sticky_error();
size_t device_memory_bytes();
size_t device_memory_used();

namespace detail {
cudaError_t submit_launch(LaunchSpec spec, cudaStream_t stream);
cudaError_t set_func_attribute(KernelId kernel, cudaFuncAttribute attr, int value);
}  // namespace detail
}  // namespace cuae_simt

template <typename T>
cudaError_t cudaFuncSetAttribute(T* kernel, cudaFuncAttribute attr, int value) {
  return cuae_simt::detail::set_func_attribute(reinterpret_cast<cuae_simt::detail::KernelId>(kernel), attr, value);
}

// Runs (or, on a capturing stream, records) the grid. The arguments are converted to the kernel's
// parameter types and copied once, as the real runtime copies them into constant memory.
template <typename... KernelArgs, typename... Args>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* config, void (*kernel)(KernelArgs...), Args&&... args) {
  static_assert(sizeof...(KernelArgs) == sizeof...(Args), "cudaLaunchKernelEx: wrong number of kernel arguments");
  if (config == nullptr) return cudaErrorInvalidValue;
  auto params = std::make_shared<const std::tuple<std::decay_t<KernelArgs>...>>(std::forward<Args>(args)...);
  cuae_simt::detail::LaunchSpec spec;
  spec.kernel = reinterpret_cast<cuae_simt::detail::KernelId>(kernel);
  spec.grid = config->gridDim;
  spec.block = config->blockDim;
  spec.dynamic_shared_bytes = config->dynamicSmemBytes;
  if (kernel != nullptr) {
    spec.body = [kernel, params] { std::apply(kernel, *params); };
  }
  return cuae_simt::detail::submit_launch(std::move(spec), config->stream);
}
