// Interrupted training resumes exactly: a fit stopped between any two steps, saved, loaded and fitted
// on is bit-identical on the CPU backend to the run that was never interrupted (parameters, Adam
// moments and step count). Also: non-finite losses stop fit naming the step, and gradient clipping
// by global norm scales the step like torch.nn.utils.clip_grad_norm_.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include "cuae/cuae.h"

namespace cuae {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr uint64_t kSeed = 0x726573756d65;  // "resume"
constexpr int64_t kRows = 203, kCols = 23, kBatch = 16;  // 13 steps per epoch, the last one of 11 rows
constexpr int kEpochs = 3;

ModelConfig resume_config() {
  ModelConfig c;
  c.layers = {kCols, 11, 5};
  c.optimizer.lr = 1e-2f;
  c.seed = kSeed;
  return c;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class Resume : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cuae_resume_" +
                                        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                                        "_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Fits from `model` until `stop_after` global steps (or the end), the way the CLI does: the
  // callback sets the stop flag and fit finishes the step it is in.
  static void fit_until(Model& model, const Dataset& data, int64_t stop_after) {
    std::atomic<bool> stop{false};
    FitOptions options;
    options.epochs = kEpochs - static_cast<int>(model.epochs_completed());
    options.batch_size = kBatch;
    options.progress_every = 1;
    options.stop = &stop;
    model.fit(data, options, [&](const FitEvent& event) {
      if (event.kind == FitEvent::Kind::progress && model.step() >= stop_after) stop.store(true);
    });
  }

  fs::path dir_;
};

TEST_F(Resume, StoppingSavingAndResumingAnywhereIsBitIdenticalToOneRun) {
  const Dataset data = make_random(kRows, kCols, kSeed);
  Model straight(resume_config());
  FitOptions options;
  options.epochs = kEpochs;
  options.batch_size = kBatch;
  straight.fit(data, options);
  ASSERT_EQ(straight.step(), 39);

  // Mid-epoch (5, 20, 27), on an epoch boundary (13) and one step before the end (38).
  for (const std::vector<int64_t>& stops : {std::vector<int64_t>{20}, {5, 13, 27}, {38}}) {
    Model model(resume_config());
    for (const int64_t stop_after : stops) {
      fit_until(model, data, stop_after);
      ASSERT_EQ(model.step(), stop_after);
      const fs::path path = dir_ / ("at_" + std::to_string(stop_after) + ".safetensors");
      model.save(path);
      model = Model::load(path);
      ASSERT_EQ(model.step(), stop_after);
    }
    fit_until(model, data, std::numeric_limits<int64_t>::max());
    EXPECT_EQ(model.step(), 39);
    EXPECT_EQ(model.epochs_completed(), kEpochs);
    EXPECT_TRUE(bitwise_equal(model.parameters(), straight.parameters()))
        << "stops at " << ::testing::PrintToString(stops);
    const OptimizerState a = model.optimizer_state(), b = straight.optimizer_state();
    EXPECT_EQ(a.step, b.step);
    EXPECT_TRUE(bitwise_equal(a.m, b.m) && bitwise_equal(a.v, b.v)) << "stops at " << ::testing::PrintToString(stops);
  }
}

TEST_F(Resume, MidEpochPositionSurvivesSaveAndLoad) {
  const Dataset data = make_random(kRows, kCols, kSeed);
  Model model(resume_config());
  fit_until(model, data, 20);  // epoch 2, 7 batches in
  EXPECT_EQ(model.epochs_completed(), 1);
  EXPECT_EQ(model.samples_into_epoch(), 7 * kBatch);
  model.save(dir_ / "mid.safetensors");
  const Model loaded = Model::load(dir_ / "mid.safetensors");
  EXPECT_EQ(loaded.epochs_completed(), 1);
  EXPECT_EQ(loaded.samples_into_epoch(), 7 * kBatch);
}

TEST_F(Resume, ResumingMidEpochWithABatchSizeThatMissesThePositionIsRefused) {
  const Dataset data = make_random(kRows, kCols, kSeed);
  Model model(resume_config());
  fit_until(model, data, 20);
  FitOptions options;
  options.batch_size = 10;  // 112 rows in: not a whole number of batches of 10
  try {
    model.fit(data, options);
    FAIL() << "expected cuae::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("112"), HasSubstr("batch size 10")));
  }
}

TEST(NonFiniteLoss, StopsFitNamingTheStepAndLeavesTheStepCountThere) {
  std::vector<float> values(static_cast<size_t>(kRows * kCols), 0.25f);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) / 7.0f;
  values[150 * kCols + 3] = std::numeric_limits<float>::infinity();  // row 150: batch 10 without shuffling
  const Dataset data = Dataset::from_floats(values, kRows, kCols, "inf-in-row-150");
  ModelConfig config = resume_config();
  config.loss = Loss::mse;
  config.output_activation = Activation::linear;
  Model model(config);
  FitOptions options;
  options.epochs = 2;
  options.batch_size = kBatch;
  options.shuffle = false;
  try {
    model.fit(data, options);
    FAIL() << "expected cuae::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("non-finite"), HasSubstr("step 10"), HasSubstr("epoch 1")));
  }
  EXPECT_EQ(model.step(), 10);
}

