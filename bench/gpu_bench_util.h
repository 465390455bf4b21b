// Helpers of the GPU benchmark suites: skip with the runtime's reason when no device answers, device
// buffers filled with random values (never zeros: power and clocks depend on the data), and a timer
// that reports each iteration's CUDA-event time through UseManualTime.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"
#include "cuda/stream.h"

namespace cuae::bench {

// True when a device answers; otherwise skips the benchmark with the reason ("no CUDA device: ...").
inline bool have_device(benchmark::State& state) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error == cudaSuccess && count > 0) return true;
  const std::string reason = std::string("no CUDA device: ") +
                             (error == cudaSuccess ? "the runtime reports 0 devices" : cudaGetErrorName(error));
  state.SkipWithError(reason.c_str());
  return false;
}

// Uniform values in [lo, hi) from a fixed seed.
inline cuda::DeviceBuffer<float> random_buffer(size_t count, float lo, float hi, uint32_t seed, const char* what) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> host(count);
  for (float& x : host) x = dist(rng);
  cuda::DeviceBuffer<float> buffer(count, what);
  CUDA_CHECK(cudaMemcpy(buffer.data(), host.data(), count * sizeof(float), cudaMemcpyHostToDevice));
  // A pageable-source cudaMemcpy may return before its DMA lands, on the legacy stream, which does not
  // order with the benchmarks' non-blocking streams: wait for it here.
  CUDA_CHECK(cudaDeviceSynchronize());
  return buffer;
}

// A start/end pair of timing events (stream.h's Event disables timing).
class EventPair {
 public:
  EventPair() {
    CUDA_CHECK(cudaEventCreate(&start_));
    CUDA_CHECK(cudaEventCreate(&end_));
  }
  ~EventPair() {
    CUDA_CHECK_NOTHROW(cudaEventDestroy(start_));
    CUDA_CHECK_NOTHROW(cudaEventDestroy(end_));
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;

  void start(cudaStream_t stream) { CUDA_CHECK(cudaEventRecord(start_, stream)); }
  // Records the end, waits for it and returns the seconds in between.
  double stop(cudaStream_t stream) {
    CUDA_CHECK(cudaEventRecord(end_, stream));
    CUDA_CHECK(cudaEventSynchronize(end_));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start_, end_));
    return static_cast<double>(ms) * 1e-3;
  }

 private:
  cudaEvent_t start_ = nullptr;
  cudaEvent_t end_ = nullptr;
};

// Times enqueue() per iteration with CUDA events (one warm-up launch first).
template <typename Fn>
void run_timed(benchmark::State& state, cudaStream_t stream, Fn&& enqueue) {
  EventPair events;
  enqueue();
  CUDA_CHECK(cudaStreamSynchronize(stream));
  for (auto _ : state) {
    events.start(stream);
    enqueue();
    state.SetIterationTime(events.stop(stream));
  }
}

// FLOP/s and bytes/s counters from per-iteration work.
inline void set_rates(benchmark::State& state, double flops, double bytes) {
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace cuae::bench
