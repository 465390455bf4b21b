// Host-side CUDA runtime API of the host SIMT emulation: memory accounting, streams, events, graph
// capture and launch validation. Everything runs synchronously on the calling thread.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "cuda_runtime.h"

using Operation = std::function<cudaError_t()>;

struct CUgraph_st {
  std::vector<Operation> nodes;
  cudaStream_t origin = nullptr;
  std::vector<cudaStream_t> joined;  // streams that joined the capture through an event
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  bool capturing = true;
  bool invalidated = false;
};

struct CUgraphExec_st {
  std::vector<Operation> nodes;
};

struct CUstream_st {
  unsigned flags = cudaStreamDefault;
  CUgraph_st* capture = nullptr;
  // Asynchronous mode only (README): work queued but not yet run, and how much ever was / has run.
  std::deque<Operation> pending;
  uint64_t queued = 0;
  uint64_t done = 0;
};

struct CUevent_st {
  unsigned flags = cudaEventDefault;
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
  CUgraph_st* captured_in = nullptr;  // recorded during that (still running) capture
  // Asynchronous mode: the record completes when `stream` has run `ticket` operations.
  cudaStream_t stream = nullptr;
  uint64_t ticket = 0;
  std::shared_ptr<std::optional<std::chrono::steady_clock::time_point>> completed_at;
};

namespace cuae_simt {
namespace {

constexpr size_t kAlignment = 256;  // cudaMalloc's guarantee
// Poisoned canaries before and after every allocation, checked after every launch (README).
constexpr size_t kGuardBytes = 256;  // a multiple of kAlignment, so the user pointer stays aligned
constexpr size_t kDefaultSharedLimit = 48 * 1024;
constexpr size_t kOptinSharedLimit = 227 * 1024;  // sm_90

size_t default_device_memory() {
  const char* text = std::getenv("CUAE_SIMT_DEVICE_MEMORY");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : size_t{8} << 30;
}

uint64_t async_seed_from_environment() {
  const char* text = std::getenv("CUAE_SIMT_ASYNC");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 0;
}

struct State {
  std::mutex mutex;
  size_t device_bytes = default_device_memory();
  size_t used_bytes = 0;
  std::map<const std::byte*, size_t> device;  // live allocations by start address
  std::map<const void*, size_t> pinned;
  std::vector<CUgraph_st*> captures;  // graphs being captured
  std::map<detail::KernelId, size_t> max_dynamic_shared;
  // Asynchronous streams (README): off unless CUAE_SIMT_ASYNC=SEED (> 0) or set_async_streams.
  bool async = async_seed_from_environment() != 0;
  std::mt19937_64 interleave{async_seed_from_environment()};
  std::vector<cudaStream_t> streams;  // live created streams
};

State& state() {
  static State instance;
  return instance;
}

thread_local cudaError_t g_last_error = cudaSuccess;
// A kernel fault corrupts the context on a GPU: from then on every call fails with that error, in
// every thread, until the process ends. Checked first by every call that would reach the device.
std::atomic<cudaError_t> g_sticky_error{cudaSuccess};

cudaError_t sticky_error() { return g_sticky_error.load(std::memory_order_relaxed); }

cudaError_t record(cudaError_t error) {
  if (error != cudaSuccess) g_last_error = error;
  return error;
}

// [pointer, pointer + bytes) lies inside one of `allocations` (start address -> size). Caller locks.
template <typename Allocations>
bool inside_one(const Allocations& allocations, const void* pointer, size_t bytes) {
  const auto* p = static_cast<const std::byte*>(pointer);
  auto it = allocations.upper_bound(static_cast<typename Allocations::key_type>(pointer));
  if (it == allocations.begin()) return false;
  --it;
  const auto* start = static_cast<const std::byte*>(it->first);
  return p >= start && p + bytes <= start + it->second;
}

// [pointer, pointer + bytes) lies inside one live device allocation.
bool is_device_range(const void* pointer, size_t bytes) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return inside_one(s.device, pointer, bytes);
}

CUgraph_st* blocking_capture() {
  for (CUgraph_st* graph : state().captures) {
    if (graph->mode != cudaStreamCaptureModeRelaxed && !(graph->origin->flags & cudaStreamNonBlocking)) return graph;
  }
  return nullptr;
}

// A call that would synchronise with the device while a (non-relaxed) capture runs breaks it, as
// on a GPU: the capture is invalidated and the call fails.
cudaError_t check_no_capture(cudaError_t error_if_capturing) {
  for (CUgraph_st* graph : state().captures) {
    if (graph->mode != cudaStreamCaptureModeRelaxed) {
      graph->invalidated = true;
      return error_if_capturing;
    }
  }
  return cudaSuccess;
}

// ---- asynchronous mode ----------------------------------------------------------------------------
// Runs queued work of `stream` until it has run `ticket` operations (unlocked: operations wait for
// other streams and enqueue again). Returns the first failure.
cudaError_t run_until(cudaStream_t stream, uint64_t ticket) {
  cudaError_t first = cudaSuccess;
  for (;;) {
    Operation op;
    {
      std::lock_guard lock(state().mutex);
      if (stream->done >= ticket || stream->pending.empty()) break;
      op = std::move(stream->pending.front());
      stream->pending.pop_front();
    }
    const cudaError_t error = op();
    {
      std::lock_guard lock(state().mutex);
      ++stream->done;
    }
    if (first == cudaSuccess) first = error;
  }
  return first;
}

cudaError_t run_stream(cudaStream_t stream) {
  uint64_t queued = 0;
  {
    std::lock_guard lock(state().mutex);
    queued = stream->queued;
  }
  return run_until(stream, queued);
}

// Runs the queued work of every stream (of the blocking ones only: what the legacy stream waits
// for), one operation at a time from a randomly chosen stream, until none is left.
cudaError_t run_all(bool blocking_only) {
  cudaError_t first = cudaSuccess;
  for (;;) {
    cudaStream_t chosen = nullptr;
    {
      State& s = state();
      std::lock_guard lock(s.mutex);
      std::vector<cudaStream_t> ready;
      for (cudaStream_t stream : s.streams) {
        if (!stream->pending.empty() && !(blocking_only && (stream->flags & cudaStreamNonBlocking))) {
          ready.push_back(stream);
        }
      }
      if (ready.empty()) break;
      chosen = ready[std::uniform_int_distribution<size_t>(0, ready.size() - 1)(s.interleave)];
    }
    uint64_t next = 0;
    {
      std::lock_guard lock(state().mutex);
      next = chosen->done + 1;
    }
    if (const cudaError_t error = run_until(chosen, next); first == cudaSuccess) first = error;
  }
  return first;
}

bool async_mode() {
  std::lock_guard lock(state().mutex);
  return state().async;
}

// [pointer, pointer + bytes) lies inside one cudaMallocHost allocation.
bool is_pinned(const void* pointer, size_t bytes) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return inside_one(s.pinned, pointer, bytes);
}

