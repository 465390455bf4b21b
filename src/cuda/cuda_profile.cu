// Step profiles and device peaks on a CUDA GPU (see step_profile.h and cuda_profile.h). All timing
// uses CUDA events on the backend's stream; the host waits once per measured series.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cublas_handle.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_profile.h"
#include "cuda/device_buffer.h"
#include "cuda/probe.h"
#include "cuda/step_profile.h"
#include "cuda/stream.h"

namespace cuae::cuda {

namespace {

// A timing event (stream.h's Event disables timing, which is right for ordering only).
class TimingEvent {
 public:
  TimingEvent() { CUDA_CHECK(cudaEventCreate(&event_)); }
  ~TimingEvent() {
    if (event_ != nullptr) CUDA_CHECK_NOTHROW(cudaEventDestroy(event_));
  }
  TimingEvent(TimingEvent&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  TimingEvent& operator=(TimingEvent&&) = delete;
  TimingEvent(const TimingEvent&) = delete;
  TimingEvent& operator=(const TimingEvent&) = delete;

  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream) { CUDA_CHECK(cudaEventRecord(event_, stream)); }

 private:
  cudaEvent_t event_ = nullptr;
};

double seconds_between(const TimingEvent& start, const TimingEvent& end) {
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), end.get()));
  return static_cast<double>(ms) * 1e-3;
}

std::vector<TimingEvent> make_events(size_t count) {
  std::vector<TimingEvent> events;
  events.reserve(count);
  for (size_t i = 0; i < count; ++i) events.emplace_back();
  return events;
}

// Best of `repeats` timings of enqueue() on stream, after one untimed run.
template <typename Fn>
double best_seconds(cudaStream_t stream, int repeats, Fn&& enqueue) {
  enqueue();
  TimingEvent start, end;
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    start.record(stream);
    enqueue();
    end.record(stream);
    CUDA_CHECK(cudaEventSynchronize(end.get()));
    best = std::min(best, seconds_between(start, end));
  }
  return best;
}

}  // namespace

StepProfile profile_network_steps(const CudaNetwork& net, cudaStream_t stream, int64_t rows, int warmup, int steps,
                                  const std::function<void()>& run_step) {
  for (int i = 0; i < warmup; ++i) run_step();
  StepProfile profile;
  profile.steps_trained = warmup;
  if (steps <= 0) return profile;
  profile.steps_trained += 2 * static_cast<int64_t>(steps);
  const auto n = static_cast<size_t>(steps);

  // Whole steps: one event between consecutive steps, so the GPU's idle time waiting for the host
  // (launch overhead) counts, as it does in training.
  std::vector<TimingEvent> bounds = make_events(n + 1);
  bounds[0].record(stream);
  for (size_t i = 0; i < n; ++i) {
    run_step();
    bounds[i + 1].record(stream);
  }
  CUDA_CHECK(cudaEventSynchronize(bounds[n].get()));
  for (size_t i = 0; i < n; ++i) profile.step.push_back(seconds_between(bounds[i], bounds[i + 1]));

  // Phases: eager steps with five marks each.
  std::vector<TimingEvent> marks = make_events(5 * n);
  std::vector<cudaEvent_t> raw(marks.size());
  for (size_t i = 0; i < marks.size(); ++i) raw[i] = marks[i].get();
  for (size_t i = 0; i < n; ++i) net.enqueue_step(rows, raw.data() + 5 * i);
  CUDA_CHECK(cudaEventSynchronize(marks.back().get()));
  std::vector<double>* phases[4] = {&profile.forward, &profile.loss, &profile.backward, &profile.optimizer};
  for (size_t i = 0; i < n; ++i) {
    for (size_t p = 0; p < 4; ++p) phases[p]->push_back(seconds_between(marks[5 * i + p], marks[5 * i + p + 1]));
  }

  // The optimizer advanced the batch counter past the last step's loss slot.
  kernels::OptimizerStepState state{};
  CUDA_CHECK(cudaMemcpyAsync(&state, net.state(), sizeof(state), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  if (state.batch > 0) {
    CUDA_CHECK(cudaMemcpyAsync(&profile.last_loss, net.losses() + state.batch - 1, sizeof(float),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  return profile;
}

Peaks measure_peaks(int index) {
  const CudaDeviceInfo info = select_device(index);
  Stream stream;
  Peaks peaks;
  {
    // 8192^3 FP32: about 1.1 TFLOP, long enough (~20 ms on an H200) for a stable rate.
    constexpr int n = 8192;
    const auto count = static_cast<size_t>(n) * n;
    DeviceBuffer<float> a(count, "peak GEMM A"), b(count, "peak GEMM B"), c(count, "peak GEMM C");
    // Not zeros: a GPU's power draw, hence its clock, depends on the data.
    std::vector<float> host(count);
    for (size_t i = 0; i < count; ++i) host[i] = static_cast<float>(i % 251) * (1.0f / 251.0f) - 0.5f;
    a.upload(host, stream.get());
    b.upload(host, stream.get());
    CublasHandle cublas(stream.get(), /*tf32=*/false);
    const float one = 1.0f, zero = 0.0f;
    const double seconds = best_seconds(stream.get(), 5, [&] {
      CUBLAS_CHECK(cublasSgemm(cublas.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.data(), n, b.data(), n, &zero,
                               c.data(), n));
    });
    peaks.gemm_flops = 2.0 * n * static_cast<double>(n) * n / seconds;
    peaks.gemm_source = "cublasSgemm FP32 " + std::to_string(n) + "^3 on " + info.name;
  }
  {
    // 1 GiB each way: 20x the L2 of an H200.
    const size_t bytes = size_t{1} << 30;
    DeviceBuffer<unsigned char> src(bytes, "peak copy source"), dst(bytes, "peak copy destination");
    CUDA_CHECK(cudaMemsetAsync(src.data(), 1, bytes, stream.get()));
    const double seconds = best_seconds(stream.get(), 5, [&] {
      CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, stream.get()));
    });
    peaks.copy_bytes = 2.0 * static_cast<double>(bytes) / seconds;
    peaks.copy_source = "cudaMemcpy device to device 1 GiB, read + write";
  }
  return peaks;
}

}  // namespace cuae::cuda
