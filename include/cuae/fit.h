// What Model::fit takes and reports: options, per-epoch statistics, progress events and the history.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "cuae/dataset.h"

namespace cuae {

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 256;
  bool shuffle = true;                      // a fresh permutation each epoch, from (seed, epoch)
  const Dataset* validation = nullptr;      // evaluated after every epoch
  int64_t eval_batch_size = 1024;
  int64_t progress_every = 0;               // steps between progress events; 0 = none inside an epoch
  const std::atomic<bool>* stop = nullptr;  // checked between steps; set it to end fit early
  // fit continues where the model stands (epochs_completed, samples_into_epoch): an epoch that was
  // interrupted is finished first and counts as one of `epochs`. A NaN or Inf loss ends fit with a
  // cuae::Error naming the step.
};

struct EpochStats {
  int epoch = 0;                     // 1-based, counted over the model's life (a resumed run goes on)
  bool complete = true;              // false: the epoch was cut short by FitOptions::stop
  double train_loss = 0;             // mean over the samples trained in this call
  double val_loss = 0;               // NaN when there is no validation set
  double seconds = 0;
  double samples_per_second = 0;
};

struct FitEvent {
  enum class Kind { progress, epoch_end };
  Kind kind = Kind::progress;
  int epoch = 0;                     // as EpochStats::epoch
  int64_t step_in_epoch = 0;         // batches of this epoch trained so far
  int64_t steps_per_epoch = 0;
  double running_loss = 0;           // mean loss of the epoch so far (in this call)
  double samples_per_second = 0;
  EpochStats stats;                  // valid for epoch_end
};

struct History {
  std::vector<EpochStats> epochs;
  bool stopped_early = false;
};

using FitCallback = std::function<void(const FitEvent&)>;

}  // namespace cuae
