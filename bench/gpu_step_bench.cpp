// Full training steps on the CUDA backend for the three shapes of bench_shapes.h, with each forward
// implementation (fused kernel, cuBLAS + epilogue) and with CUDA graphs on and off. One iteration is
// Backend::profile_steps over kStepsPerIteration steps on a resident batch; its CUDA-event step times
// are the manual time. Counters: items/s = samples/s, FLOP/s and bytes/s of the step's work model
// (src/profile/profile.h), and the eager per-phase medians in ms.
#include <benchmark/benchmark.h>

#include <exception>
#include <memory>
#include <string>

#include "bench/bench_shapes.h"
#include "bench/gpu_bench_util.h"
#include "engine/backend_factory.h"
#include "profile/profile.h"

namespace {

using cuae::bench::Shape;
constexpr int kStepsPerIteration = 20;

void step_bench(benchmark::State& state, const Shape& shape, cuae::BackendOptions::Forward forward, bool graphs) {
  if (!cuae::bench::have_device(state)) return;
  cuae::ModelConfig config;
  config.layers = shape.layers;
  cuae::BackendOptions options;
  options.forward = forward;
  options.cuda_graphs = graphs;
  const cuae::ReadyBackend ready = cuae::make_ready_backend(config, cuae::Device::cuda(0), options);
  const cuae::ParameterLayout& layout = ready.layout;
  cuae::Backend* backend = ready.backend.get();
  const cuae::Matrix batch = cuae::make_random(shape.batch, layout.input_dim(), 1).to_matrix();
  backend->profile_steps(batch.view(), 10, 0);  // graph capture, cuBLAS heuristics, clocks
  cuae::StepProfile last;
  for (auto _ : state) {
    last = backend->profile_steps(batch.view(), 0, kStepsPerIteration);
    double seconds = 0;
    for (double s : last.step) seconds += s;
    state.SetIterationTime(seconds);
  }
  const cuae::detail::StepWork work = cuae::detail::step_work(config, layout, shape.batch);
  state.SetItemsProcessed(state.iterations() * kStepsPerIteration * shape.batch);
  state.counters["FLOP/s"] = benchmark::Counter(kStepsPerIteration * work.total_flops(),
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/s"] = benchmark::Counter(kStepsPerIteration * work.total_bytes(),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  const std::vector<double>* phases[] = {&last.forward, &last.loss, &last.backward, &last.optimizer};
  for (int p = 0; p < cuae::detail::kPhaseCount; ++p) {
    const std::string name = std::string(cuae::detail::phase_name(static_cast<cuae::detail::Phase>(p))) + "_ms";
    state.counters[name] = cuae::detail::summarize(*phases[p]).median * 1e3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  struct Variant {
    const char* name;
    cuae::BackendOptions::Forward forward;
    bool graphs;
  };
  const Variant variants[] = {{"fused_graph", cuae::BackendOptions::Forward::fused, true},
                              {"fused_eager", cuae::BackendOptions::Forward::fused, false},
                              {"cublas_graph", cuae::BackendOptions::Forward::cublas, true}};
  for (const Shape& shape : cuae::bench::shapes()) {
    for (const Variant& v : variants) {
      const std::string name = std::string("GpuStep/") + shape.name + "/" + v.name;
      benchmark::RegisterBenchmark(name.c_str(),
                                   [shape, v](benchmark::State& state) {
                                     try {
                                       step_bench(state, shape, v.forward, v.graphs);
                                     } catch (const std::exception& e) {
                                       state.SkipWithError(e.what());
                                     }
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
