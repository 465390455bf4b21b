// Step benchmarks, work counts and device peaks (see profile.h).
#include "profile/profile.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuae/config.h"
#include "cuae/error.h"
#include "engine/backend_factory.h"

#if CUAE_HAS_CUDA
#include "cuda/cuda_profile.h"
#endif

namespace cuae {

namespace detail {

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

constexpr double kFloat = sizeof(float);

// Elementwise FLOPs per element, counting exp, log1p and tanh as one each: they set the order of
// magnitude of the elementwise share, not a precise figure (the GEMMs dominate every model here).
constexpr double kBiasActFlops = 2;   // add the bias, apply the activation
constexpr double kLossFlops = 8;      // BCE/MSE value and gradient, including the output activation
constexpr double kActBackFlops = 2;   // act'(z) and the product
constexpr double kAdamFlops = 12;     // per parameter: moments, bias corrections, sqrt, update
constexpr double kSgdFlops = 4;

// Median of a sorted vector and the nearest-rank percentile q in (0, 1].
double nearest_rank(const std::vector<double>& sorted, double q) {
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// The best of `repeats` runs: noise on a shared machine only ever makes a run slower.
template <typename Fn>
double best_seconds(int repeats, Fn&& run) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    best = std::min(best, seconds_between(start, std::chrono::steady_clock::now()));
  }
  return best;
}

DevicePeaks measure_cpu_peaks(int threads) {
  threads = threads > 0 ? threads : std::max(omp_get_num_procs(), 1);
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
  // 2048^3 is large enough for OpenBLAS to reach its steady rate, small enough to take ~0.1 s.
  constexpr int n = 2048;
  std::vector<float> a(static_cast<size_t>(n) * n), b(a.size()), c(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<float>(i % 97) * 0.01f;
    b[i] = static_cast<float>(i % 89) * 0.01f;
  }
  const auto sgemm = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  };
  sgemm();  // warm-up: page faults, thread start
  DevicePeaks peaks;
  peaks.gemm_flops = 2.0 * n * n * n / best_seconds(3, sgemm);
  peaks.gemm_source = "cblas_sgemm " + std::to_string(n) + "^3, " + std::to_string(threads) + " threads";

  // 256 MiB per buffer: far beyond the last-level cache. memcpy is single-threaded, so the copy runs
  // one slice per thread, as the backend's elementwise passes do.
  const size_t bytes = size_t{256} << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  const auto copy = [&] {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; ++t) {
      const size_t begin = bytes * static_cast<size_t>(t) / static_cast<size_t>(threads);
      const size_t end = bytes * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
      std::memcpy(dst.data() + begin, src.data() + begin, end - begin);
    }
  };
  copy();
  peaks.copy_bytes = 2.0 * static_cast<double>(bytes) / best_seconds(5, copy);
  peaks.copy_source = "memcpy 256 MiB, " + std::to_string(threads) + " threads, read + write";
  return peaks;
}

}  // namespace

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::forward: return "forward";
    case Phase::loss: return "loss";
    case Phase::backward: return "backward";
    case Phase::optimizer: return "optimizer";
  }
  return "?";
}

TimeSummary summarize(std::vector<double> seconds) {
  TimeSummary s;
  if (seconds.empty()) return s;
  std::sort(seconds.begin(), seconds.end());
  s.count = static_cast<int>(seconds.size());
  s.min = seconds.front();
  s.median = nearest_rank(seconds, 0.5);
  s.p90 = nearest_rank(seconds, 0.9);
  double sum = 0;
  for (double x : seconds) sum += x;
  s.mean = sum / static_cast<double>(seconds.size());
  return s;
}

double StepWork::total_flops() const {
  double sum = 0;
  for (double f : flops) sum += f;
  return sum;
}

double StepWork::total_bytes() const {
  double sum = 0;
  for (double b : bytes) sum += b;
  return sum;
}