// Runs `op` now, or records it when `stream` captures, or queues it in asynchronous mode.
cudaError_t enqueue(cudaStream_t stream, Operation op) {
  {
    std::lock_guard lock(state().mutex);
    if (stream != nullptr && stream->capture != nullptr) {
      if (stream->capture->invalidated) return cudaErrorStreamCaptureInvalidated;
      stream->capture->nodes.push_back(std::move(op));
      return cudaSuccess;
    }
    if (stream == nullptr) {  // the legacy stream synchronises with every blocking stream
      if (CUgraph_st* graph = blocking_capture()) {
        graph->invalidated = true;
        return cudaErrorStreamCaptureImplicit;
      }
    }
    if (state().async && stream != nullptr) {
      stream->pending.push_back(std::move(op));
      ++stream->queued;
      return cudaSuccess;
    }
  }
  // Legacy-stream work runs at once, after the blocking streams' queued work (asynchronous mode).
  if (stream == nullptr && async_mode()) {
    if (const cudaError_t error = run_all(true); error != cudaSuccess) return error;
  }
  return op();  // unlocked: a graph's nodes enqueue again
}

cudaError_t check_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return cudaErrorInvalidValue;
  switch (kind) {
    case cudaMemcpyHostToHost:
    case cudaMemcpyDefault: return cudaSuccess;
    case cudaMemcpyHostToDevice: return is_device_range(dst, bytes) ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDeviceToHost: return is_device_range(src, bytes) ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDeviceToDevice:
      return is_device_range(dst, bytes) && is_device_range(src, bytes) ? cudaSuccess : cudaErrorInvalidValue;
  }
  return cudaErrorInvalidMemcpyDirection;
}

