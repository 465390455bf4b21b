// The CPU backend's analytic gradient, in double precision, against central finite differences of
// its own loss: every hidden activation, both output activations, both losses, shallow and deep
// stacks. CpuNetwork<double> runs exactly the code of the float backend, only on doubles.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cpu/cpu_network.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"
#include "support/reference.h"

namespace cuae {
namespace {

struct GradientCase {
  std::vector<int64_t> layers;
  Activation hidden;
  Activation output;
  Loss loss;
  float slope = 0.01f;
};

std::string case_name(const testing::TestParamInfo<GradientCase>& info) {
  const GradientCase& c = info.param;
  std::string name = std::string(to_string(c.hidden)) + "_" + std::string(to_string(c.output)) + "_" +
                     std::string(to_string(c.loss)) + "_depth" + std::to_string(2 * (c.layers.size() - 1));
  if (c.slope < 0) name += "_negative_slope";
  return name;
}

class Gradient : public testing::TestWithParam<GradientCase> {};

// Relative error of analytic vs central-difference gradients, ‖g − g_fd‖/‖g_fd‖. Both are in double;
// with h = 1e-5 the truncation error is O(h²) ~ 1e-10 and the rounding error ~ 1e-16/h ~ 1e-11.
constexpr double kFiniteDifferenceTolerance = 1e-6;

TEST_P(Gradient, MatchesCentralFiniteDifferences) {
  const GradientCase& c = GetParam();
  ModelConfig config;
  config.layers = c.layers;
  config.hidden_activation = c.hidden;
  config.output_activation = c.output;
  config.loss = c.loss;
  config.leaky_relu_slope = c.slope;
  const ParameterLayout layout = make_layout(config);
  cpu::CpuNetwork<double> net(config, layout, 2);

  const uint64_t seed = 1234;
  SCOPED_TRACE("seed " + std::to_string(seed));
  // Weights in [-0.6, 0.6] keep pre-activations O(1); padding stays 0, as the layout requires.
  std::vector<double>& params = net.parameters();
  std::vector<bool> is_padding(params.size(), true);
  const auto w = ref::random_floats(params.size(), seed, -0.6f, 0.6f);
  for (const LayerLayout& layer : layout.layers) {
    for (int64_t i = 0; i < layer.in * layer.out; ++i) is_padding[static_cast<size_t>(layer.weight_offset + i)] = false;
    for (int64_t i = 0; i < layer.out; ++i) is_padding[static_cast<size_t>(layer.bias_offset + i)] = false;
  }
  for (size_t i = 0; i < params.size(); ++i) params[i] = is_padding[i] ? 0.0 : w[i];

  // Targets in (0, 1) as BCE needs; 5 rows (odd, not a multiple of anything).
  const int64_t rows = 5, d = layout.input_dim();
  const auto xf = ref::random_floats(static_cast<size_t>(rows * d), seed + 1, 0.05f, 0.95f);
  const std::vector<double> x(xf.begin(), xf.end());
  const double elements = static_cast<double>(rows * d);

  net.forward_backward(x.data(), rows, 1);
  const std::vector<double> analytic = net.gradient();

  const double h = 1e-5;
  std::vector<double> numeric(params.size(), 0.0);
  for (size_t i = 0; i < params.size(); ++i) {
    if (is_padding[i]) continue;
    const double saved = params[i];
    params[i] = saved + h;
    const double up = net.loss_sum(x.data(), rows) / elements;
    params[i] = saved - h;
    const double down = net.loss_sum(x.data(), rows) / elements;
    params[i] = saved;
    numeric[i] = (up - down) / (2 * h);
  }
  EXPECT_LT(ref::relative_error(analytic, numeric), kFiniteDifferenceTolerance);
  for (size_t i = 0; i < params.size(); ++i) {
    if (is_padding[i]) {
      EXPECT_EQ(analytic[i], 0.0) << "padding float " << i << " got a gradient";
    }
  }
}

std::vector<GradientCase> all_cases() {
  std::vector<GradientCase> cases;
  const Activation hidden[] = {Activation::relu, Activation::sigmoid, Activation::tanh,
                               Activation::linear, Activation::leaky_relu, Activation::gelu};
  for (const Activation a : hidden) {
    cases.push_back({{13, 7}, a, Activation::sigmoid, Loss::bce});
    cases.push_back({{13, 9, 5}, a, Activation::sigmoid, Loss::bce});
  }
  for (const Activation out : {Activation::sigmoid, Activation::linear}) {
    cases.push_back({{13, 7}, Activation::tanh, out, Loss::mse});
    cases.push_back({{13, 9, 5}, Activation::gelu, out, Loss::mse});
  }
  // A negative slope makes y > 0 on both sides of 0, so backward must use the stored pre-activation.
  cases.push_back({{13, 9, 5}, Activation::leaky_relu, Activation::sigmoid, Loss::bce, -0.2f});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryActivationAndLoss, Gradient, testing::ValuesIn(all_cases()), case_name);

// ---- regularisers: the gradient of the whole training loss (reconstruction + penalties), with the
// step's noise and dropout masks fixed by its step number -------------------------------------------

struct RegularizedCase {
  std::string name;
  std::vector<int64_t> layers;
  Activation hidden = Activation::relu;
  bool tied = false;
  Regularization regularization;
};

double training_loss(cpu::CpuNetwork<double>& net, const std::vector<double>& x, int64_t rows, int64_t step) {
  net.train_forward(x.data(), rows, step);
  const LossTerms t = net.train_loss(x.data(), rows);
  return t.reconstruction + t.l1_activity + t.kl_sparsity + t.l2 + t.latent_kl;
}

class RegularizedGradient : public testing::TestWithParam<RegularizedCase> {};

TEST_P(RegularizedGradient, MatchesCentralFiniteDifferencesOfTheTotalLoss) {
  const RegularizedCase& c = GetParam();
  ModelConfig config;
  config.layers = c.layers;
  config.hidden_activation = c.hidden;
  config.tied_weights = c.tied;
  config.regularization = c.regularization;
  config.seed = 77;
  config.validate();
  const ParameterLayout layout = make_layout(config);
  cpu::CpuNetwork<double> net(config, layout, 2);
  std::vector<double>& params = net.parameters();
  std::vector<bool> trained(params.size(), false);
  const auto w = ref::random_floats(params.size(), 4321, -0.6f, 0.6f);
  for (const LayerLayout& layer : layout.layers) {
    for (int64_t i = 0; i < layer.in * layer.out; ++i) trained[static_cast<size_t>(layer.weight_offset + i)] = true;
    for (int64_t i = 0; i < layer.out; ++i) trained[static_cast<size_t>(layer.bias_offset + i)] = true;
  }
  for (size_t i = 0; i < params.size(); ++i) params[i] = trained[i] ? w[i] : 0.0;
  const int64_t rows = 7, d = layout.input_dim(), step = 3;
  const auto xf = ref::random_floats(static_cast<size_t>(rows * d), 4322, 0.05f, 0.95f);
  const std::vector<double> x(xf.begin(), xf.end());

  const LossTerms terms = net.forward_backward(x.data(), rows, step);
  const std::vector<double> analytic = net.gradient();
  const double h = 1e-5;
  std::vector<double> numeric(params.size(), 0.0);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!trained[i]) continue;
    const double saved = params[i];
    params[i] = saved + h;
    const double up = training_loss(net, x, rows, step);
    params[i] = saved - h;
    const double down = training_loss(net, x, rows, step);
    params[i] = saved;
    numeric[i] = (up - down) / (2 * h);
  }
  EXPECT_LT(ref::relative_error(analytic, numeric), kFiniteDifferenceTolerance) << c.name;
  // The penalty under test contributed: the check is not of the reconstruction alone.
  const Regularization& r = c.regularization;
  if (r.l1_activity > 0) {
    EXPECT_GT(terms.l1_activity, 0);
  }
  if (r.kl_beta > 0) {
    EXPECT_GT(terms.kl_sparsity, 0);
  }
  if (r.l2 > 0) {
    EXPECT_GT(terms.l2, 0);
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (!trained[i]) {
      EXPECT_EQ(analytic[i], 0.0) << "padding float " << i;
    }
  }
}

