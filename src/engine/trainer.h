// The one training loop. The Trainer owns everything about an epoch that is not arithmetic: its plan
// and shuffle key, where an interrupted epoch resumes, the stop flag, when losses are read back and
// checked for NaN/Inf, the loss sums, progress and epoch-end events, and validation. It drives a
// Backend (engine/backend.h), which only executes the steps it is given; neither backend has a loop
// of its own. ARCHITECTURE.md shows where schedules, early stopping, input corruption and gradient
// all-reduce plug in.
#pragma once

#include <cstdint>
#include <functional>

#include "cuae/dataset.h"
#include "cuae/fit.h"
#include "engine/backend.h"

namespace cuae {

// Where training stands between steps: the completed epochs (the next epoch's shuffle key is
// epoch_shuffle_key(seed, epochs_completed)) and the rows of the next epoch already trained (a whole
// number of batches). Saved in checkpoints; the step count is the backend's (Backend::step).
struct TrainingPosition {
  int64_t epochs_completed = 0;
  int64_t samples_into_epoch = 0;
};

class Trainer {
 public:
  // The mean loss of a validation set, as Model::evaluate computes it.
  using Evaluate = std::function<double(const Dataset& data, int64_t batch_size)>;

  Trainer(Backend& backend, uint64_t seed, TrainingPosition& position, Evaluate evaluate);

  // Trains `options.epochs` epochs (an interrupted one first) of `train`, whose shape and options the
  // caller has checked (Model::fit). Throws cuae::Error naming the step when a loss is NaN or Inf,
  // with the position advanced past every step taken.
  History fit(const Dataset& train, const FitOptions& options, const FitCallback& callback);

 private:
  struct EpochRun {
    EpochStats stats;
    bool stopped = false;
  };
  EpochRun run_epoch(const Dataset& train, const FitOptions& options, const FitCallback& callback);

  Backend& backend_;
  uint64_t seed_;
  TrainingPosition& position_;
  Evaluate evaluate_;
};

}  // namespace cuae
