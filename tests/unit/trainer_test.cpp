// The Trainer, the one epoch loop: progress cadence, the stop flag, resuming inside an epoch and the
// position it keeps, on the CPU backend.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "cuae/model.h"
#include "engine/backend_factory.h"
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

TEST(Trainer, HonoursStopFlagAndProgressEvery) {
  ReadyBackend ready = make_ready_backend(config_13_7(), Device::cpu(), {});
  TrainingPosition position;
  Trainer trainer(*ready.backend, 92, position, no_validation);
  std::atomic<bool> stop{false};
  FitOptions options;
  options.batch_size = 4;  // 10 steps
  options.progress_every = 3;
  options.stop = &stop;
  std::vector<int64_t> reported;
  const History history = trainer.fit(random_rows(40, 91), options, [&](const FitEvent& e) {
    if (e.kind != FitEvent::Kind::progress) return;
    reported.push_back(e.step_in_epoch);
    EXPECT_TRUE(std::isfinite(e.running_loss));
    if (e.step_in_epoch == 6) stop = true;
  });
  EXPECT_EQ(reported, (std::vector<int64_t>{3, 6}));
  EXPECT_TRUE(history.stopped_early);
  ASSERT_EQ(history.epochs.size(), 1u);
  EXPECT_FALSE(history.epochs[0].complete);
  EXPECT_EQ(ready.backend->step(), 6);
  EXPECT_EQ(position.epochs_completed, 0);
  EXPECT_EQ(position.samples_into_epoch, 24);
}

// An epoch stopped after 6 of 10 steps and resumed gives the bits of the uninterrupted epoch: the same
// shuffle key, the next batch, one step counter.
TEST(Trainer, ResumesAnInterruptedEpochAtItsNextBatch) {
  const Dataset data = random_rows(40, 93);
  FitOptions options;
  options.batch_size = 4;
  ReadyBackend straight = make_ready_backend(config_13_7(), Device::cpu(), {});
  TrainingPosition straight_at;
  const History whole = Trainer(*straight.backend, 92, straight_at, no_validation).fit(data, options, {});

  ReadyBackend split = make_ready_backend(config_13_7(), Device::cpu(), {});
  TrainingPosition split_at;
  Trainer trainer(*split.backend, 92, split_at, no_validation);
  std::atomic<bool> stop{false};
  FitOptions first = options;
  first.progress_every = 1;
  first.stop = &stop;
  trainer.fit(data, first, [&](const FitEvent& e) {
    if (e.kind == FitEvent::Kind::progress && e.step_in_epoch == 6) stop = true;
  });
  ASSERT_EQ(split_at.samples_into_epoch, 24);
  const History rest = trainer.fit(data, options, {});
  EXPECT_EQ(split.backend->step(), 10);
  EXPECT_EQ(split_at.epochs_completed, 1);
  EXPECT_EQ(split_at.samples_into_epoch, 0);
  ASSERT_EQ(rest.epochs.size(), 1u);
  EXPECT_EQ(rest.epochs[0].epoch, 1);
  std::vector<float> a(static_cast<size_t>(straight.layout.total_floats)), b(a.size());
  straight.backend->read_parameters(a);
  split.backend->read_parameters(b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(whole.epochs[0].epoch, 1);
}

}  // namespace
}  // namespace cuae
