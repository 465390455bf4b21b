// The float CPU backend against the double references in reference.h: each activation's forward
// pass, the fused output-layer loss and its gradient, the fast exp/log1p, then whole-step
// behaviour: the float gradient, determinism, the batches of an epoch, falling loss, and the checks
// at the Model boundary in front of it.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cpu/cpu_network.h"
#include "cpu/elementwise.h"
#include "cuae/error.h"
#include "cuae/layout.h"
#include "cuae/model.h"
#include "engine/backend_factory.h"
#include "kernels/common/random.cuh"
#include "support/reference.h"
#include "support/tolerances.h"


namespace cuae {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

ModelConfig small_config(Activation hidden = Activation::relu, Loss loss = Loss::bce,
                         Activation out = Activation::sigmoid) {
  ModelConfig c;
  c.layers = {13, 7};
  c.hidden_activation = hidden;
  c.output_activation = out;
  c.loss = loss;
  return c;
}

// Random weights in [-0.5, 0.5] with the layout's padding left at 0.
std::vector<float> random_parameters(const ParameterLayout& layout, uint64_t seed) {
  std::vector<float> p(static_cast<size_t>(layout.total_floats), 0.0f);
  const auto values = ref::random_floats(p.size(), seed, -0.5f, 0.5f);
  for (const LayerLayout& l : layout.layers) {
    for (int64_t i = 0; i < l.in * l.out; ++i) p[static_cast<size_t>(l.weight_offset + i)] = values[static_cast<size_t>(l.weight_offset + i)];
    for (int64_t i = 0; i < l.out; ++i) p[static_cast<size_t>(l.bias_offset + i)] = values[static_cast<size_t>(l.bias_offset + i)];
  }
  return p;
}


class ForwardPerActivation : public testing::TestWithParam<Activation> {};

// ‖out − ref‖/‖ref‖ of the CPU backend's forward through layer `layer` alone (random weights from
// `seed`, `rows` random inputs in [lo, hi) from seed + 1, output NaN-poisoned) against ref::dense_forward.
double layer_forward_error(const ModelConfig& config, int layer, Activation act, int64_t rows, uint64_t seed, float lo,
                           float hi) {
  const ParameterLayout layout = make_layout(config);
  const std::vector<float> params = random_parameters(layout, seed);
  auto backend = make_cpu_backend(config, layout, {});
  backend->write_parameters(params);
  const LayerLayout& l = layout.layers[static_cast<size_t>(layer)];
  const auto x = ref::random_floats(static_cast<size_t>(rows * l.in), seed + 1, lo, hi);
  std::vector<float> out(static_cast<size_t>(rows * l.out), kNaN);
  backend->forward({x.data(), rows, l.in}, layer, layer + 1, out.data());
  std::vector<double> expected;
  ref::dense_forward(x.data(), params.data() + l.weight_offset, params.data() + l.bias_offset, rows, l.out, l.in,
                     act, config.leaky_relu_slope, expected);
  return ref::relative_error(out, expected);
}

TEST_P(ForwardPerActivation, EncoderLayerMatchesDenseReference) {
  SCOPED_TRACE("seed 21/22");
  EXPECT_LT(layer_forward_error(small_config(GetParam()), 0, GetParam(), 11, 21, -2.0f, 2.0f), tol::kDense);
}

INSTANTIATE_TEST_SUITE_P(Cpu, ForwardPerActivation,
                         testing::Values(Activation::relu, Activation::sigmoid, Activation::tanh, Activation::linear,
                                         Activation::leaky_relu, Activation::gelu),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(CpuBackend, OutputLayerAppliesSigmoidOrLinear) {
  for (const Activation out_act : {Activation::sigmoid, Activation::linear}) {
    const ModelConfig config = small_config(Activation::relu, Loss::mse, out_act);
    EXPECT_LT(layer_forward_error(config, 1, out_act, 9, 31, -1.0f, 1.0f), tol::kDense) << to_string(out_act);
  }
}

// Loss of the whole network: the double reference runs both layers with ref::dense_forward.
TEST(CpuBackend, LossSumMatchesReferenceForBothLosses) {
  for (const Loss loss : {Loss::bce, Loss::mse}) {
    const ModelConfig config = small_config(Activation::tanh, loss);
    const ParameterLayout layout = make_layout(config);
    const std::vector<float> params = random_parameters(layout, 41);
    auto backend = make_cpu_backend(config, layout, {});
    backend->write_parameters(params);
    const int64_t rows = 17;
    const auto x = ref::random_floats(static_cast<size_t>(rows * 13), 42, 0.0f, 1.0f);
    const LayerLayout& l0 = layout.layers[0];
    const LayerLayout& l1 = layout.layers[1];
    std::vector<double> hidden, logits;
    ref::dense_forward(x.data(), params.data() + l0.weight_offset, params.data() + l0.bias_offset, rows, 7, 13,
                       Activation::tanh, 0, hidden);
    const std::vector<float> hidden_f(hidden.begin(), hidden.end());
    ref::dense_forward(hidden_f.data(), params.data() + l1.weight_offset, params.data() + l1.bias_offset, rows, 13, 7,
                       Activation::linear, 0, logits);
    double expected = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (loss == Loss::bce) {
        expected += ref::bce_element(logits[i], x[i]);
      } else {
        const double d = ref::act(Activation::sigmoid, logits[i]) - x[i];
        expected += d * d;
      }
    }
    const double got = backend->loss_sum(Dataset::from_floats(x, rows, 13, "x"), rows);
    EXPECT_LT(std::abs(got - expected) / expected, tol::kLossSum) << to_string(loss);
  }
}

// The fused loss rows in float: per-row loss and dZ = dLoss/dz · scale against double formulas,
// over logits wide enough to reach both branches of the stable BCE form.
TEST(CpuBackend, FusedLossRowGradientMatchesReference) {
  const int64_t n = 301;
  const auto z = ref::random_floats(static_cast<size_t>(n), 51, -12.0f, 12.0f);
  const auto x = ref::random_floats(static_cast<size_t>(n), 52, 0.0f, 1.0f);
  const std::vector<float> zero_bias(static_cast<size_t>(n), 0.0f);
  const float scale = 1.0f / 301;
  for (const Loss loss : {Loss::bce, Loss::mse}) {
    std::vector<float> dz(static_cast<size_t>(n), kNaN);
    const double got = loss == Loss::bce
                           ? cpu::bce_row(z.data(), zero_bias.data(), x.data(), dz.data(), scale, n)
                           : cpu::mse_row(z.data(), zero_bias.data(), x.data(), dz.data(), scale, n, Activation::sigmoid);
    double expected = 0;
    std::vector<double> expected_dz(static_cast<size_t>(n));
    for (size_t i = 0; i < expected_dz.size(); ++i) {
      const double s = ref::act(Activation::sigmoid, z[i]);
      if (loss == Loss::bce) {
        expected += ref::bce_element(z[i], x[i]);
        expected_dz[i] = (s - x[i]) / 301.0;
      } else {
        expected += (s - x[i]) * (s - x[i]);
        expected_dz[i] = 2 * (s - x[i]) * s * (1 - s) / 301.0;
      }
    }
    EXPECT_LT(std::abs(got - expected) / expected, tol::kLossSum) << to_string(loss);
    EXPECT_LT(ref::relative_error(dz, expected_dz), tol::kElementwise) << to_string(loss);
  }
}

TEST(CpuBackend, FastExpAndLog1pAreAccurateToAFewUlp) {
  double worst_exp = 0, worst_log = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float x = -87.0f + 175.0f * static_cast<float>(i) / 200000;
    const double e = std::exp(static_cast<double>(x));
    worst_exp = std::max(worst_exp, std::abs(cpu::exp_approx(x) - e) / e);
    const float t = static_cast<float>(i) / 200000;
    const double l = std::log1p(static_cast<double>(t));
    if (t > 0) worst_log = std::max(worst_log, std::abs(cpu::log1p_unit(t) - l) / l);
  }
  EXPECT_LT(worst_exp, 3e-7);  // ~2.5 ulp of float
  EXPECT_LT(worst_log, 3e-7);
}

