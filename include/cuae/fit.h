// What Model::fit takes and reports: options, per-epoch statistics, progress events and the history.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cuae/dataset.h"

namespace cuae {

// The learning rate of every optimizer step t = 1, 2, ... of a fit, from the optimizer's lr:
//   constant                 lr
//   step:EVERY:FACTOR        lr · FACTOR^floor((t − 1) / EVERY)
//   exp:GAMMA                lr · GAMMA^(t − 1)
//   cosine:WARMUP_STEPS      a linear warm-up over WARMUP_STEPS steps, then a cosine decay to 0 over the
//                            remaining steps of the fit: lr · ½(1 + cos(π·(t − W) / (T − W)))
//   plateau:PATIENCE:FACTOR  lr times FACTOR each time the monitored loss has not improved (by more
//                            than min_delta) for PATIENCE epochs (torch ReduceLROnPlateau, mode min)
// The Trainer computes it on the host in double precision, once for every backend.
struct LrSchedule {
  enum class Kind { constant, step, exponential, cosine, plateau };
  Kind kind = Kind::constant;
  int64_t every = 0;      // step: steps between decays; cosine: warm-up steps; plateau: patience (epochs)
  double factor = 1;      // step, plateau: the multiplier; exponential: GAMMA

  friend bool operator==(const LrSchedule&, const LrSchedule&) = default;
};

// Keras EarlyStopping: stop when the monitored loss has not improved by more than min_delta for
// `patience` epochs; with restore_best, the model ends with the weights of its best epoch.
struct EarlyStopping {
  int patience = 0;        // epochs; 0 = off
  double min_delta = 0;
  bool monitor_validation = true;  // "val_loss" (needs a validation set) or "loss"
  bool restore_best = false;

  friend bool operator==(const EarlyStopping&, const EarlyStopping&) = default;
};

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 256;
  bool shuffle = true;                      // a fresh permutation each epoch, from (seed, epoch)
  const Dataset* validation = nullptr;      // evaluated after every epoch
  // Keras validation_split: the last fraction of the training rows (before any shuffling) becomes
  // the validation set, when `validation` is not given.
  double validation_split = 0;
  int64_t eval_batch_size = 1024;
  int64_t progress_every = 0;               // steps between progress events; 0 = none inside an epoch
  const std::atomic<bool>* stop = nullptr;  // checked between steps; set it to end fit early
  LrSchedule lr_schedule{};
  EarlyStopping early_stopping{};
  // fit continues where the model stands (epochs_completed, samples_into_epoch): an epoch that was
  // interrupted is finished first and counts as one of `epochs`. A NaN or Inf loss ends fit with a
  // cuae::Error naming the step.
};

// The terms of a training loss (each a mean over the samples, like the total).
struct LossTerms {
  double reconstruction = 0;  // BCE or MSE
  double l1_activity = 0;
  double kl_sparsity = 0;
  double l2 = 0;
  double latent_kl = 0;       // a VAE's KL(q(z|x) ‖ N(0, I)), β included
};

struct EpochStats {
  int epoch = 0;                     // 1-based, counted over the model's life (a resumed run goes on)
  bool complete = true;              // false: the epoch was cut short by FitOptions::stop
  double train_loss = 0;             // mean over the samples trained in this call: the sum of `terms`
  LossTerms terms;
  double learning_rate = 0;          // of the epoch's last step
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

// Where training stands between steps, all a resumed fit needs to continue exactly as the
// uninterrupted one: the completed epochs (the next epoch's shuffle key is (seed, epochs_completed)),
// the rows of the next epoch already trained (a whole number of batches), and the memory of a
// reduce-on-plateau schedule and of early stopping. Checkpoints store it; the step count is the
// optimizer's (Model::step).
struct TrainingState {
  int64_t epochs_completed = 0;
  int64_t samples_into_epoch = 0;
  double lr_factor = 1;             // plateau: the product of the reductions so far
  double plateau_best = 0;          // plateau: the best monitored loss (valid when plateau_epochs > 0)
  int plateau_epochs = 0;           // plateau: complete epochs seen
  int plateau_bad_epochs = 0;
  double stop_best = 0;             // early stopping: the best monitored loss (valid when best_epoch > 0)
  int best_epoch = 0;               // early stopping: the epoch of stop_best
  int stop_wait = 0;                // early stopping: epochs since it
  std::vector<float> best_parameters;  // early stopping with restore_best: the weights of best_epoch
};

// Throws cuae::Error "fit: <what> must ..." for the first invalid option.
void check_fit_options(const FitOptions& options);

// "constant", "step:EVERY:FACTOR", "exp:GAMMA", "cosine:WARMUP_STEPS", "plateau:PATIENCE:FACTOR";
// the parser throws cuae::Error naming the forms.
std::string to_string(const LrSchedule&);
LrSchedule parse_lr_schedule(std::string_view);

struct History {
  std::vector<EpochStats> epochs;
  bool stopped_early = false;        // by FitOptions::stop or by early stopping
  // Early stopping: why it stopped ("" when it did not), and the epoch whose weights the model holds
  // when it restored them (0 when it did not).
  std::string early_stop_reason;
  int best_epoch = 0;
};

using FitCallback = std::function<void(const FitEvent&)>;

}  // namespace cuae