std::vector<RegularizedCase> regularized_cases() {
  const auto with = [](std::string name, auto set) {
    RegularizedCase c{std::move(name), {13, 9, 5}, Activation::relu, false, {}};
    set(c);
    return c;
  };
  return {
      with("dropout_all_layers", [](auto& c) { c.regularization.dropout = {0.3f}; }),
      with("dropout_per_layer", [](auto& c) { c.regularization.dropout = {0.5f, 0.0f, 0.25f}; }),
      with("gaussian_noise", [](auto& c) { c.regularization.noise = {Noise::Kind::gaussian, 0.2f}; }),
      with("masking_noise", [](auto& c) { c.regularization.noise = {Noise::Kind::mask, 0.3f}; }),
      with("salt_pepper_noise", [](auto& c) { c.regularization.noise = {Noise::Kind::salt_pepper, 0.2f}; }),
      with("l1_activity", [](auto& c) { c.regularization.l1_activity = 0.05f; }),
      with("kl_sparsity", [](auto& c) {
        c.hidden = Activation::sigmoid;
        c.regularization.kl_rho = 0.1f;
        c.regularization.kl_beta = 2.0f;
      }),
      with("l2", [](auto& c) { c.regularization.l2 = 0.01f; }),
      with("tied_weights", [](auto& c) { c.tied = true; }),
      with("tied_weights_one_hidden", [](auto& c) {
        c.layers = {13, 7};
        c.tied = true;
        c.hidden = Activation::tanh;
      }),
      with("everything", [](auto& c) {
        c.hidden = Activation::sigmoid;
        c.tied = true;
        c.regularization.noise = {Noise::Kind::mask, 0.2f};
        c.regularization.dropout = {0.2f};
        c.regularization.l1_activity = 0.02f;
        c.regularization.kl_rho = 0.2f;
        c.regularization.kl_beta = 0.5f;
        c.regularization.l2 = 0.003f;
      }),
  };
}

INSTANTIATE_TEST_SUITE_P(EveryRegularizer, RegularizedGradient, testing::ValuesIn(regularized_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace cuae
