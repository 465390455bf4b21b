// Backend::profile_steps of the CUDA backend (the source of `cuae bench`'s GPU numbers) on the host
// SIMT emulation: the timed graph replays and the eager phase-marked steps train exactly like
// train_step, every series has one time per step, and the last loss is read from the right slot.
// Times themselves are never checked: this is a functional test of the plumbing.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "cuae/layout.h"
#include "engine/backend_factory.h"
#include "support/reference.h"

namespace cuae {
namespace {

constexpr uint64_t kSeed = 20240612;

struct Built {
  ParameterLayout layout;
  std::unique_ptr<Backend> backend;
};

Built build(bool graphs) {
  ModelConfig config;
  config.layers = {37, 11};
  config.seed = kSeed;
  BackendOptions options;
  options.cuda_graphs = graphs;
  ReadyBackend ready = make_ready_backend(config, Device::cuda(0), options);
  return {ready.layout, std::move(ready.backend)};
}

std::vector<float> parameters(const Built& b) {
  std::vector<float> flat(static_cast<size_t>(b.layout.total_floats), std::nanf(""));
  b.backend->read_parameters(flat);
  return flat;
}

double relative_error(const std::vector<float>& out, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (static_cast<double>(out[i]) - ref[i]) * (static_cast<double>(out[i]) - ref[i]);
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

class EmulatedBackendProfile : public ::testing::TestWithParam<bool> {};

TEST_P(EmulatedBackendProfile, ProfiledStepsTrainLikeTrainStepAndTimeEveryStep) {
  SCOPED_TRACE("seed " + std::to_string(kSeed) + (GetParam() ? ", graphs" : ", eager"));
  const std::vector<float> data = ref::random_floats(19 * 37, kSeed, 0, 1);
  const MatrixView batch{data.data(), 19, 37};
  Built profiled = build(GetParam());
  Built plain = build(GetParam());

  const StepProfile p = profiled.backend->profile_steps(batch, 2, 3);
  // Warm-up, the timed steps, then as many eager steps for the phase breakdown.
  ASSERT_EQ(p.steps_trained, 2 + 3 + 3);
  float loss = 0;
  for (int i = 0; i < 8; ++i) loss = plain.backend->train_step(batch);

  EXPECT_LE(relative_error(parameters(profiled), parameters(plain)), 1e-6);
  EXPECT_NEAR(p.last_loss, loss, 1e-6 * std::abs(loss));
  EXPECT_EQ(profiled.backend->read_optimizer_state().step, 8);
  for (const std::vector<double>* series : {&p.step, &p.forward, &p.loss, &p.backward, &p.optimizer}) {
    ASSERT_EQ(series->size(), 3u);
    for (double s : *series) EXPECT_GE(s, 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Graphs, EmulatedBackendProfile, ::testing::Bool());

}  // namespace
}  // namespace cuae
