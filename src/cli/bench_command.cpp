// `cuae bench`: trains a model on one synthetic batch resident on the device and prints the step
// time (median, p90), samples/s, achieved FLOP/s, the share of the roofline whose peaks this same
// command measures, and a per-phase breakdown. --forward all runs each CUDA forward implementation
// in turn and prints their ratios; --json writes every number.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "cuae/error.h"
#include "cuae/layout.h"
#include "profile/profile.h"

namespace cuae::cli {

namespace {

struct BenchOptions {
  std::vector<int64_t> layers = ModelConfig{}.layers;
  int64_t batch = 256;
  int steps = 200;
  int warmup = 20;
  std::string device = "auto";
  std::string forward = "fused";
  std::string json;
  std::string activation{to_string(ModelConfig{}.hidden_activation)};
  std::string loss{to_string(ModelConfig{}.loss)};
  int threads = 0;
  bool no_graphs = false;
  bool tf32 = false;
  uint64_t seed = 0;
};

struct Run {
  std::string forward;      // implementation name
  std::string unavailable;  // why it could not run; empty when it ran
  detail::StepBenchResult result;
};

std::string join(const std::vector<int64_t>& values, const char* separator) {
  std::string text;
  for (int64_t v : values) text += (text.empty() ? "" : separator) + std::to_string(v);
  return text;
}

std::vector<std::string> forwards_for(const BenchOptions& o, Device device) {
  static const std::vector<std::string> all = {"fused", "cublas", "cudnn"};
  if (o.forward != "all" && o.forward != "fused" && o.forward != "cublas" && o.forward != "cudnn")
    throw Error("--forward must be fused, cublas, cudnn or all, got '" + o.forward + "'");
  // The CPU backend has a single forward (OpenBLAS GEMM + fused bias/activation pass).
  if (device.kind == DeviceKind::cpu) return {"blas"};
  return o.forward == "all" ? all : std::vector<std::string>{o.forward};
}

double ms(double seconds) { return seconds * 1e3; }

void print_run(const Run& run, const detail::DevicePeaks& peaks, bool cuda) {
  std::printf("\nforward %s\n", run.forward.c_str());
  if (!run.unavailable.empty()) {
    std::printf("  unavailable: %s\n", run.unavailable.c_str());
    return;
  }
  const detail::StepBenchResult& r = run.result;
  const detail::StepWork& w = r.work;
  std::printf("  step       median %.4f ms   p90 %.4f ms   (%d steps)\n", ms(r.step.median), ms(r.step.p90),
              r.step.count);
  std::printf("  throughput %.0f samples/s   %.2f GFLOP/s = %.1f%% of the GEMM peak   roofline %.1f%%\n",
              r.samples_per_second, r.flops_per_second * 1e-9, 100.0 * r.flops_per_second / peaks.gemm_flops,
              100.0 * detail::roofline_fraction(w.total_flops(), w.total_bytes(), r.step.median, peaks));
  std::printf("  loss after %lld steps %.6f\n", static_cast<long long>(r.profile.steps_trained),
              static_cast<double>(r.profile.last_loss));
  if (r.phases[0].count == 0) return;
  std::printf("  %-10s %10s %7s %10s %9s %9s\n", "phase", "median ms", "share", "GFLOP/s", "GB/s", "roofline");
  double phase_sum = 0;
  for (const auto& p : r.phases) phase_sum += p.median;
  for (int p = 0; p < detail::kPhaseCount; ++p) {
    const double t = r.phases[p].median;
    std::printf("  %-10s %10.4f %6.1f%% %10.2f %9.2f %8.1f%%\n", detail::phase_name(static_cast<detail::Phase>(p)),
                ms(t), 100.0 * t / phase_sum, w.flops[p] / t * 1e-9, w.bytes[p] / t * 1e-9,
                100.0 * detail::roofline_fraction(w.flops[p], w.bytes[p], t, peaks));
  }
  if (cuda) std::printf("  (phases from eager steps with events between phases: CUDA graphs off)\n");
}

nlohmann::json summary_json(const detail::TimeSummary& s) {
  return {{"median_s", s.median}, {"p90_s", s.p90}, {"mean_s", s.mean}, {"min_s", s.min}, {"count", s.count}};
}

nlohmann::json run_json(const Run& run, const detail::DevicePeaks& peaks) {
  nlohmann::json j = {{"forward", run.forward}};
  if (!run.unavailable.empty()) {
    j["unavailable"] = run.unavailable;
    return j;
  }
  const detail::StepBenchResult& r = run.result;
  j["step"] = summary_json(r.step);
  j["samples_per_s"] = r.samples_per_second;
  j["flops_per_s"] = r.flops_per_second;
  j["gemm_peak_fraction"] = r.flops_per_second / peaks.gemm_flops;
  j["roofline_fraction"] = detail::roofline_fraction(r.work.total_flops(), r.work.total_bytes(), r.step.median, peaks);
  j["last_loss"] = r.profile.last_loss;
  j["steps_trained"] = r.profile.steps_trained;
  j["step_seconds"] = r.profile.step;
  for (int p = 0; p < detail::kPhaseCount; ++p) {
    if (r.phases[p].count == 0) continue;
    nlohmann::json phase = summary_json(r.phases[p]);
    phase["flops"] = r.work.flops[p];
    phase["bytes"] = r.work.bytes[p];
    phase["roofline_fraction"] = detail::roofline_fraction(r.work.flops[p], r.work.bytes[p], r.phases[p].median, peaks);
    j["phases"][detail::phase_name(static_cast<detail::Phase>(p))] = phase;
  }
  return j;
}

void run_bench(const BenchOptions& o) {
  if (o.steps < 1) throw Error("--steps must be >= 1, got " + std::to_string(o.steps));
  if (o.warmup < 0) throw Error("--warmup must be >= 0, got " + std::to_string(o.warmup));
  if (o.batch < 1) throw Error("--batch must be >= 1, got " + std::to_string(o.batch));
  if (!o.json.empty()) check_output_path(o.json, "--json", {".json"});
  ModelConfig config;
  config.layers = o.layers;
  config.hidden_activation = parse_activation(o.activation);
  config.loss = parse_loss(o.loss);
  config.seed = o.seed;
  config.validate();
  const Device device = resolve_device(o.device, "bench");
  const bool cuda = device.kind == DeviceKind::cuda;
  const std::vector<std::string> forwards = forwards_for(o, device);
  const ParameterLayout layout = make_layout(config);
  std::vector<int64_t> widths;
  for (const auto& layer : layout.layers) widths.push_back(layer.in);
  widths.push_back(layout.layers.back().out);

  std::printf("cuae bench: %s (%s hidden, %s, %s), batch %lld, %d warm-up + %d measured steps, device %s\n",
              join(widths, "-").c_str(), o.activation.c_str(), o.loss.c_str(),
              std::string(to_string(config.optimizer.kind)).c_str(), static_cast<long long>(o.batch), o.warmup,
              o.steps, device.str().c_str());
  if (cuda) {
    std::printf("cuda graphs %s, tf32 %s\n", o.no_graphs ? "off" : "on", o.tf32 ? "on" : "off");
  } else {
    std::printf("blas: %s\n", detail::cpu_blas_description(o.threads).c_str());
  }
  const detail::DevicePeaks peaks = detail::measure_peaks(device, o.threads);
  std::printf("peaks: GEMM %.2f GFLOP/s (%s); copy %.2f GB/s (%s)\n", peaks.gemm_flops * 1e-9,
              peaks.gemm_source.c_str(), peaks.copy_bytes * 1e-9, peaks.copy_source.c_str());
  const detail::StepWork work = detail::step_work(config, layout, o.batch);
  std::printf("work per step: %.2f MFLOP, %.2f MB of compulsory traffic\n", work.total_flops() * 1e-6,
              work.total_bytes() * 1e-6);

  std::vector<Run> runs;
  for (const std::string& forward : forwards) {
    detail::StepBenchOptions options;
    options.config = config;
    options.batch = o.batch;
    options.warmup = o.warmup;
    options.steps = o.steps;
    options.device = device;
    options.backend = backend_options(o.threads);
    if (device.kind == DeviceKind::cuda) options.backend.forward = parse_forward(forward);
    options.backend.cuda_graphs = !o.no_graphs;
    options.backend.allow_tf32 = o.tf32;
    options.data_seed = o.seed + 1;
    Run run{forward, "", {}};
    try {
      run.result = detail::run_step_bench(options);
    } catch (const CudaError& e) {
      // A missing library path (e.g. no cuDNN engine for this shape) is reported, and the bench moves on.
      if (forwards.size() == 1) throw;
      run.unavailable = e.what();
    }
    print_run(run, peaks, cuda);
    runs.push_back(std::move(run));
  }

  if (runs.size() > 1 && runs.front().unavailable.empty()) {
    std::printf("\nratios (samples/s of %s / samples/s of each)\n", runs.front().forward.c_str());
    for (size_t i = 1; i < runs.size(); ++i) {
      if (runs[i].unavailable.empty()) {
        std::printf("  %s / %s: %.2fx\n", runs.front().forward.c_str(), runs[i].forward.c_str(),
                    runs.front().result.samples_per_second / runs[i].result.samples_per_second);
      } else {
        std::printf("  %s / %s: n/a (unavailable)\n", runs.front().forward.c_str(), runs[i].forward.c_str());
      }
    }
  }

  if (o.json.empty()) return;
  nlohmann::json j = {{"layers", widths},
                      {"batch", o.batch},
                      {"warmup", o.warmup},
                      {"steps", o.steps},
                      {"device", device.str()},
                      {"cuda_graphs", cuda && !o.no_graphs},
                      {"tf32", cuda && o.tf32},
                      {"peaks",
                       {{"gemm_flops_per_s", peaks.gemm_flops},
                        {"gemm_source", peaks.gemm_source},
                        {"copy_bytes_per_s", peaks.copy_bytes},
                        {"copy_source", peaks.copy_source}}},
                      {"work", {{"flops", work.total_flops()}, {"bytes", work.total_bytes()}}}};
  if (!cuda) j["blas"] = detail::cpu_blas_description(o.threads);
  for (const Run& run : runs) j["runs"].push_back(run_json(run, peaks));
  std::ofstream out(o.json);
  out << j.dump(2) << "\n";
  if (!out) throw IoError("bench: cannot write " + o.json);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Time training steps on synthetic data: median/p90 step, samples/s, FLOP/s, % of roofline, phases");
  sub->add_option("--layers", options->layers, "Encoder widths from the input to the code; the decoder mirrors them")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--batch", options->batch, "Rows per step")->capture_default_str();
  sub->add_option("--steps", options->steps, "Measured steps")->capture_default_str();
  sub->add_option("--warmup", options->warmup, "Untimed steps first (CUDA graph capture, caches, clocks)")
      ->capture_default_str();
  sub->add_option("--device", options->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub->add_option("--forward", options->forward, "CUDA forward: fused, cublas, cudnn or all (compared, with ratios)")
      ->capture_default_str();
  sub->add_option("--json", options->json, "Also write every number to this .json file");
  sub->add_option("--activation", options->activation, "Hidden activation")->capture_default_str();
  sub->add_option("--loss", options->loss, "bce or mse")->capture_default_str();
  sub->add_option("--threads", options->threads, "CPU threads (0: all cores)")->capture_default_str();
  sub->add_flag("--no-cuda-graphs", options->no_graphs, "CUDA: launch every step eagerly instead of replaying a graph");
  sub->add_flag("--allow-tf32", options->tf32, "CUDA: let cuBLAS use TF32 tensor cores");
  sub->add_option("--seed", options->seed, "Seed of the weights and the synthetic batch")->capture_default_str();
  sub->callback([options] { run_bench(*options); });
}

}  // namespace cuae::cli
