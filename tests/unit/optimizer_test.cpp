// The CPU optimizer update (src/cpu/optimizer.cpp) against torch.optim's formulas: the double
// reference in reference.h over several steps, and small cases worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cpu/optimizer.h"
#include "cuae/error.h"
#include "cuae/layout.h"
#include "engine/backend_factory.h"
#include "support/reference.h"
#include "support/tolerances.h"

namespace cuae {
namespace {

// Runs `steps` steps of optimizer_step on float buffers and of ref::adam_step on doubles from the
// same start and gradients; returns the relative errors of p, m and v.
struct RelativeErrors {
  double p, m, v;
};
RelativeErrors compare_with_reference(const OptimizerConfig& config, int steps, uint64_t seed) {
  const size_t n = 37;
  std::vector<float> p = ref::random_floats(n, seed, -1, 1);
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  std::vector<double> pd(p.begin(), p.end()), md(n, 0.0), vd(n, 0.0);
  ref::AdamOptions o;
  o.lr = 1e-2;  // a large step, so an error in the update shows in ‖p‖
  o.beta1 = 0.9;
  o.beta2 = 0.999;
  o.eps = 1e-8;
  o.weight_decay = config.weight_decay;
  o.decoupled = config.decoupled_weight_decay;
  o.epsilon_hat = config.epsilon_hat;
  for (int t = 1; t <= steps; ++t) {
    const std::vector<float> g = ref::random_floats(n, seed + static_cast<uint64_t>(t), -0.5f, 0.5f);
    const std::vector<double> gd(g.begin(), g.end());
    cpu::optimizer_step(config, t, p, g, m, v, 2);
    ref::adam_step(pd, gd, md, vd, t, o);
  }
  return {ref::relative_error(p, pd), ref::relative_error(m, md), ref::relative_error(v, vd)};
}

OptimizerConfig adam_config() {
  OptimizerConfig c;
  c.lr = 1e-2f;
  return c;
}

TEST(Adam, MatchesPyTorchFormulaAfterThreeSteps) {
  SCOPED_TRACE("seed 7");
  const RelativeErrors e = compare_with_reference(adam_config(), 3, 7);
  EXPECT_LT(e.p, tol::kOptimizer);
  EXPECT_LT(e.m, tol::kOptimizer);
  EXPECT_LT(e.v, tol::kOptimizer);
}

TEST(Adam, L2WeightDecayMatchesPyTorchFormula) {
  OptimizerConfig c = adam_config();
  c.weight_decay = 0.1f;
  const RelativeErrors e = compare_with_reference(c, 3, 11);
  EXPECT_LT(e.p, tol::kOptimizer);
  EXPECT_LT(e.v, tol::kOptimizer);
}

TEST(Adam, DecoupledWeightDecayMatchesAdamWFormula) {
  OptimizerConfig c = adam_config();
  c.weight_decay = 0.1f;
  c.decoupled_weight_decay = true;
  const RelativeErrors e = compare_with_reference(c, 3, 13);
  EXPECT_LT(e.p, tol::kOptimizer);
  EXPECT_LT(e.v, tol::kOptimizer);
}

TEST(Adam, EpsilonHatMatchesKerasFormula) {
  OptimizerConfig c = adam_config();
  c.epsilon_hat = true;
  const RelativeErrors e = compare_with_reference(c, 3, 17);
  EXPECT_LT(e.p, tol::kOptimizer);
}

// One parameter p = 1, lr = 0.1, default betas and eps.
// Step 1, g = 0.5:  m = 0.1·0.5 = 0.05, v = 0.001·0.25 = 2.5e-4, m̂ = 0.05/0.1 = 0.5,
//   v̂ = 2.5e-4/0.001 = 0.25, p = 1 − 0.1·0.5/(0.5 + 1e-8) = 0.900000002.
// Step 2, g = −0.25: m = 0.9·0.05 − 0.1·0.25 = 0.02, v = 0.999·2.5e-4 + 0.001·0.0625 = 3.1225e-4,
//   m̂ = 0.02/0.19 = 0.105263158, v̂ = 3.1225e-4/0.001999 = 0.156203102, sqrt = 0.395225381,
//   p = 0.9 − 0.1·0.105263158/0.395225381 = 0.873366299.
TEST(Adam, TinyCaseMatchesValuesWorkedByHand) {
  OptimizerConfig c;
  c.lr = 0.1f;
  std::vector<float> p{1.0f}, m{0.0f}, v{0.0f};
  cpu::optimizer_step(c, 1, p, std::vector<float>{0.5f}, m, v, 1);
  EXPECT_NEAR(m[0], 0.05f, 1e-8);
  EXPECT_NEAR(v[0], 2.5e-4f, 1e-10);
  EXPECT_NEAR(p[0], 0.900000002f, 1e-7);
  cpu::optimizer_step(c, 2, p, std::vector<float>{-0.25f}, m, v, 1);
  EXPECT_NEAR(m[0], 0.02f, 1e-8);
  EXPECT_NEAR(v[0], 3.1225e-4f, 1e-10);
  EXPECT_NEAR(p[0], 0.873366299f, 2e-7);
}

// AdamW, p = 1, lr = 0.1, wd = 0.5, g = 0.5: p = 1·(1 − 0.05) = 0.95 first, then the Adam step of
// the tiny case above (0.1·0.5/(0.5 + 1e-8) ≈ 0.1): 0.85.
TEST(Adam, DecoupledWeightDecayTinyCaseMatchesHand) {
  OptimizerConfig c;
  c.lr = 0.1f;
  c.weight_decay = 0.5f;
  c.decoupled_weight_decay = true;
  std::vector<float> p{1.0f}, m{0.0f}, v{0.0f};
  cpu::optimizer_step(c, 1, p, std::vector<float>{0.5f}, m, v, 1);
  EXPECT_NEAR(p[0], 0.85f, 1e-7);
}

// Epsilon-hat, p = 1, lr = 0.1, eps = 1e-3, g = 0.5 at t = 1: m = 0.05, sqrt(v) = 0.0158113883,
// step = 0.1·sqrt(0.001)/0.1 = 0.0316227766, p = 1 − 0.0316227766·0.05/0.0168113883 = 0.905948349.
TEST(Adam, EpsilonHatTinyCaseMatchesHand) {
  OptimizerConfig c;
  c.lr = 0.1f;
  c.eps = 1e-3f;
  c.epsilon_hat = true;
  std::vector<float> p{1.0f}, m{0.0f}, v{0.0f};
  cpu::optimizer_step(c, 1, p, std::vector<float>{0.5f}, m, v, 1);
  EXPECT_NEAR(p[0], 0.905948349f, 1e-7);
}

// torch.optim.SGD(momentum=0.9), p = 1, lr = 0.1, gradients 0.5, −0.25, 1:
// buf = 0.5 (t = 1 copies g), p = 0.95; buf = 0.45 − 0.25 = 0.2, p = 0.93; buf = 0.18 + 1 = 1.18, p = 0.812.
TEST(Sgd, MomentumMatchesTorchOptimSgdByHand) {
  OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  c.lr = 0.1f;
  c.beta1 = 0.9f;
  std::vector<float> p{1.0f}, buf{123.0f}, unused;  // 123: the first step must overwrite the buffer
  const float grads[] = {0.5f, -0.25f, 1.0f};
  const float expected_p[] = {0.95f, 0.93f, 0.812f};
  const float expected_buf[] = {0.5f, 0.2f, 1.18f};
  for (int t = 1; t <= 3; ++t) {
    cpu::optimizer_step(c, t, p, std::vector<float>{grads[t - 1]}, buf, unused, 1);
    EXPECT_NEAR(buf[0], expected_buf[t - 1], 1e-6) << "step " << t;
    EXPECT_NEAR(p[0], expected_p[t - 1], 1e-6) << "step " << t;
  }
}

TEST(Optimizer, RejectsMismatchedBufferSizes) {
  OptimizerConfig c;
  std::vector<float> p(5), g(5), m(4), v(5);
  EXPECT_THROW(cpu::optimizer_step(c, 1, p, g, m, v, 1), Error);
}

// Training through the backend with weight decay (both kinds) must leave the layout's padding at 0.
TEST(Optimizer, PaddingFloatsStayZeroThroughTraining) {
  for (const bool decoupled : {false, true}) {
    ModelConfig config;
    config.layers = {13, 7};
    config.optimizer.weight_decay = 0.1f;
    config.optimizer.decoupled_weight_decay = decoupled;
    const ParameterLayout layout = make_layout(config);
    std::vector<bool> padding(static_cast<size_t>(layout.total_floats), true);
    for (const LayerLayout& l : layout.layers) {
      for (int64_t i = 0; i < l.in * l.out; ++i) padding[static_cast<size_t>(l.weight_offset + i)] = false;
      for (int64_t i = 0; i < l.out; ++i) padding[static_cast<size_t>(l.bias_offset + i)] = false;
    }
    ASSERT_LT(layout.parameter_count, layout.total_floats) << "the test needs a layout with padding";
    std::vector<float> params = ref::random_floats(padding.size(), 3, -0.5f, 0.5f);
    for (size_t i = 0; i < params.size(); ++i)
      if (padding[i]) params[i] = 0.0f;
    auto backend = make_cpu_backend(config, layout, {});
    backend->write_parameters(params);
    const std::vector<float> x = ref::random_floats(static_cast<size_t>(9 * 13), 4, 0.0f, 1.0f);
    for (int s = 0; s < 4; ++s) backend->train_step({x.data(), 9, 13});
    std::vector<float> after(params.size(), std::numeric_limits<float>::quiet_NaN());
    backend->read_parameters(after);
    const OptimizerState state = backend->read_optimizer_state();
    EXPECT_EQ(state.step, 4);
    for (size_t i = 0; i < after.size(); ++i) {
      if (!padding[i]) continue;
      EXPECT_EQ(after[i], 0.0f) << "padding float " << i << (decoupled ? " (AdamW)" : " (L2)");
      EXPECT_EQ(state.m[i], 0.0f);
      EXPECT_EQ(state.v[i], 0.0f);
    }
  }
}

}  // namespace
}  // namespace cuae