Operation copy_op(void* dst, const void* src, size_t bytes) {
  return [=] {
    if (bytes != 0) std::memmove(dst, src, bytes);
    return cudaSuccess;
  };
}

Operation memset_op(void* dst, int value, size_t bytes) {
  return [=] {
    if (bytes != 0) std::memset(dst, value, bytes);
    return cudaSuccess;
  };
}

// The first byte of [begin, begin + kGuardBytes) that is no longer 0xFF, or nullptr.
const std::byte* first_changed(const std::byte* begin) {
  for (const std::byte* p = begin; p != begin + kGuardBytes; ++p) {
    if (*p != std::byte{0xFF}) return p;
  }
  return nullptr;
}

// After a launch: every allocation's guards are intact. Otherwise the launch fails, naming the kernel,
// the allocation and the offset of the first stray byte; the guards are poisoned again.
cudaError_t check_guards(detail::KernelId kernel) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  std::string report;
  for (const auto& [start, bytes] : s.device) {
    auto* before = const_cast<std::byte*>(start) - kGuardBytes;
    auto* after = const_cast<std::byte*>(start) + bytes;
    for (std::byte* guard : {before, after}) {
      const std::byte* stray = first_changed(guard);
      if (stray == nullptr) continue;
      if (report.empty()) {
        char text[160];
        std::snprintf(text, sizeof text, "wrote outside the allocation of %zu bytes at %p: first stray byte at offset %lld",
                      bytes, static_cast<const void*>(start), static_cast<long long>(stray - start));
        report = text;
      }
      std::memset(guard, 0xFF, kGuardBytes);
    }
  }
  if (report.empty()) return cudaSuccess;
  detail::set_last_fault("cuae_simt: " + detail::kernel_name(kernel) + ": " + report + " (guard zone)");
  return cudaErrorLaunchFailure;
}

cudaError_t validate(const detail::LaunchSpec& spec) {
  if (spec.kernel == nullptr) return cudaErrorInvalidDeviceFunction;
  const dim3 b = spec.block, g = spec.grid;
  if (b.x == 0 || b.y == 0 || b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 ||
      uint64_t{b.x} * b.y * b.z > 1024) {
    return cudaErrorInvalidConfiguration;
  }
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7fffffffu || g.y > 65535 || g.z > 65535) {
    return cudaErrorInvalidConfiguration;
  }
  State& s = state();
  std::lock_guard lock(s.mutex);
  const auto it = s.max_dynamic_shared.find(spec.kernel);
  const size_t limit = it != s.max_dynamic_shared.end() ? it->second : kDefaultSharedLimit;
  return spec.dynamic_shared_bytes > limit ? cudaErrorInvalidValue : cudaSuccess;
}

}  // namespace

void set_async_streams(bool on, uint64_t seed) {
  run_all(false);
  std::lock_guard lock(state().mutex);
  state().async = on;
  state().interleave.seed(seed);
}

bool async_streams() { return async_mode(); }

void reset_sticky_error() {
  g_sticky_error.store(cudaSuccess);
  g_last_error = cudaSuccess;  // the calling thread's, set by the calls that failed since
}

void set_device_memory_bytes(size_t bytes) {
  std::lock_guard lock(state().mutex);
  state().device_bytes = bytes;
}
size_t device_memory_bytes() {
  std::lock_guard lock(state().mutex);
  return state().device_bytes;
}
size_t device_memory_used() {
  std::lock_guard lock(state().mutex);
  return state().used_bytes;
}

namespace detail {

cudaError_t submit_launch(LaunchSpec spec, cudaStream_t stream) {
  if (const cudaError_t error = validate(spec); error != cudaSuccess) return record(error);
  return record(enqueue(stream, [spec = std::move(spec)] {
    if (const cudaError_t error = sticky_error(); error != cudaSuccess) return error;
    auto error = static_cast<cudaError_t>(run_grid(spec));
    if (error == cudaSuccess) error = check_guards(spec.kernel);
    if (error == cudaErrorLaunchFailure) g_sticky_error.store(error);
    return error;
  }));
}

cudaError_t set_func_attribute(KernelId kernel, cudaFuncAttribute attr, int value) {
  if (kernel == nullptr) return record(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || static_cast<size_t>(value) > kOptinSharedLimit) {
    return record(cudaErrorInvalidValue);
  }
  std::lock_guard lock(state().mutex);
  state().max_dynamic_shared[kernel] = static_cast<size_t>(value);
  return cudaSuccess;
}

}  // namespace detail
}  // namespace cuae_simt

