// The interface every execution backend implements (CPU in src/cpu, CUDA in src/cuda). It is narrow
// on purpose: a backend holds the parameters, gradients, optimizer state and (while training) the data
// set in its own memory and executes steps; it decides nothing. The epoch and batch loop, the stop
// flag, progress, loss sums and every check of user input live in the Trainer (engine/trainer.h) and
// the Model (src/api/model.cpp), once for all backends. Backends may assert their preconditions.
//
// A training step on batch b of an epoch: gather the rows (shuffled by the plan's key) into the input,
// forward, loss (batch mean into loss slot b), backward, optimizer. Everything a step needs from the
// host is in the EpochPlan, so a backend can replay steps without host work (CUDA graphs).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/device.h"
#include "cuae/optimizer_state.h"
#include "cuae/tensor.h"

namespace cuae {

// The most rows any backend is given in one inference call or evaluation batch: bounds the
// activation memory of inference. The Model chunks by it; backends may assert it.
inline constexpr int64_t kMaxRowsPerCall = 4096;

// One epoch over the training set. Batch b holds the rows i in [b·batch_size, b·batch_size + rows_of(b))
// of the epoch's order: row permute_index(i, rows, shuffle_key) when shuffling (kernels/common/random.cuh),
// row i otherwise. The last batch may be partial, as PyTorch's DataLoader does by default.
// learning_rates[b], when given, is the rate of batch b's optimizer step (a schedule, computed by the
// Trainer); empty: the optimizer's configured rate.
struct EpochPlan {
  int64_t rows = 0;
  int64_t batch_size = 256;
  bool shuffle = true;
  uint64_t shuffle_key = 0;
  std::vector<double> learning_rates;

  int64_t batches() const { return (rows + batch_size - 1) / batch_size; }
  int64_t rows_of(int64_t batch) const { return std::min(batch_size, rows - batch * batch_size); }
};

// The loss of one batch: `total` (what the step's gradient is of) and its terms, each a mean.
struct BatchLoss {
  float total = 0;
  float reconstruction = 0;
  float l1_activity = 0;
  float kl_sparsity = 0;
  float l2 = 0;
  float latent_kl = 0;
};

// Timings of training steps on one batch, for `cuae bench` and the benchmarks (src/profile/profile.h).
// Seconds per measured step; the phase vectors are empty when a backend cannot split a step.
struct StepProfile {
  std::vector<double> step;       // whole steps, run exactly as train_batches runs them
  std::vector<double> forward;    // phase breakdown, per step (CUDA: measured eagerly, graphs off)
  std::vector<double> loss;
  std::vector<double> backward;
  std::vector<double> optimizer;
  float last_loss = 0;            // mean loss of the last measured step
  int64_t steps_trained = 0;      // optimizer steps taken by the call, warm-up and phase runs included
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- state in and out: flat host copies in layout order, padding included ----
  virtual void write_parameters(std::span<const float> flat) = 0;
  virtual void read_parameters(std::span<float> flat) const = 0;
  // m and v as the layout (v empty for SGD); the state's step becomes step().
  virtual void write_optimizer_state(const OptimizerState& state) = 0;
  virtual OptimizerState read_optimizer_state() const = 0;
  // Optimizer steps taken: the model's one step counter. Cheap (no device synchronisation).
  virtual int64_t step() const = 0;

  // ---- training ----
  // Makes `data` the training set of the epochs that follow (kept resident, or streamed when it does
  // not fit); a no-op when it already is. batch_size is the largest batch train_batches will run.
  virtual void set_training_data(const Dataset& data, int64_t batch_size) = 0;
  // Starts an epoch of the training set; batch indices below refer to it.
  virtual void begin_epoch(const EpochPlan& plan) = 0;
  // Queues the optimizer steps of batches [first, first + count), in order; batch b's mean loss goes
  // to loss slot b. May return before the steps finish; step() counts them at once.
  virtual void train_batches(int64_t first, int64_t count) = 0;
  // Waits for the queued steps and copies the losses of batches [first, first + out.size()).
  virtual void read_batch_losses(int64_t first, std::span<BatchLoss> out) = 0;
  // Whether read_batch_losses costs nothing worth avoiding (no device synchronisation), so the
  // Trainer may read and check every step's loss at once.
  virtual bool losses_on_host() const = 0;
  // One optimizer step on host rows (1 ≤ rows; cols = the input width); returns the batch mean loss.
  virtual float train_step(MatrixView batch) = 0;

  // ---- inference ----
  // Sum of the per-element loss over a data set, in batches of batch_rows ≤ kMaxRowsPerCall rows.
  // The backend may keep a device copy of the set for later calls; it never reads the host rows
  // after the call returns.
  virtual double loss_sum(const Dataset& data, int64_t batch_rows) = 0;
  // Layers [first_layer, last_layer) on in.rows ≤ kMaxRowsPerCall rows; out holds rows x
  // layers[last_layer-1].out. The output layer applies its activation (reconstructions are
  // probabilities for a sigmoid output).
  virtual void forward(MatrixView in, int first_layer, int last_layer, float* out) = 0;

  // ---- measurement ----
  // Runs `warmup` untimed steps, then `steps` timed steps, all on `batch` (copied to the device
  // once). Trains the parameters like train_step. The default (engine/backend.cpp) times whole
  // train_step calls with a steady clock and leaves the phases empty.
  virtual StepProfile profile_steps(MatrixView batch, int warmup, int steps);
};

}  // namespace cuae