// SGD without momentum moves the parameters by -lr * g, so the clipped step is the unclipped one
// scaled to length lr * max_norm (PyTorch: g *= max_norm / (‖g‖ + 1e-6) when ‖g‖ > max_norm).
TEST(GradientClipping, ScalesTheStepToTheGlobalNormBound) {
  const Dataset data = make_random(37, kCols, kSeed + 1);
  ModelConfig config = resume_config();
  config.optimizer.kind = OptimizerKind::sgd;
  config.optimizer.beta1 = 0.0f;
  config.optimizer.lr = 0.5f;
  const Matrix batch = data.to_matrix();

  Model free(config);
  const std::vector<float> p0 = free.parameters();
  free.train_step(batch.view());
  std::vector<double> step(p0.size());
  double norm = 0;
  const std::vector<float> p1 = free.parameters();
  for (size_t i = 0; i < p0.size(); ++i) {
    step[i] = static_cast<double>(p1[i]) - p0[i];
    norm += step[i] * step[i];
  }
  const double grad_norm = std::sqrt(norm) / config.optimizer.lr;
  ASSERT_GT(grad_norm, 1e-3);

  config.optimizer.global_clipnorm = static_cast<float>(grad_norm / 4);  // clips by 4x
  Model clipped(config);
  clipped.train_step(batch.view());
  const std::vector<float> q1 = clipped.parameters();
  const double coef = config.optimizer.global_clipnorm / (grad_norm + 1e-6);
  double diff = 0, ref = 0;
  for (size_t i = 0; i < p0.size(); ++i) {
    const double expected = step[i] * coef;
    diff += (static_cast<double>(q1[i]) - p0[i] - expected) * (static_cast<double>(q1[i]) - p0[i] - expected);
    ref += expected * expected;
  }
  // Float rounding of p0 + step dominates: |p| ~ 0.3, the step ~ 1e-2, float eps 6e-8.
  EXPECT_LT(std::sqrt(diff / ref), 1e-4);

  config.optimizer.global_clipnorm = static_cast<float>(grad_norm * 4);  // above the norm: no change
  Model loose(config);
  loose.train_step(batch.view());
  EXPECT_TRUE(bitwise_equal(loose.parameters(), p1));
}

TEST(GradientClipping, IsPartOfTheConfigJson) {
  ModelConfig config = resume_config();
  config.optimizer.global_clipnorm = 2.5f;
  EXPECT_EQ(model_config_from_json(to_json(config)).optimizer.global_clipnorm, 2.5f);
  EXPECT_THROW(model_config_from_json(R"({"optimizer": {"global_clipnorm": -1}})"), Error);
}

}  // namespace
}  // namespace cuae