using cuae_simt::record;
using cuae_simt::state;

// ---- errors ---------------------------------------------------------------------------------------
const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define CUAE_SIMT_NAME(code) \
  case code: return #code;
    CUAE_SIMT_NAME(cudaSuccess)
    CUAE_SIMT_NAME(cudaErrorInvalidValue)
    CUAE_SIMT_NAME(cudaErrorMemoryAllocation)
    CUAE_SIMT_NAME(cudaErrorInitializationError)
    CUAE_SIMT_NAME(cudaErrorInvalidConfiguration)
    CUAE_SIMT_NAME(cudaErrorInvalidMemcpyDirection)
    CUAE_SIMT_NAME(cudaErrorInsufficientDriver)
    CUAE_SIMT_NAME(cudaErrorInvalidDeviceFunction)
    CUAE_SIMT_NAME(cudaErrorNoDevice)
    CUAE_SIMT_NAME(cudaErrorInvalidDevice)
    CUAE_SIMT_NAME(cudaErrorInvalidResourceHandle)
    CUAE_SIMT_NAME(cudaErrorIllegalState)
    CUAE_SIMT_NAME(cudaErrorNotReady)
    CUAE_SIMT_NAME(cudaErrorLaunchFailure)
    CUAE_SIMT_NAME(cudaErrorStreamCaptureUnsupported)
    CUAE_SIMT_NAME(cudaErrorStreamCaptureInvalidated)
    CUAE_SIMT_NAME(cudaErrorStreamCaptureUnmatched)
    CUAE_SIMT_NAME(cudaErrorStreamCaptureImplicit)
#undef CUAE_SIMT_NAME
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure:
      return cuae_simt::last_fault().empty() ? "unspecified launch failure" : cuae_simt::last_fault().c_str();
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureUnmatched: return "capture was not initiated in this stream";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
  }
  return "unknown error";
}

// A sticky error is never cleared: every later call returns it.
cudaError_t cudaGetLastError() {
  const cudaError_t last = std::exchange(cuae_simt::g_last_error, cudaSuccess);
  return cuae_simt::sticky_error() != cudaSuccess ? cuae_simt::sticky_error() : last;
}
cudaError_t cudaPeekAtLastError() {
  return cuae_simt::sticky_error() != cudaSuccess ? cuae_simt::sticky_error() : cuae_simt::g_last_error;
}

// ---- device ---------------------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return record(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return record(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return record(device == 0 ? cudaSuccess : cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (prop == nullptr) return record(cudaErrorInvalidValue);
  if (device != 0) return record(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, "cuae SIMT emulator", sizeof prop->name - 1);
  prop->totalGlobalMem = cuae_simt::device_memory_bytes();
  prop->sharedMemPerBlock = cuae_simt::kDefaultSharedLimit;
  prop->sharedMemPerBlockOptin = cuae_simt::kOptinSharedLimit;
  prop->sharedMemPerMultiprocessor = 228 * 1024;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->multiProcessorCount = 4;
  prop->major = 9;
  prop->minor = 0;
  prop->l2CacheSize = 1 << 20;
  prop->memoryBusWidth = 64;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (value == nullptr) return record(cudaErrorInvalidValue);
  cudaDeviceProp prop;
  if (const cudaError_t error = cudaGetDeviceProperties(&prop, device); error != cudaSuccess) return error;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = prop.maxThreadsPerBlock; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(prop.sharedMemPerBlock); return cudaSuccess;
    case cudaDevAttrWarpSize: *value = prop.warpSize; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = prop.multiProcessorCount; return cudaSuccess;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = prop.maxThreadsPerMultiProcessor; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = prop.major; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = prop.minor; return cudaSuccess;
    case cudaDevAttrL2CacheSize: *value = prop.l2CacheSize; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(prop.sharedMemPerBlockOptin); return cudaSuccess;
  }
  return record(cudaErrorInvalidValue);
}

