// The one training loop. The Trainer owns everything about an epoch that is not arithmetic: its plan
// and shuffle key, the learning rate of every step (schedules), where an interrupted epoch resumes,
// the stop flag, when losses are read back and checked for NaN/Inf, the loss sums, progress and
// epoch-end events, validation, reduce-on-plateau and early stopping. It drives a Backend
// (engine/backend.h), which only executes the steps it is given; neither backend has a loop of its
// own. ARCHITECTURE.md shows where input corruption and gradient all-reduce plug in.
#pragma once

#include <cstdint>
#include <functional>

#include "cuae/dataset.h"
#include "cuae/fit.h"
#include "cuae/model_config.h"
#include "engine/backend.h"

namespace cuae {

class Trainer {
 public:
  // The mean loss of a validation set, as Model::evaluate computes it.
  using Evaluate = std::function<double(const Dataset& data, int64_t batch_size)>;

  // parameter_floats: the flat parameter buffer's size (for early stopping's best weights).
  Trainer(Backend& backend, const ModelConfig& config, int64_t parameter_floats, TrainingState& state,
          Evaluate evaluate);

  // Trains `options.epochs` epochs (an interrupted one first) of `train`, whose shape and options the
  // caller has checked (Model::fit), with options.validation (if any) evaluated after each epoch.
  // Throws cuae::Error naming the step when a loss is NaN or Inf, with the state advanced past every
  // step taken.
  History fit(const Dataset& train, const FitOptions& options, const FitCallback& callback);

 private:
  struct EpochRun {
    EpochStats stats;
    bool stopped = false;
  };
  EpochRun run_epoch(const Dataset& train, const FitOptions& options, int64_t total_steps, const FitCallback& callback);
  // After a complete epoch: the plateau schedule's and early stopping's decisions. Returns the reason
  // to stop, or "".
  std::string after_epoch(const EpochStats& stats, const FitOptions& options);

  Backend& backend_;
  const ModelConfig& config_;
  int64_t parameter_floats_;
  TrainingState& state_;
  Evaluate evaluate_;
};

}  // namespace cuae
