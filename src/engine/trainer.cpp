#include "engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cuae/error.h"
#include "kernels/common/random.cuh"

namespace cuae {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool stop_requested(const FitOptions& options) {
  return options.stop != nullptr && options.stop->load(std::memory_order_relaxed);
}

// The epoch's losses as they come back from the backend: summed as loss · rows in double, in batch
// order (so the mean does not depend on when they were read), and checked for NaN/Inf.
class LossTally {
 public:
  LossTally(Backend& backend, const EpochPlan& plan, int64_t first) : backend_(backend), plan_(plan), read_(first) {}

  // Reads the losses of batches [read_until(), upto); returns the first non-finite batch or -1.
  int64_t read(int64_t upto) {
    if (upto <= read_) return -1;
    buffer_.resize(static_cast<size_t>(upto - read_));
    backend_.read_batch_losses(read_, buffer_);
    for (int64_t b = read_; b < upto; ++b) {
      const float loss = buffer_[static_cast<size_t>(b - read_)];
      if (!std::isfinite(loss)) return b;
      const int64_t rows = plan_.rows_of(b);
      sum_ += static_cast<double>(loss) * static_cast<double>(rows);
      samples_ += rows;
    }
    read_ = upto;
    return -1;
  }

  double mean() const { return samples_ > 0 ? sum_ / static_cast<double>(samples_) : std::numeric_limits<double>::quiet_NaN(); }
  int64_t samples() const { return samples_; }

 private:
  Backend& backend_;
  const EpochPlan& plan_;
  int64_t read_;
  double sum_ = 0;
  int64_t samples_ = 0;
  std::vector<float> buffer_;
};

}  // namespace

Trainer::Trainer(Backend& backend, uint64_t seed, TrainingPosition& position, Evaluate evaluate)
    : backend_(backend), seed_(seed), position_(position), evaluate_(std::move(evaluate)) {}

History Trainer::fit(const Dataset& train, const FitOptions& options, const FitCallback& callback) {
  backend_.set_training_data(train, options.batch_size);
  History history;
  for (int e = 0; e < options.epochs; ++e) {
    if (stop_requested(options)) {
      history.stopped_early = true;
      break;
    }
    const EpochRun run = run_epoch(train, options, callback);
    history.epochs.push_back(run.stats);
    if (run.stopped) {
      history.stopped_early = true;
      break;
    }
  }
  return history;
}

Trainer::EpochRun Trainer::run_epoch(const Dataset& train, const FitOptions& options, const FitCallback& callback) {
  const EpochPlan plan{train.rows(), options.batch_size, options.shuffle,
                       rng::epoch_shuffle_key(seed_, position_.epochs_completed)};
  const int64_t batches = plan.batches();
  const int64_t first = position_.samples_into_epoch / plan.batch_size;  // an interrupted epoch goes on
  const int epoch = static_cast<int>(position_.epochs_completed) + 1;
  const int64_t step_before = backend_.step();
  const int64_t progress_every = callback ? options.progress_every : 0;
  const bool read_every_step = backend_.losses_on_host();
  backend_.begin_epoch(plan);

  // Brings the position up to `next` batches of this epoch, so that a callback (e.g. one that saves a
  // checkpoint) sees the model as it stands.
  const auto advance = [&](int64_t next) {
    if (next >= batches) {
      ++position_.epochs_completed;
      position_.samples_into_epoch = 0;
    } else {
      position_.samples_into_epoch = next * plan.batch_size;
    }
  };
  LossTally losses(backend_, plan, first);
  const auto check = [&](int64_t upto) {
    const int64_t bad = losses.read(upto);
    if (bad < 0) return;
    throw Error("fit: the loss became non-finite (NaN or Inf) at step " + std::to_string(step_before + bad - first + 1) +
                " (epoch " + std::to_string(epoch) + ", batch " + std::to_string(bad + 1) + " of " +
                std::to_string(batches) + " on " + train.name() + "); lower the learning rate or clip gradients");
  };

  const auto start = std::chrono::steady_clock::now();
  EpochRun run;
  int64_t next = first;
  while (next < batches) {
    if (stop_requested(options)) {
      run.stopped = true;
      break;
    }
    backend_.train_batches(next, 1);
    ++next;
    advance(next);
    const int64_t done = next - first;
    const bool progress_due = progress_every > 0 && done % progress_every == 0;
    if (read_every_step || progress_due) check(next);
    if (progress_due) {
      FitEvent event;
      event.kind = FitEvent::Kind::progress;
      event.epoch = epoch;
      event.step_in_epoch = next;
      event.steps_per_epoch = batches;
      event.running_loss = losses.mean();
      const int64_t samples = std::min(done * plan.batch_size, plan.rows);
      event.samples_per_second = static_cast<double>(samples) / std::max(seconds_since(start), 1e-9);
      callback(event);
    }
  }
  check(next);

  EpochStats& stats = run.stats;
  stats.epoch = epoch;
  stats.complete = next >= batches;
  stats.seconds = seconds_since(start);
  stats.train_loss = losses.mean();
  stats.samples_per_second = static_cast<double>(losses.samples()) / std::max(stats.seconds, 1e-9);
  stats.val_loss = options.validation ? evaluate_(*options.validation, options.eval_batch_size)
                                      : std::numeric_limits<double>::quiet_NaN();
  if (callback) {
    FitEvent event;
    event.kind = FitEvent::Kind::epoch_end;
    event.epoch = epoch;
    event.step_in_epoch = next;
    event.steps_per_epoch = batches;
    event.running_loss = stats.train_loss;
    event.samples_per_second = stats.samples_per_second;
    event.stats = stats;
    callback(event);
  }
  return run;
}

}  // namespace cuae
