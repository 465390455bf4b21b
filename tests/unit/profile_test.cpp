// The measurement plumbing of `cuae bench` (src/profile/profile.h), never its speed: a profiled run trains
// exactly like train_step, reports one time per step and phase, the work model counts what issue 6
// says, the percentile summary picks the right ranks, and the bench command writes its JSON.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cuae/layout.h"
#include "engine/backend_factory.h"
#include "profile/profile.h"

namespace cuae {
namespace {

ModelConfig odd_config() {
  ModelConfig c;
  c.layers = {37, 11, 5};
  c.seed = 7;
  return c;
}

std::unique_ptr<Backend> cpu_backend(const ModelConfig& config, const ParameterLayout&) {
  BackendOptions options;
  options.cpu_threads = 2;
  return make_ready_backend(config, Device::cpu(), options).backend;
}

TEST(Profile, CpuProfiledStepsTrainExactlyLikeTrainStep) {
  const ModelConfig config = odd_config();
  const ParameterLayout layout = make_layout(config);
  const Matrix batch = make_random(29, 37, 3).to_matrix();
  auto profiled = cpu_backend(config, layout);
  auto plain = cpu_backend(config, layout);

  const StepProfile profile = profiled->profile_steps(batch.view(), 2, 3);
  float loss = 0;
  for (int i = 0; i < 5; ++i) loss = plain->train_step(batch.view());

  std::vector<float> a(static_cast<size_t>(layout.total_floats), std::nanf("")), b(a.size(), std::nanf(""));
  profiled->read_parameters(a);
  plain->read_parameters(b);
  EXPECT_EQ(a, b) << "the phase-split step must compute the same bits as train_step";
  EXPECT_EQ(profile.last_loss, loss);
  EXPECT_EQ(profile.steps_trained, 5);
  EXPECT_EQ(profiled->read_optimizer_state().step, 5);
}

TEST(Profile, CpuProfileHasOneTimePerStepAndPhase) {
  const ModelConfig config = odd_config();
  const ParameterLayout layout = make_layout(config);
  const Matrix batch = make_random(17, 37, 4).to_matrix();
  const StepProfile p = cpu_backend(config, layout)->profile_steps(batch.view(), 1, 4);
  for (const std::vector<double>* series : {&p.step, &p.forward, &p.loss, &p.backward, &p.optimizer}) {
    ASSERT_EQ(series->size(), 4u);
    for (double s : *series) EXPECT_GE(s, 0.0);
  }
  for (size_t i = 0; i < 4; ++i) {
    // The whole step spans its phases (same clock readings), up to rounding of the differences.
    EXPECT_NEAR(p.step[i], p.forward[i] + p.loss[i] + p.backward[i] + p.optimizer[i], 1e-9);
  }
}

TEST(Profile, WorkModelCountsGemmFlopsAsIssueSixDefinesThem) {
  ModelConfig config;
  config.layers = {784, 64};
  const ParameterLayout layout = make_layout(config);
  const int64_t m = 256;
  const detail::StepWork w = detail::step_work(config, layout, m);
  const double gemm = 2.0 * m * 784 * 64;  // one GEMM of either layer
  // Forward: one GEMM per layer plus bias + activation (2 per output element).
  EXPECT_DOUBLE_EQ(w.flops[0], 2 * gemm + 2.0 * m * 64 + 2.0 * m * 784);
  // Backward: dW for both layers, dX only for layer 1, plus db (1/elem) and act' (2/elem of layer 0's out).
  EXPECT_DOUBLE_EQ(w.flops[2], 3 * gemm + 1.0 * m * 64 + 1.0 * m * 784 + 2.0 * m * 64);
  EXPECT_DOUBLE_EQ(w.flops[3], 12.0 * static_cast<double>(layout.parameter_count));
  EXPECT_DOUBLE_EQ(w.bytes[3], 4.0 * 7 * static_cast<double>(layout.parameter_count));
  EXPECT_DOUBLE_EQ(w.total_flops(), w.flops[0] + w.flops[1] + w.flops[2] + w.flops[3]);
}

TEST(Profile, SummaryUsesNearestRankPercentiles) {
  std::vector<double> times;
  for (int i = 10; i >= 1; --i) times.push_back(i * 0.5);  // 0.5 .. 5.0, reversed
  const detail::TimeSummary s = detail::summarize(times);
  EXPECT_EQ(s.count, 10);
  EXPECT_DOUBLE_EQ(s.min, 0.5);
  EXPECT_DOUBLE_EQ(s.median, 2.5);  // rank ceil(0.5 * 10) = 5
  EXPECT_DOUBLE_EQ(s.p90, 4.5);     // rank 9
  EXPECT_DOUBLE_EQ(s.mean, 2.75);
  EXPECT_EQ(detail::summarize({}).count, 0);
}

TEST(Profile, RooflineFractionIsTheBoundOverTheTime) {
  detail::DevicePeaks peaks;
  peaks.gemm_flops = 100;
  peaks.copy_bytes = 10;
  EXPECT_DOUBLE_EQ(detail::roofline_fraction(200, 10, 4, peaks), 0.5);  // compute bound: 2 s of 4
  EXPECT_DOUBLE_EQ(detail::roofline_fraction(100, 30, 6, peaks), 0.5);  // memory bound: 3 s of 6
  EXPECT_DOUBLE_EQ(detail::roofline_fraction(100, 30, 0, peaks), 0.0);
}

#ifdef CUAE_CLI_PATH
TEST(Profile, BenchCommandWritesEveryNumberAsJson) {
  const auto json = std::filesystem::temp_directory_path() / "cuae_profile_test_bench.json";
  std::filesystem::remove(json);
  const std::string command = std::string(CUAE_CLI_PATH) +
                              " bench --device cpu --layers 37,11 --batch 19 --steps 5 --warmup 1 --threads 2 --json " +
                              json.string() + " > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(json);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("batch"), 19);
  EXPECT_GT(j.at("peaks").at("gemm_flops_per_s").get<double>(), 0);
  EXPECT_GT(j.at("peaks").at("copy_bytes_per_s").get<double>(), 0);
  const nlohmann::json& run = j.at("runs").at(0);
  EXPECT_EQ(run.at("step_seconds").size(), 5u);
  EXPECT_EQ(run.at("steps_trained"), 6);
  for (const char* phase : {"forward", "loss", "backward", "optimizer"}) EXPECT_EQ(run.at("phases").at(phase).at("count"), 5);
  std::filesystem::remove(json);
}

TEST(Profile, BenchCommandRejectsAnUnknownForward) {
  const std::string command =
      std::string(CUAE_CLI_PATH) + " bench --device cpu --layers 37,11 --forward magic > /dev/null 2>&1";
  EXPECT_NE(std::system(command.c_str()), 0);
}
#endif

}  // namespace
}  // namespace cuae