cudaError_t cudaDeviceSynchronize() {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  {
    std::lock_guard lock(state().mutex);
    if (const cudaError_t error = cuae_simt::check_no_capture(cudaErrorStreamCaptureUnsupported); error != cudaSuccess) {
      return record(error);
    }
  }
  return record(cuae_simt::run_all(false));
}
cudaError_t cudaDriverGetVersion(int* version) {
  if (version == nullptr) return record(cudaErrorInvalidValue);
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) { return cudaDriverGetVersion(version); }

// ---- memory ---------------------------------------------------------------------------------------
cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (pointer == nullptr) return record(cudaErrorInvalidValue);
  *pointer = nullptr;
  cuae_simt::State& s = state();
  std::lock_guard lock(s.mutex);
  if (const cudaError_t error = cuae_simt::check_no_capture(cudaErrorStreamCaptureUnsupported); error != cudaSuccess) {
    return record(error);
  }
  if (bytes == 0) return cudaSuccess;
  if (bytes > s.device_bytes - s.used_bytes) return record(cudaErrorMemoryAllocation);
  auto* block = static_cast<std::byte*>(::operator new(bytes + 2 * cuae_simt::kGuardBytes,
                                                       std::align_val_t{cuae_simt::kAlignment}, std::nothrow));
  if (block == nullptr) return record(cudaErrorMemoryAllocation);
  std::memset(block, 0xFF, bytes + 2 * cuae_simt::kGuardBytes);  // the guards and the fresh memory
  std::byte* memory = block + cuae_simt::kGuardBytes;
  s.device.emplace(memory, bytes);
  s.used_bytes += bytes;
  *pointer = memory;
  return cudaSuccess;
}

namespace {
// Frees even after a fault (the memory is the host's), so that sticky errors leak nothing.
cudaError_t free_device(void* pointer) {
  cuae_simt::State& s = state();
  std::lock_guard lock(s.mutex);
  if (const cudaError_t error = cuae_simt::check_no_capture(cudaErrorStreamCaptureUnsupported); error != cudaSuccess) {
    return record(error);
  }
  if (pointer == nullptr) return cudaSuccess;
  const auto it = s.device.find(static_cast<const std::byte*>(pointer));
  if (it == s.device.end()) return record(cudaErrorInvalidValue);
  s.used_bytes -= it->second;
  s.device.erase(it);
  ::operator delete(static_cast<std::byte*>(pointer) - cuae_simt::kGuardBytes, std::align_val_t{cuae_simt::kAlignment});
  return cudaSuccess;
}
}  // namespace

cudaError_t cudaFree(void* pointer) {
  if (pointer != nullptr && cuae_simt::async_mode()) cuae_simt::run_all(false);  // cudaFree synchronises
  const cudaError_t freed = free_device(pointer);
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  return freed;
}

