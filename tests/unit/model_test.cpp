// cuae::Model on the CPU backend: initialisation, training, fit bookkeeping, inference paths.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>

#include "cuae/cuae.h"
#include "support/reference.h"
#include "support/tolerances.h"

namespace cuae {
namespace {

constexpr uint64_t kSeed = 424242;
constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();

ModelConfig small_config(uint64_t seed = kSeed) {
  ModelConfig c;
  c.layers = {23, 11, 5};  // odd widths, 4 dense layers
  c.optimizer.lr = 1e-2f;
  c.seed = seed;
  return c;
}

// Double-precision forward through layers [first, last) with the model's current parameters.
std::vector<double> reference_forward(const Model& model, const Matrix& in, int first, int last) {
  const std::vector<float> p = model.parameters();
  std::vector<float> x = in.data;
  std::vector<double> y;
  for (int l = first; l < last; ++l) {
    const LayerLayout& layer = model.layout().layers[static_cast<size_t>(l)];
    ref::dense_forward(x.data(), p.data() + layer.weight_offset, p.data() + layer.bias_offset, in.rows, layer.out,
                       layer.in, layer.activation, model.config().leaky_relu_slope, y);
    x.assign(y.begin(), y.end());
  }
  return y;
}

double relative_error(const std::vector<float>& out, const std::vector<double>& ref) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff += (out[i] - ref[i]) * (out[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(diff / norm);
}

TEST(Model, GlorotInitIsDeterministicBoundedWithZeroBiasAndPadding) {
  const Model a(small_config()), b(small_config()), c(small_config(kSeed + 1));
  const std::vector<float> p = a.parameters();
  EXPECT_EQ(p, b.parameters());
  EXPECT_NE(p, c.parameters());
  std::vector<bool> is_tensor(p.size(), false);
  for (const LayerLayout& layer : a.layout().layers) {
    const double bound = std::sqrt(6.0 / static_cast<double>(layer.in + layer.out));
    double sum_sq = 0;
    for (int64_t i = 0; i < layer.in * layer.out; ++i) {
      const float w = p[static_cast<size_t>(layer.weight_offset + i)];
      EXPECT_LE(std::abs(w), bound);
      sum_sq += w * w;
      is_tensor[static_cast<size_t>(layer.weight_offset + i)] = true;
    }
    // U(-a, a) has variance a^2 / 3; a loose bound catches a wrong scale, not sampling noise.
    EXPECT_NEAR(sum_sq / static_cast<double>(layer.in * layer.out), bound * bound / 3, bound * bound / 6) << layer.name;
    for (int64_t i = 0; i < layer.out; ++i) {
      EXPECT_EQ(p[static_cast<size_t>(layer.bias_offset + i)], 0.0f);
      is_tensor[static_cast<size_t>(layer.bias_offset + i)] = true;
    }
  }
  for (size_t i = 0; i < p.size(); ++i) {
    if (!is_tensor[i]) {
      EXPECT_EQ(p[i], 0.0f) << "padding float " << i;
    }
  }
}

TEST(Model, TorchDefaultInitBoundsWeightsAndBiasesByInverseSqrtFanIn) {
  ModelConfig config = small_config();
  config.init = Init::torch_default;
  const Model model(config);
  const std::vector<float> p = model.parameters();
  for (const LayerLayout& layer : model.layout().layers) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(layer.in));
    bool nonzero_bias = false;
    for (int64_t i = 0; i < layer.in * layer.out; ++i) EXPECT_LE(std::abs(p[static_cast<size_t>(layer.weight_offset + i)]), bound);
    for (int64_t i = 0; i < layer.out; ++i) {
      const float b = p[static_cast<size_t>(layer.bias_offset + i)];
      EXPECT_LE(std::abs(b), bound);
      nonzero_bias = nonzero_bias || b != 0;
    }
    EXPECT_TRUE(nonzero_bias) << layer.name;
  }
}

// BCE against soft targets x in (0, 1) is bounded below by the targets' entropy, not by 0, so the test
// watches the excess loss, which a model that learned the 3-dimensional manifold drives towards 0.
double entropy_floor(const Dataset& data) {
  const Matrix x = data.to_matrix();
  double sum = 0;
  for (const float v : x.data) sum -= v * std::log(static_cast<double>(v)) + (1 - v) * std::log1p(-static_cast<double>(v));
  return sum / static_cast<double>(x.data.size());
}

TEST(Model, ThreeLayerStackLossFallsOnStructuredData) {
  const Dataset all = make_structured(512, 23, 3, kSeed);  // one manifold: train and validation share it
  const Dataset train = all.slice(0, 384), val = all.slice(384, 128);
  Model model(small_config());
  const double floor = entropy_floor(val);
  const double before = model.evaluate(val) - floor;
  FitOptions options;
  options.epochs = 30;
  options.batch_size = 32;
  options.validation = &val;
  const History history = model.fit(train, options);
  ASSERT_EQ(history.epochs.size(), 30u);
  EXPECT_FALSE(history.stopped_early);
  EXPECT_LT(history.epochs.back().train_loss, history.epochs.front().train_loss);
  EXPECT_LT(history.epochs.back().val_loss - floor, 0.5 * before);
  EXPECT_DOUBLE_EQ(history.epochs.back().val_loss, model.evaluate(val));
  EXPECT_GT(history.epochs.back().samples_per_second, 0);
}

TEST(Model, TrainStepIsDeterministicForTheSameSeed) {
  const Matrix batch = make_structured(19, 23, 3, kSeed).to_matrix();
  Model a(small_config()), b(small_config());
  for (int i = 0; i < 5; ++i) {
    const float la = a.train_step(batch.view());
    const float lb = b.train_step(batch.view());
    EXPECT_EQ(la, lb) << "step " << i;
    EXPECT_TRUE(std::isfinite(la));
  }
  EXPECT_EQ(a.parameters(), b.parameters());
  EXPECT_EQ(a.step(), 5);
}

TEST(Model, FitCountsPartialBatchesAndReportsProgress) {
  const Dataset train = make_structured(37, 23, 3, kSeed);
  Model model(small_config());
  FitOptions options;
  options.epochs = 2;
  options.batch_size = 8;  // 4 full batches and one of 5 rows
  options.progress_every = 2;
  int progress = 0, epoch_ends = 0;
  const History history = model.fit(train, options, [&](const FitEvent& e) {
    EXPECT_EQ(e.steps_per_epoch, 5);
    if (e.kind == FitEvent::Kind::progress) {
      ++progress;
      EXPECT_EQ(e.step_in_epoch % 2, 0);
      EXPECT_TRUE(std::isfinite(e.running_loss));
    } else {
      ++epoch_ends;
      EXPECT_EQ(e.stats.epoch, epoch_ends);
      EXPECT_TRUE(std::isnan(e.stats.val_loss));  // no validation set
    }
  });
  EXPECT_EQ(model.step(), 10);
  EXPECT_EQ(progress, 4);  // steps 2 and 4 of each epoch
  EXPECT_EQ(epoch_ends, 2);
  EXPECT_EQ(history.epochs.size(), 2u);
}

TEST(Model, SplitFitContinuesTheShuffleSequence) {
  const Dataset train = make_structured(41, 23, 3, kSeed);
  FitOptions one;
  one.epochs = 1;
  one.batch_size = 16;
  FitOptions two = one;
  two.epochs = 2;
  Model whole(small_config()), split(small_config());
  const History h = whole.fit(train, two);
  split.fit(train, one);
  const History second = split.fit(train, one);
  EXPECT_EQ(h.epochs[1].train_loss, second.epochs[0].train_loss);
  EXPECT_EQ(whole.parameters(), split.parameters());
}

TEST(Model, StopFlagEndsFitEarly) {
  const Dataset train = make_structured(64, 23, 3, kSeed);
  Model model(small_config());
  std::atomic<bool> stop{false};
  FitOptions options;
  options.epochs = 5;
  options.batch_size = 8;
  options.progress_every = 3;
  options.stop = &stop;
  const History history = model.fit(train, options, [&](const FitEvent& e) {
    if (e.kind == FitEvent::Kind::progress) stop = true;
  });
  EXPECT_TRUE(history.stopped_early);
  EXPECT_EQ(history.epochs.size(), 1u);
  EXPECT_LT(model.step(), 8);  // the first epoch did not finish
}

TEST(Model, InferenceMatchesDoublePrecisionReferenceAcrossChunks) {
  Model model(small_config());
  model.fit(make_structured(96, 23, 3, kSeed), {.epochs = 1, .batch_size = 32});
  const Dataset data = make_structured(4100, 23, 3, kSeed + 3);  // more than one 4096-row chunk
  const Matrix x = data.to_matrix();
  const int layers = static_cast<int>(model.layout().layers.size());
  const int enc = model.layout().encoder_layers;

  const Matrix code = model.encode(x.view());
  ASSERT_EQ(code.rows, 4100);
  ASSERT_EQ(code.cols, 5);
  EXPECT_LT(relative_error(code.data, reference_forward(model, x, 0, enc)), tol::kDense);
  const Matrix recon = model.reconstruct(x.view());
  ASSERT_EQ(recon.cols, 23);
  EXPECT_LT(relative_error(recon.data, reference_forward(model, x, 0, layers)), tol::kDense);
  const Matrix decoded = model.decode(code.view());
  EXPECT_LT(relative_error(decoded.data, reference_forward(model, code, enc, layers)), tol::kDense);
  EXPECT_EQ(model.encode(data).data, code.data);
  EXPECT_EQ(model.reconstruct(data).data, recon.data);
  EXPECT_EQ(model.encode(MatrixView{nullptr, 0, 23}).rows, 0);
}

TEST(Model, EvaluateIsTheMeanElementBceOfTheReconstruction) {
  Model model(small_config());
  const Dataset data = make_structured(53, 23, 3, kSeed + 5);
  const Matrix x = data.to_matrix();
  const LayerLayout& last = model.layout().layers.back();
  // Logits of the last layer: run the reference with a linear output.
  std::vector<double> hidden = reference_forward(model, x, 0, static_cast<int>(model.layout().layers.size()) - 1);
  const std::vector<float> h(hidden.begin(), hidden.end());
  const std::vector<float> p = model.parameters();
  std::vector<double> z;
  ref::dense_forward(h.data(), p.data() + last.weight_offset, p.data() + last.bias_offset, x.rows, last.out, last.in,
                     Activation::linear, 0, z);
  double expected = 0;
  for (size_t i = 0; i < z.size(); ++i) expected += ref::bce_element(z[i], x.data[i]);
  expected /= static_cast<double>(z.size());
  EXPECT_NEAR(model.evaluate(data, 17) / expected, 1.0, tol::kDense);
  EXPECT_NEAR(model.evaluate(x.view()) / expected, 1.0, tol::kDense);
}

// Binary cross-entropy is defined only for targets in [0, 1]: pixels in 0..255 trained to a loss of
// -3059 before this check. Every entry point refuses them before a step, naming the set; MSE takes them.
TEST(Model, BceRefusesTargetsOutsideTheUnitIntervalAtEveryEntryPoint) {
  Model model(small_config());
  const std::vector<float> before = model.parameters();
  std::vector<float> values(4 * 23);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i * 23 % 256);
  const Dataset pixels = Dataset::from_floats(values, 4, 23, "pixels.npy");
  const Dataset good = Dataset::from_floats(std::vector<float>(4 * 23, 0.5f), 4, 23, "good.npy");
  const MatrixView rows{values.data(), 4, 23};
  const auto refused = [](const auto& call, const char* op) {
    try {
      call();
      ADD_FAILURE() << op << " accepted targets outside [0, 1]";
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), ::testing::AllOf(::testing::StartsWith(op), ::testing::HasSubstr("from 0 to 255")));
    }
  };
  FitOptions fit;
  fit.batch_size = 2;
  refused([&] { model.fit(pixels, fit); }, "fit");
  FitOptions validated = fit;
  validated.validation = &pixels;
  refused([&] { model.fit(good, validated); }, "fit");
  refused([&] { model.evaluate(pixels); }, "evaluate");
  refused([&] { model.evaluate(rows); }, "evaluate");
  refused([&] { model.train_step(rows); }, "train_step");
  EXPECT_EQ(model.parameters(), before);
  EXPECT_EQ(model.step(), 0);

  ModelConfig mse = small_config();
  mse.loss = Loss::mse;
  Model regression(mse);
  EXPECT_NO_THROW(regression.fit(pixels, fit));
}

TEST(Model, SetParametersKeepsPaddingZero) {
  Model model(small_config());
  std::vector<float> flat(static_cast<size_t>(model.layout().total_floats), 0.25f);
  model.set_parameters(flat);
  const std::vector<float> back = model.parameters();
  const LayerLayout& first = model.layout().layers.front();
  EXPECT_EQ(back[static_cast<size_t>(first.weight_offset)], 0.25f);
  // 23 * 11 = 253 weights, so floats 253..255 are padding before the bias at 256.
  EXPECT_EQ(first.bias_offset, 256);
  EXPECT_EQ(back[253], 0.0f);
  EXPECT_EQ(back[255], 0.0f);
}

TEST(Model, MovedModelKeepsWorking) {
  Model a(small_config());
  const std::vector<float> p = a.parameters();
  Model b(std::move(a));
  EXPECT_EQ(b.parameters(), p);
  Model c(ModelConfig{});
  c = std::move(b);
  EXPECT_EQ(c.input_dim(), 23);
  EXPECT_EQ(c.code_dim(), 5);
  EXPECT_EQ(c.device(), Device::cpu());
}

}  // namespace
}  // namespace cuae