// The whole float gradient against CpuNetwork<double>, whose gradient gradient_test.cpp checks by
// finite differences. Several GEMMs in sequence: the dense tolerance.
TEST(CpuBackend, FloatGradientMatchesDoubleNetwork) {
  ModelConfig config = small_config(Activation::gelu);
  config.layers = {13, 9, 5};
  const ParameterLayout layout = make_layout(config);
  const std::vector<float> params = random_parameters(layout, 61);
  cpu::CpuNetwork<float> f(config, layout, 2);
  cpu::CpuNetwork<double> d(config, layout, 2);
  f.parameters() = params;
  d.parameters().assign(params.begin(), params.end());
  const int64_t rows = 23;
  const auto x = ref::random_floats(static_cast<size_t>(rows * 13), 62, 0.0f, 1.0f);
  const std::vector<double> xd(x.begin(), x.end());
  const double loss_f = f.forward_backward(x.data(), rows, 1).reconstruction;
  const double loss_d = d.forward_backward(xd.data(), rows, 1).reconstruction;
  EXPECT_LT(std::abs(loss_f - loss_d) / loss_d, tol::kLossSum);
  EXPECT_LT(ref::relative_error(f.gradient(), d.gradient()), tol::kDense);
}

TEST(CpuBackend, TrainStepIsDeterministicRunAfterRun) {
  ModelConfig config = small_config();
  config.layers = {13, 9, 5};
  const ParameterLayout layout = make_layout(config);
  const std::vector<float> params = random_parameters(layout, 71);
  const auto x = ref::random_floats(static_cast<size_t>(37 * 13), 72, 0.0f, 1.0f);
  std::vector<std::vector<float>> runs;
  std::vector<std::vector<float>> losses;
  for (int run = 0; run < 2; ++run) {
    auto backend = make_cpu_backend(config, layout, {});
    backend->write_parameters(params);
    losses.emplace_back();
    for (int s = 0; s < 5; ++s) losses.back().push_back(backend->train_step({x.data(), 37, 13}));
    runs.emplace_back(params.size(), kNaN);
    backend->read_parameters(runs.back());
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_NE(runs[0], params) << "training changed nothing";
}

// The batches of an epoch must equal train_step over batches gathered by permute_index, the last one
// partial.
TEST(CpuBackend, ShuffledEpochEqualsStepsOverPermutedBatches) {
  const ModelConfig config = small_config();
  const ParameterLayout layout = make_layout(config);
  const std::vector<float> params = random_parameters(layout, 81);
  const int64_t n = 53, batch = 16;  // 3 full batches and one of 5
  const auto values = ref::random_floats(static_cast<size_t>(n * 13), 82, 0.0f, 1.0f);
  const Dataset data = Dataset::from_floats(values, n, 13, "random 53x13");
  const uint64_t key = rng::epoch_shuffle_key(83, 1);

  auto epoch_backend = make_cpu_backend(config, layout, {});
  epoch_backend->write_parameters(params);
  epoch_backend->set_training_data(data, batch);
  const EpochPlan plan{n, batch, true, key, {}};
  EXPECT_EQ(plan.batches(), 4);
  EXPECT_EQ(plan.rows_of(3), 5);
  epoch_backend->begin_epoch(plan);
  epoch_backend->train_batches(0, 2);
  epoch_backend->train_batches(2, 2);
  EXPECT_EQ(epoch_backend->step(), 4);
  std::vector<BatchLoss> batch_losses(4);
  epoch_backend->read_batch_losses(0, batch_losses);
  std::vector<float> epoch_losses;
  for (const BatchLoss& loss : batch_losses) epoch_losses.push_back(loss.total);

  auto step_backend = make_cpu_backend(config, layout, {});
  step_backend->write_parameters(params);
  std::vector<float> step_losses;
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t rows = std::min(batch, n - first);
    std::vector<float> rows_data;
    for (int64_t r = 0; r < rows; ++r) {
      const auto src = static_cast<int64_t>(rng::permute_index(static_cast<uint64_t>(first + r), n, key));
      rows_data.insert(rows_data.end(), values.begin() + src * 13, values.begin() + (src + 1) * 13);
    }
    step_losses.push_back(step_backend->train_step({rows_data.data(), rows, 13}));
  }
  EXPECT_EQ(epoch_losses, step_losses);
  std::vector<float> a(params.size(), kNaN), b(params.size(), kNaN);
  epoch_backend->read_parameters(a);
  step_backend->read_parameters(b);
  EXPECT_EQ(a, b);
}