cudaError_t cudaMallocHost(void** pointer, size_t bytes) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (pointer == nullptr) return record(cudaErrorInvalidValue);
  *pointer = bytes == 0 ? nullptr : ::operator new(bytes, std::align_val_t{cuae_simt::kAlignment}, std::nothrow);
  if (bytes != 0 && *pointer == nullptr) return record(cudaErrorMemoryAllocation);
  std::lock_guard lock(state().mutex);
  if (*pointer != nullptr) state().pinned.emplace(*pointer, bytes);
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* pointer) {
  if (pointer == nullptr) return cudaSuccess;
  std::lock_guard lock(state().mutex);
  if (state().pinned.erase(pointer) == 0) return record(cudaErrorInvalidValue);
  ::operator delete(pointer, std::align_val_t{cuae_simt::kAlignment});
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (free_bytes == nullptr || total_bytes == nullptr) return record(cudaErrorInvalidValue);
  std::lock_guard lock(state().mutex);
  *total_bytes = state().device_bytes;
  *free_bytes = state().device_bytes - std::min(state().used_bytes, state().device_bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (const cudaError_t error = cuae_simt::check_copy(dst, src, bytes, kind); error != cudaSuccess) return record(error);
  // The host side, if any: a copy from or to pageable memory is staged synchronously on a GPU, and
  // cannot be captured into a graph.
  const void* host = kind == cudaMemcpyHostToDevice   ? src
                     : kind == cudaMemcpyDeviceToHost ? static_cast<const void*>(dst)
                                                      : nullptr;
  const bool pageable = host != nullptr && bytes != 0 && !cuae_simt::is_pinned(host, bytes);
  if (pageable && stream != nullptr) {
    std::unique_lock lock(state().mutex);
    if (stream->capture != nullptr) {
      stream->capture->invalidated = true;
      return record(cudaErrorStreamCaptureUnsupported);
    }
    const bool async = state().async;
    lock.unlock();
    if (async) {  // the copy waits for the stream's earlier work and is done when the call returns
      if (const cudaError_t error = cuae_simt::run_stream(stream); error != cudaSuccess) return record(error);
      return record(cuae_simt::copy_op(dst, src, bytes)());
    }
  }
  return record(cuae_simt::enqueue(stream, cuae_simt::copy_op(dst, src, bytes)));
}

cudaError_t cudaMemset(void* dst, int value, size_t bytes) { return cudaMemsetAsync(dst, value, bytes, nullptr); }

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (bytes != 0 && !cuae_simt::is_device_range(dst, bytes)) return record(cudaErrorInvalidValue);
  return record(cuae_simt::enqueue(stream, cuae_simt::memset_op(dst, value, bytes)));
}

// ---- streams and events ---------------------------------------------------------------------------
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (stream == nullptr || flags > cudaStreamNonBlocking) return record(cudaErrorInvalidValue);
  *stream = new CUstream_st{};
  (*stream)->flags = flags;
  std::lock_guard lock(state().mutex);
  state().streams.push_back(*stream);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return record(cudaErrorInvalidResourceHandle);
  const cudaError_t error = cuae_simt::run_stream(stream);  // a GPU finishes the queued work first
  std::lock_guard lock(state().mutex);
  if (stream->capture != nullptr) stream->capture->invalidated = true;
  std::erase(state().streams, stream);
  delete stream;
  if (error != cudaSuccess) return record(error);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  std::unique_lock lock(state().mutex);
  if (stream != nullptr && stream->capture != nullptr) {
    stream->capture->invalidated = true;
    return record(cudaErrorStreamCaptureUnsupported);
  }
  if (stream == nullptr) {
    if (const cudaError_t error = cuae_simt::check_no_capture(cudaErrorStreamCaptureImplicit); error != cudaSuccess) {
      return record(error);
    }
  }
  if (!state().async) return cudaSuccess;
  lock.unlock();
  return record(stream == nullptr ? cuae_simt::run_all(true) : cuae_simt::run_stream(stream));
}

cudaError_t cudaStreamQuery(cudaStream_t stream) { return cudaStreamSynchronize(stream); }

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (event == nullptr) return record(cudaErrorInvalidResourceHandle);
  std::unique_lock lock(state().mutex);
  CUgraph_st* graph = event->captured_in;
  if (graph != nullptr && graph->capturing && stream != nullptr && stream->capture == nullptr) {
    stream->capture = graph;  // fork: the stream joins the capture
    graph->joined.push_back(stream);
    return cudaSuccess;
  }
  if (!state().async || event->completed_at == nullptr || event->completed_at->has_value() || stream == event->stream) {
    return cudaSuccess;
  }
  // Asynchronous mode: `stream`'s later work waits until the event's stream has reached the record.
  Operation wait = [target = event->stream, ticket = event->ticket, completed = event->completed_at] {
    return completed->has_value() ? cudaSuccess : cuae_simt::run_until(target, ticket);
  };
  if (stream == nullptr) {
    lock.unlock();
    return record(wait());
  }
  stream->pending.push_back(std::move(wait));
  ++stream->queued;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (event == nullptr || flags > (cudaEventBlockingSync | cudaEventDisableTiming)) return record(cudaErrorInvalidValue);
  *event = new CUevent_st{};
  (*event)->flags = flags;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) return record(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (event == nullptr) return record(cudaErrorInvalidResourceHandle);
  std::lock_guard lock(state().mutex);
  if (stream != nullptr && stream->capture != nullptr) {  // a dependency inside the graph, not a timestamp
    event->captured_in = stream->capture;
    return cudaSuccess;
  }
  if (stream == nullptr && cuae_simt::blocking_capture() != nullptr) {
    cuae_simt::blocking_capture()->invalidated = true;
    return record(cudaErrorStreamCaptureImplicit);
  }
  event->captured_in = nullptr;
  event->recorded = true;
  event->time = std::chrono::steady_clock::now();
  event->completed_at = nullptr;
  if (state().async && stream != nullptr) {  // completes when the stream's queued work reaches it
    auto completed = std::make_shared<std::optional<std::chrono::steady_clock::time_point>>();
    event->stream = stream;
    event->ticket = stream->queued + 1;
    event->completed_at = completed;
    stream->pending.push_back([completed] {
      *completed = std::chrono::steady_clock::now();
      return cudaSuccess;
    });
    ++stream->queued;
  }
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (event == nullptr) return record(cudaErrorInvalidResourceHandle);
  std::unique_lock lock(state().mutex);
  if (event->captured_in != nullptr && event->captured_in->capturing) {
    event->captured_in->invalidated = true;
    return record(cudaErrorStreamCaptureUnsupported);
  }
  if (event->completed_at == nullptr || event->completed_at->has_value()) return cudaSuccess;
  const cudaStream_t stream = event->stream;
  const uint64_t ticket = event->ticket;
  lock.unlock();
  return record(cuae_simt::run_until(stream, ticket));
}

