// Full training steps on the CPU backend (forward, loss, backward, Adam) for the three shapes of
// bench_shapes.h, plus the OpenBLAS SGEMM that `cuae bench` uses as the CPU's FLOP/s peak.
// Counters: items/s = samples/s, FLOP/s and bytes/s from the step's work model (src/profile/profile.h).
// Runs are kept short (MinTime 0.3 s each); pass --benchmark_min_time for steadier numbers.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/bench_shapes.h"
#include "engine/backend_factory.h"
#include "profile/profile.h"

namespace {

using cuae::bench::Shape;

void step_bench(benchmark::State& state, const Shape& shape) {
  cuae::ModelConfig config;
  config.layers = shape.layers;
  const cuae::ReadyBackend ready = cuae::make_ready_backend(config, cuae::Device::cpu(), {});
  const cuae::ParameterLayout& layout = ready.layout;
  cuae::Backend* backend = ready.backend.get();
  const cuae::Matrix batch = cuae::make_random(shape.batch, layout.input_dim(), 1).to_matrix();
  backend->train_step(batch.view());  // workspaces sized, threads started
  float loss = 0;
  for (auto _ : state) {
    loss = backend->train_step(batch.view());
    benchmark::DoNotOptimize(loss);
  }
  const cuae::detail::StepWork work = cuae::detail::step_work(config, layout, shape.batch);
  state.SetItemsProcessed(state.iterations() * shape.batch);
  state.counters["FLOP/s"] = benchmark::Counter(work.total_flops(), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(work.total_bytes(), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["loss"] = loss;
}

// The peak reference: a square SGEMM large enough for OpenBLAS's steady rate.
void sgemm_bench(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  std::vector<float> a(static_cast<size_t>(n) * n), b(a.size()), c(a.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = b[i] = static_cast<float>(i % 97) * 0.01f;
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * n * n * static_cast<double>(n),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  for (const Shape& shape : cuae::bench::shapes()) {
    benchmark::RegisterBenchmark((std::string("CpuStep/") + shape.name).c_str(), step_bench, shape)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.3)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("CpuPeakSgemm", sgemm_bench)->Arg(2048)->Unit(benchmark::kMillisecond)->MinTime(0.3)
      ->UseRealTime();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