// Structured data (rank-3 latent through a sigmoid) is learnable by a 13→5→13 autoencoder.
TEST(CpuBackend, LossFallsOnStructuredData) {
  ModelConfig config = small_config();
  config.layers = {13, 5};
  config.optimizer.lr = 1e-2f;
  const ParameterLayout layout = make_layout(config);
  const int64_t n = 64;
  const auto basis = ref::random_floats(3 * 13, 101, -2.0f, 2.0f);
  const auto codes = ref::random_floats(static_cast<size_t>(n * 3), 102, -1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * 13));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < 13; ++j) {
      double z = 0;
      for (int64_t k = 0; k < 3; ++k) z += codes[static_cast<size_t>(i * 3 + k)] * basis[static_cast<size_t>(k * 13 + j)];
      x[static_cast<size_t>(i * 13 + j)] = static_cast<float>(1 / (1 + std::exp(-z)));
    }
  auto backend = make_cpu_backend(config, layout, {});
  backend->write_parameters(random_parameters(layout, 103));
  const double before = backend->loss_sum(Dataset::from_floats(x, n, 13, "x"), n) / static_cast<double>(n * 13);
  for (int s = 0; s < 300; ++s) backend->train_step({x.data(), n, 13});
  const double after = backend->loss_sum(Dataset::from_floats(x, n, 13, "x"), n) / static_cast<double>(n * 13);
  // The BCE floor is the data's own entropy, so compare the excess: it must shrink by more than half.
  double entropy = 0;
  for (const float v : x) entropy += ref::bce_element(std::log(v / (1 - v)), v);
  entropy /= static_cast<double>(x.size());
  EXPECT_LT(after - entropy, 0.5 * (before - entropy)) << "before " << before << ", after " << after;
}

// The backends trust their callers; the Model checks every input once, naming the operation.
TEST(CpuBackend, TheModelInFrontOfItNamesTheOperationAndTheShape) {
  Model model(small_config());
  const std::vector<float> x(12 * 4, 0.5f);
  try {
    model.train_step({x.data(), 4, 12});
    FAIL() << "train_step accepted 12 features";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("train_step: batch has 12 features, model expects 13"), std::string::npos)
        << e.what();
  }
  std::vector<float> wrong(5);
  try {
    model.set_parameters(wrong);
    FAIL() << "set_parameters accepted 5 floats";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("set_parameters: got 5 floats"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model.decode({x.data(), 4, 13}), ShapeError);  // codes are 7 wide
  OptimizerState bad;
  bad.m.resize(3);
  EXPECT_THROW(model.set_optimizer_state(bad), ShapeError);
}

}  // namespace
}  // namespace cuae