cudaError_t cudaEventQuery(cudaEvent_t event) { return cudaEventSynchronize(event); }

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (ms == nullptr) return record(cudaErrorInvalidValue);
  if (start == nullptr || end == nullptr || !start->recorded || !end->recorded ||
      ((start->flags | end->flags) & cudaEventDisableTiming)) {
    return record(cudaErrorInvalidResourceHandle);
  }
  const auto time = [](cudaEvent_t event) {
    return event->completed_at != nullptr ? event->completed_at->value_or(event->time) : event->time;
  };
  if ((start->completed_at != nullptr && !start->completed_at->has_value()) ||
      (end->completed_at != nullptr && !end->completed_at->has_value())) {
    return record(cudaErrorNotReady);
  }
  *ms = std::chrono::duration<float, std::milli>(time(end) - time(start)).count();
  return cudaSuccess;
}

// ---- graphs ---------------------------------------------------------------------------------------
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (stream == nullptr) return record(cudaErrorStreamCaptureUnsupported);  // not the legacy stream
  std::lock_guard lock(state().mutex);
  if (stream->capture != nullptr) return record(cudaErrorIllegalState);
  auto* graph = new CUgraph_st{};
  graph->origin = stream;
  graph->mode = mode;
  stream->capture = graph;
  state().captures.push_back(graph);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph_out) {
  if (stream == nullptr || graph_out == nullptr) return record(cudaErrorInvalidValue);
  std::lock_guard lock(state().mutex);
  *graph_out = nullptr;
  CUgraph_st* graph = stream->capture;
  if (graph == nullptr) return record(cudaErrorIllegalState);
  if (graph->origin != stream) {
    graph->invalidated = true;
    return record(cudaErrorStreamCaptureUnmatched);
  }
  graph->capturing = false;
  stream->capture = nullptr;
  for (cudaStream_t joined : graph->joined) joined->capture = nullptr;
  std::erase(state().captures, graph);
  if (graph->invalidated) {
    delete graph;
    return record(cudaErrorStreamCaptureInvalidated);
  }
  *graph_out = graph;
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  if (status == nullptr) return record(cudaErrorInvalidValue);
  std::lock_guard lock(state().mutex);
  const CUgraph_st* graph = stream != nullptr ? stream->capture : nullptr;
  *status = graph == nullptr ? cudaStreamCaptureStatusNone
                             : (graph->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive);
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (exec == nullptr || graph == nullptr) return record(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (const cudaError_t sticky = cuae_simt::sticky_error(); sticky != cudaSuccess) return record(sticky);
  if (exec == nullptr) return record(cudaErrorInvalidResourceHandle);
  return record(cuae_simt::enqueue(stream, [nodes = exec->nodes] {
    for (const Operation& node : nodes) {
      if (const cudaError_t error = node(); error != cudaSuccess) return error;
    }
    return cudaSuccess;
  }));
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
