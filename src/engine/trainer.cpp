#include "engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cuae/error.h"
#include "engine/schedule.h"
#include "kernels/common/random.cuh"

namespace cuae {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool stop_requested(const FitOptions& options) {
  return options.stop != nullptr && options.stop->load(std::memory_order_relaxed);
}

// The epoch's losses as they come back from the backend: each term summed as loss · rows in double,
// in batch order (so the means do not depend on when they were read), and checked for NaN/Inf.
class LossTally {
 public:
  LossTally(Backend& backend, const EpochPlan& plan, int64_t first) : backend_(backend), plan_(plan), read_(first) {}

  // Reads the losses of batches [read_, upto); returns the first non-finite batch or -1.
  int64_t read(int64_t upto) {
    if (upto <= read_) return -1;
    buffer_.resize(static_cast<size_t>(upto - read_));
    backend_.read_batch_losses(read_, buffer_);
    for (int64_t b = read_; b < upto; ++b) {
      const BatchLoss& loss = buffer_[static_cast<size_t>(b - read_)];
      if (!std::isfinite(loss.total)) return b;
      const auto rows = static_cast<double>(plan_.rows_of(b));
      total_ += static_cast<double>(loss.total) * rows;
      terms_.reconstruction += static_cast<double>(loss.reconstruction) * rows;
      terms_.l1_activity += static_cast<double>(loss.l1_activity) * rows;
      terms_.kl_sparsity += static_cast<double>(loss.kl_sparsity) * rows;
      terms_.l2 += static_cast<double>(loss.l2) * rows;
      terms_.latent_kl += static_cast<double>(loss.latent_kl) * rows;
      samples_ += plan_.rows_of(b);
    }
    read_ = upto;
    return -1;
  }

  double mean() const { return samples_ > 0 ? total_ / static_cast<double>(samples_) : std::nan(""); }
  LossTerms mean_terms() const {
    const double n = samples_ > 0 ? static_cast<double>(samples_) : std::nan("");
    return {terms_.reconstruction / n, terms_.l1_activity / n, terms_.kl_sparsity / n, terms_.l2 / n,
            terms_.latent_kl / n};
  }
  int64_t samples() const { return samples_; }

 private:
  Backend& backend_;
  const EpochPlan& plan_;
  int64_t read_;
  double total_ = 0;
  LossTerms terms_;
  int64_t samples_ = 0;
  std::vector<BatchLoss> buffer_;
};

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

}  // namespace

Trainer::Trainer(Backend& backend, const ModelConfig& config, int64_t parameter_floats, TrainingState& state,
                 Evaluate evaluate)
    : backend_(backend),
      config_(config),
      parameter_floats_(parameter_floats),
      state_(state),
      evaluate_(std::move(evaluate)) {}

History Trainer::fit(const Dataset& train, const FitOptions& options, const FitCallback& callback) {
  backend_.set_training_data(train, options.batch_size);
  // The whole fit's steps (the cosine schedule's horizon): the same for a run and its resumption.
  const int64_t batches = (train.rows() + options.batch_size - 1) / options.batch_size;
  const int64_t total_steps = (state_.epochs_completed + options.epochs) * batches;
  History history;
  for (int e = 0; e < options.epochs; ++e) {
    if (stop_requested(options)) {
      history.stopped_early = true;
      break;
    }
    const EpochRun run = run_epoch(train, options, total_steps, callback);
    history.epochs.push_back(run.stats);
    if (run.stopped) {
      history.stopped_early = true;
      break;
    }
    const std::string reason = after_epoch(run.stats, options);
    if (!reason.empty()) {
      history.stopped_early = true;
      history.early_stop_reason = reason;
      if (options.early_stopping.restore_best && !state_.best_parameters.empty()) {
        backend_.write_parameters(state_.best_parameters);
        history.best_epoch = state_.best_epoch;
      }
      break;
    }
  }
  return history;
}

Trainer::EpochRun Trainer::run_epoch(const Dataset& train, const FitOptions& options, int64_t total_steps,
                                     const FitCallback& callback) {
  EpochPlan plan{train.rows(), options.batch_size, options.shuffle,
                 rng::epoch_shuffle_key(config_.seed, state_.epochs_completed), {}};
  const int64_t batches = plan.batches();
  const int64_t first = state_.samples_into_epoch / plan.batch_size;  // an interrupted epoch goes on
  const int epoch = static_cast<int>(state_.epochs_completed) + 1;
  const int64_t step_before = backend_.step();
  const double base_lr = decimal_double(config_.optimizer.lr);
  if (options.lr_schedule.kind != LrSchedule::Kind::constant) {
    plan.learning_rates.assign(static_cast<size_t>(batches), base_lr);
    for (int64_t b = first; b < batches; ++b) {
      plan.learning_rates[static_cast<size_t>(b)] =
          learning_rate(options.lr_schedule, base_lr, step_before + (b - first) + 1, total_steps, state_.lr_factor);
    }
  }
  const int64_t progress_every = callback ? options.progress_every : 0;
  const bool read_every_step = backend_.losses_on_host();
  backend_.begin_epoch(plan);

  // Brings the state up to `next` batches of this epoch, so that a callback (e.g. one that saves a
  // checkpoint) sees the model as it stands.
  const auto advance = [&](int64_t next) {
    if (next >= batches) {
      ++state_.epochs_completed;
      state_.samples_into_epoch = 0;
    } else {
      state_.samples_into_epoch = next * plan.batch_size;
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
  stats.terms = losses.mean_terms();
  stats.learning_rate = plan.learning_rates.empty() || next == first ? base_lr
                                                                     : plan.learning_rates[static_cast<size_t>(next - 1)];
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

// torch.optim.lr_scheduler.ReduceLROnPlateau(mode="min", threshold_mode="abs", threshold=min_delta,
// cooldown=0) and Keras EarlyStopping(mode="min"): an epoch improves when its monitored loss is below
// the best so far by more than min_delta.
std::string Trainer::after_epoch(const EpochStats& stats, const FitOptions& options) {
  const EarlyStopping& stopping = options.early_stopping;
  const double monitored = stopping.monitor_validation ? stats.val_loss : stats.train_loss;
  const char* name = stopping.monitor_validation ? "val_loss" : "loss";
  if (options.lr_schedule.kind == LrSchedule::Kind::plateau) {
    if (state_.plateau_epochs == 0 || monitored < state_.plateau_best - stopping.min_delta) {
      state_.plateau_best = monitored;
      state_.plateau_bad_epochs = 0;
    } else if (++state_.plateau_bad_epochs > options.lr_schedule.every) {
      state_.lr_factor *= options.lr_schedule.factor;
      state_.plateau_bad_epochs = 0;
    }
    ++state_.plateau_epochs;
  }
  if (stopping.patience <= 0) return "";
  if (state_.best_epoch == 0 || monitored < state_.stop_best - stopping.min_delta) {
    state_.stop_best = monitored;
    state_.best_epoch = stats.epoch;
    state_.stop_wait = 0;
    if (stopping.restore_best) {
      state_.best_parameters.resize(static_cast<size_t>(parameter_floats_));
      backend_.read_parameters(state_.best_parameters);
    }
    return "";
  }
  if (++state_.stop_wait < stopping.patience) return "";
  return std::string("early stopping: ") + name + " did not improve by more than " + number(stopping.min_delta) +
         " for " + std::to_string(stopping.patience) + " epoch(s); best epoch " + std::to_string(state_.best_epoch) +
         " (" + name + " " + number(state_.stop_best) + ")" +
         (stopping.restore_best ? ", whose weights the model now holds" : "");
}

}  // namespace cuae
