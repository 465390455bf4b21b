// The Trainer, the one epoch loop, on the CPU backend: progress cadence, the stop flag, resuming inside
// an epoch, learning-rate schedules, reduce-on-plateau and early stopping.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "cuae/error.h"
#include "cuae/model.h"
#include "engine/backend_factory.h"
#include "engine/schedule.h"
#include "engine/trainer.h"
#include "support/reference.h"

namespace cuae {
namespace {

ModelConfig config_13_7() {
  ModelConfig c;
  c.layers = {13, 7};
  c.seed = 92;
  return c;
}

Dataset random_rows(int64_t rows, uint64_t seed) {
  return Dataset::from_floats(ref::random_floats(static_cast<size_t>(rows * 13), seed, 0.0f, 1.0f), rows, 13,
                              "random rows");
}

double no_validation(const Dataset&, int64_t) { return std::nan(""); }

struct Rig {
  ModelConfig config = config_13_7();
  ReadyBackend ready = make_ready_backend(config, Device::cpu(), {});
  TrainingState state;
  Trainer trainer;
  explicit Rig(Trainer::Evaluate evaluate = no_validation)
      : trainer(*ready.backend, config, ready.layout.total_floats, state, std::move(evaluate)) {}
  std::vector<float> parameters() const {
    std::vector<float> p(static_cast<size_t>(ready.layout.total_floats));
    ready.backend->read_parameters(p);
    return p;
  }
};

TEST(Trainer, HonoursStopFlagAndProgressEvery) {
  Rig s;
  std::atomic<bool> stop{false};
  FitOptions options;
  options.batch_size = 4;  // 10 steps
  options.progress_every = 3;
  options.stop = &stop;
  std::vector<int64_t> reported;
  const History history = s.trainer.fit(random_rows(40, 91), options, [&](const FitEvent& e) {
    if (e.kind != FitEvent::Kind::progress) return;
    reported.push_back(e.step_in_epoch);
    EXPECT_TRUE(std::isfinite(e.running_loss));
    if (e.step_in_epoch == 6) stop = true;
  });
  EXPECT_EQ(reported, (std::vector<int64_t>{3, 6}));
  EXPECT_TRUE(history.stopped_early);
  ASSERT_EQ(history.epochs.size(), 1u);
  EXPECT_FALSE(history.epochs[0].complete);
  EXPECT_EQ(s.ready.backend->step(), 6);
  EXPECT_EQ(s.state.epochs_completed, 0);
  EXPECT_EQ(s.state.samples_into_epoch, 24);
}

// An epoch stopped after 6 of 10 steps and resumed gives the bits of the uninterrupted epoch: the same
// shuffle key, the next batch, one step counter.
TEST(Trainer, ResumesAnInterruptedEpochAtItsNextBatch) {
  const Dataset data = random_rows(40, 93);
  FitOptions options;
  options.batch_size = 4;
  Rig straight, split;
  const History whole = straight.trainer.fit(data, options, {});
  std::atomic<bool> stop{false};
  FitOptions first = options;
  first.progress_every = 1;
  first.stop = &stop;
  split.trainer.fit(data, first, [&](const FitEvent& e) {
    if (e.kind == FitEvent::Kind::progress && e.step_in_epoch == 6) stop = true;
  });
  ASSERT_EQ(split.state.samples_into_epoch, 24);
  const History rest = split.trainer.fit(data, options, {});
  EXPECT_EQ(split.ready.backend->step(), 10);
  EXPECT_EQ(split.state.epochs_completed, 1);
  EXPECT_EQ(split.state.samples_into_epoch, 0);
  ASSERT_EQ(rest.epochs.size(), 1u);
  EXPECT_EQ(rest.epochs[0].epoch, 1);
  EXPECT_EQ(straight.parameters(), split.parameters());
  EXPECT_EQ(whole.epochs[0].epoch, 1);
}

TEST(LearningRate, EachScheduleFollowsItsFormula) {
  const double lr = 0.01;
  EXPECT_EQ(learning_rate(parse_lr_schedule("constant"), lr, 7, 100, 1), lr);
  const LrSchedule step = parse_lr_schedule("step:10:0.5");
  EXPECT_EQ(learning_rate(step, lr, 10, 100, 1), lr);
  EXPECT_EQ(learning_rate(step, lr, 11, 100, 1), lr * 0.5);
  EXPECT_EQ(learning_rate(step, lr, 31, 100, 1), lr * 0.125);
  EXPECT_DOUBLE_EQ(learning_rate(parse_lr_schedule("exp:0.9"), lr, 4, 100, 1), lr * 0.9 * 0.9 * 0.9);
  const LrSchedule cosine = parse_lr_schedule("cosine:10");
  EXPECT_DOUBLE_EQ(learning_rate(cosine, lr, 5, 110, 1), lr * 0.5);   // warm-up: t/W
  EXPECT_DOUBLE_EQ(learning_rate(cosine, lr, 11, 110, 1), lr);        // the first step after it: full rate
  EXPECT_NEAR(learning_rate(cosine, lr, 61, 110, 1), lr * 0.5, 1e-15);  // half way down the cosine
  EXPECT_GT(learning_rate(cosine, lr, 110, 110, 1), 0);
  EXPECT_EQ(learning_rate(parse_lr_schedule("plateau:2:0.1"), lr, 50, 100, 0.01), lr * 0.01);
  EXPECT_EQ(to_string(parse_lr_schedule("plateau:2:0.1")), "plateau:2:0.1");
  EXPECT_THROW(parse_lr_schedule("cosine"), Error);
  EXPECT_THROW(parse_lr_schedule("linear:3"), Error);
}

// The scheduled rates reach the optimizer: SGD without momentum keeps no state, so an epoch at rates
// 0.1 then 0.05 equals one step at a configured 0.1 followed by one at a configured 0.05.
TEST(Trainer, ScheduledRatesReachTheOptimizerStepByStep) {
  const Dataset data = random_rows(8, 94);
  ModelConfig config = config_13_7();
  config.optimizer.kind = OptimizerKind::sgd;
  config.optimizer.beta1 = 0;  // SGD's momentum
  config.optimizer.lr = 0.1f;
  ReadyBackend scheduled = make_ready_backend(config, Device::cpu(), {});
  TrainingState state;
  FitOptions options;
  options.batch_size = 4;
  options.shuffle = false;
  options.lr_schedule = parse_lr_schedule("step:1:0.5");
  const History h = Trainer(*scheduled.backend, config, scheduled.layout.total_floats, state, no_validation)
                        .fit(data, options, {});
  EXPECT_DOUBLE_EQ(h.epochs[0].learning_rate, 0.05);

  const Matrix rows = data.to_matrix();
  ReadyBackend first = make_ready_backend(config, Device::cpu(), {});
  first.backend->train_step({rows.row(0), 4, 13});
  std::vector<float> p(static_cast<size_t>(first.layout.total_floats));
  first.backend->read_parameters(p);
  config.optimizer.lr = 0.05f;
  ReadyBackend second = make_ready_backend(config, Device::cpu(), {});
  second.backend->write_parameters(p);
  second.backend->train_step({rows.row(4), 4, 13});
  std::vector<float> expected(p.size()), got(p.size());
  second.backend->read_parameters(expected);
  scheduled.backend->read_parameters(got);
  EXPECT_EQ(got, expected);
}

// Scripted validation losses drive the decisions: improvements reset the counters; early stopping
// stops `patience` epochs after the best and restores its weights; a plateau schedule lowers the rate
// after more than `patience` epochs without improvement, as torch's ReduceLROnPlateau does.
TEST(Trainer, EarlyStoppingRestoresTheBestEpochAndPlateauLowersTheRate) {
  const std::vector<double> val = {0.9, 0.5, 0.52, 0.51, 0.50001, 0.7, 0.8};
  size_t calls = 0;
  Rig s([&](const Dataset&, int64_t) { return val[calls++]; });
  FitOptions options;
  options.epochs = 7;
  options.batch_size = 10;
  const Dataset data = random_rows(20, 95);
  options.validation = &data;
  options.early_stopping = {3, 1e-3, true, true};
  options.lr_schedule = parse_lr_schedule("plateau:1:0.5");
  std::vector<std::vector<float>> weights;
  const History h = s.trainer.fit(data, options, [&](const FitEvent& e) {
    if (e.kind == FitEvent::Kind::epoch_end) weights.push_back(s.parameters());
  });
  // Epoch 2 is the best; 3, 4 and 5 do not beat it by more than 1e-3, so training stops after 5.
  ASSERT_EQ(h.epochs.size(), 5u);
  EXPECT_TRUE(h.stopped_early);
  EXPECT_EQ(h.best_epoch, 2);
  EXPECT_NE(h.early_stop_reason.find("best epoch 2"), std::string::npos) << h.early_stop_reason;
  EXPECT_EQ(s.parameters(), weights[1]);
  EXPECT_EQ(s.state.best_epoch, 2);
  // Bad epochs 3 and 4 (2 > patience 1) halve the rate; epoch 5 starts a new count.
  EXPECT_EQ(s.state.lr_factor, 0.5);
  EXPECT_DOUBLE_EQ(h.epochs[4].learning_rate, 0.5 * decimal_double(s.config.optimizer.lr));
}

}  // namespace
}  // namespace cuae
