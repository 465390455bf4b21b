// Throughput measurement shared by `cuae bench` (src/cli/bench_command.cpp) and the Google Benchmark
// suites (bench/): a training-step run with per-phase times, the FLOP and byte counts of a step,
// and the device peaks (GEMM FLOP/s, copy bandwidth) that turn a time into "% of the roofline".
//
// Roofline model of a phase: it cannot take less than max(flops / peak_flops, bytes / peak_bw), where
// bytes is the compulsory traffic (every tensor a phase reads or writes crosses memory once). The
// "% of roofline" is that bound divided by the measured time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cuae/backend_options.h"
#include "cuae/device.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"
#include "engine/backend.h"

namespace cuae::detail {

enum class Phase { forward, loss, backward, optimizer };
inline constexpr int kPhaseCount = 4;
const char* phase_name(Phase phase);

// Order statistics of per-step seconds (nearest-rank percentiles).
struct TimeSummary {
  double median = 0;
  double p90 = 0;
  double mean = 0;
  double min = 0;
  int count = 0;
};
TimeSummary summarize(std::vector<double> seconds);

// Work of one training step on `rows` rows, per phase.
struct StepWork {
  double flops[kPhaseCount] = {};
  double bytes[kPhaseCount] = {};
  double total_flops() const;
  double total_bytes() const;
};
StepWork step_work(const ModelConfig& config, const ParameterLayout& layout, int64_t rows);

// Peaks measured on the device by the same process: a large SGEMM (cblas_sgemm with the backend's
// threads, or cublasSgemm) and a large copy (memcpy, or cudaMemcpy device to device), counting the
// bytes read plus written.
struct DevicePeaks {
  double gemm_flops = 0;     // FLOP/s
  double copy_bytes = 0;     // bytes/s
  std::string gemm_source;   // e.g. "cblas_sgemm 2048^3, 2 threads"
  std::string copy_source;
};
DevicePeaks measure_peaks(Device device, int cpu_threads);

// Fraction (0..1] of the roofline bound a phase (or a whole step: pass all phases) reached.
double roofline_fraction(double flops, double bytes, double seconds, const DevicePeaks& peaks);

struct StepBenchOptions {
  ModelConfig config;
  int64_t batch = 256;
  int warmup = 10;
  int steps = 100;
  Device device = Device::cpu();
  BackendOptions backend;
  uint64_t data_seed = 1;
};

struct StepBenchResult {
  StepProfile profile;
  TimeSummary step;
  TimeSummary phases[kPhaseCount];  // count 0 when the backend gives no breakdown
  StepWork work;
  double samples_per_second = 0;    // from the median step
  double flops_per_second = 0;      // from the median step
};

// Builds a backend for config on device (initial weights from config.seed), trains it on one
// synthetic batch (make_random, uploaded once) and returns the timings.
StepBenchResult run_step_bench(const StepBenchOptions& options);

// What BLAS and how many threads the CPU side uses, e.g. "OpenBLAS 0.3.21 (OpenMP), 2 threads".
std::string cpu_blas_description(int threads);

}  // namespace cuae::detail