StepWork step_work(const ModelConfig& config, const ParameterLayout& layout, int64_t rows) {
  StepWork w;
  const auto m = static_cast<double>(rows);
  auto& fwd_f = w.flops[static_cast<int>(Phase::forward)];
  auto& fwd_b = w.bytes[static_cast<int>(Phase::forward)];
  auto& bwd_f = w.flops[static_cast<int>(Phase::backward)];
  auto& bwd_b = w.bytes[static_cast<int>(Phase::backward)];
  for (size_t l = 0; l < layout.layers.size(); ++l) {
    const auto k = static_cast<double>(layout.layers[l].in), n = static_cast<double>(layout.layers[l].out);
    // Forward: Y = act(X·Wᵀ + b) reads X, W, b and writes Y.
    fwd_f += 2 * m * k * n + kBiasActFlops * m * n;
    fwd_b += kFloat * (m * k + n * k + n + m * n);
    // Backward: dW = dZᵀ·A (reads dZ, A; writes dW), db (reads dZ), and below layer 0 also
    // dA = dZ·W (reads dZ, W; writes dA) then dZ_prev = dA ⊙ act' (reads dA, Y; writes dZ_prev).
    bwd_f += 2 * m * k * n + m * n;
    bwd_b += kFloat * (m * n + m * k + n * k + m * n + n);
    if (l > 0) {
      bwd_f += 2 * m * k * n + kActBackFlops * m * k;
      bwd_b += kFloat * (m * n + n * k + m * k + 3 * m * k);
    }
  }
  // Loss: reads the logits and the target, writes dZ.
  const double outputs = m * static_cast<double>(layout.input_dim());
  w.flops[static_cast<int>(Phase::loss)] = kLossFlops * outputs;
  w.bytes[static_cast<int>(Phase::loss)] = kFloat * 3 * outputs;
  // Optimizer: Adam reads p, g, m, v and writes p, m, v; SGD reads p, g, m and writes p, m.
  const auto params = static_cast<double>(layout.parameter_count);
  const bool adam = config.optimizer.kind == OptimizerKind::adam;
  w.flops[static_cast<int>(Phase::optimizer)] = (adam ? kAdamFlops : kSgdFlops) * params;
  w.bytes[static_cast<int>(Phase::optimizer)] = kFloat * (adam ? 7 : 5) * params;
  return w;
}

DevicePeaks measure_peaks(Device device, int cpu_threads) {
  if (device.kind == DeviceKind::cpu) return measure_cpu_peaks(cpu_threads);
#if CUAE_HAS_CUDA
  const cuda::Peaks p = cuda::measure_peaks(device.index);
  return {p.gemm_flops, p.copy_bytes, p.gemm_source, p.copy_source};
#else
  throw CudaError("measure_peaks on " + device.str() + ": this build of cuae has no CUDA backend");
#endif
}

double roofline_fraction(double flops, double bytes, double seconds, const DevicePeaks& peaks) {
  if (seconds <= 0 || peaks.gemm_flops <= 0 || peaks.copy_bytes <= 0) return 0;
  return std::max(flops / peaks.gemm_flops, bytes / peaks.copy_bytes) / seconds;
}

StepBenchResult run_step_bench(const StepBenchOptions& options) {
  if (options.batch < 1) throw Error("bench: batch must be >= 1, got " + std::to_string(options.batch));
  if (options.steps < 1) throw Error("bench: steps must be >= 1, got " + std::to_string(options.steps));
  if (options.warmup < 0) throw Error("bench: warmup must be >= 0, got " + std::to_string(options.warmup));
  const ReadyBackend ready = make_ready_backend(options.config, options.device, options.backend);
  const ParameterLayout& layout = ready.layout;
  Backend* backend = ready.backend.get();
  const Matrix batch = make_random(options.batch, layout.input_dim(), options.data_seed).to_matrix();

  StepBenchResult r;
  r.profile = backend->profile_steps(batch.view(), options.warmup, options.steps);
  r.step = summarize(r.profile.step);
  const std::vector<double>* phases[kPhaseCount] = {&r.profile.forward, &r.profile.loss, &r.profile.backward,
                                                    &r.profile.optimizer};
  for (int p = 0; p < kPhaseCount; ++p) r.phases[p] = summarize(*phases[p]);
  r.work = step_work(options.config, layout, options.batch);
  if (r.step.median > 0) {
    r.samples_per_second = static_cast<double>(options.batch) / r.step.median;
    r.flops_per_second = r.work.total_flops() / r.step.median;
  }
  return r;
}

std::string cpu_blas_description(int threads) {
  threads = threads > 0 ? threads : std::max(omp_get_num_procs(), 1);
  const char* config = openblas_get_config();
  const int parallel = openblas_get_parallel();  // 0 sequential, 1 pthreads, 2 OpenMP
  const char* model = parallel == 2 ? "OpenMP" : parallel == 1 ? "pthreads" : "sequential";
  return std::string(config ? config : "OpenBLAS") + " (" + model + "), " + std::to_string(threads) + " threads";
}

}  // namespace detail
}  // namespace cuae
