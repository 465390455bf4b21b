// The interface every execution backend implements (CPU in src/cpu, CUDA in src/cuda). The Model
// owns the configuration, the layout and the host-side bookkeeping; a backend owns the parameter,
// gradient and optimizer buffers in its own memory and runs the maths.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/device.h"
#include "cuae/layout.h"
#include "cuae/model.h"
#include "cuae/model_config.h"
#include "cuae/tensor.h"

namespace cuae {

// One epoch as the Model asks a backend to run it.
struct EpochPlan {
  int64_t batch_size = 256;
  bool shuffle = true;
  uint64_t shuffle_key = 0;  // batch b holds rows permute_index(b * batch_size + r, rows, key)
  int64_t progress_every = 0;  // 0: no progress reports inside the epoch
  const std::atomic<bool>* stop = nullptr;
  // Resuming an interrupted epoch: batches [0, first_batch) were trained before the interruption.
  // Only backends whose resumes_mid_epoch() is true are given a non-zero value.
  int64_t first_batch = 0;
};

struct EpochResult {
  double loss_sum = 0;   // sum over batches of (batch mean loss * batch rows)
  int64_t samples = 0;
  int64_t steps = 0;
  bool stopped = false;  // plan.stop was set; the epoch ended after a whole step
  // 1-based step of this call whose loss was NaN or Inf, after which the epoch ended; 0 when none
  // was seen. A backend that does not read losses per step leaves it 0 (the Model then checks
  // loss_sum).
  int64_t non_finite_step = 0;
};

// Timings of training steps on one batch, for `cuae bench` and the benchmarks (src/profile/profile.h).
// Seconds per measured step; the phase vectors are empty when a backend cannot split a step.
struct StepProfile {
  std::vector<double> step;       // whole steps, run exactly as train_step/train_epoch run them
  std::vector<double> forward;    // phase breakdown, per step (CUDA: measured eagerly, graphs off)
  std::vector<double> loss;
  std::vector<double> backward;
  std::vector<double> optimizer;
  float last_loss = 0;            // mean loss of the last measured step
  int64_t steps_trained = 0;      // optimizer steps taken by the call, warm-up and phase runs included
};

// Reports the running mean loss after `steps_done` steps of the epoch.
using ProgressFn = std::function<void(int64_t steps_done, double running_mean_loss)>;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // Flat host copies, in layout order, padding included.
  virtual void write_parameters(std::span<const float> flat) = 0;
  virtual void read_parameters(std::span<float> flat) const = 0;
  virtual void write_optimizer_state(const OptimizerState& state) = 0;
  virtual OptimizerState read_optimizer_state() const = 0;

  // One optimizer step on host rows; returns the batch mean loss.
  virtual float train_step(MatrixView batch) = 0;
  // Sum of the per-element loss over the batch; no update.
  virtual double loss_sum(MatrixView batch) = 0;
  // Runs layers [first_layer, last_layer) on the rows; out holds rows x layers[last_layer-1].out.
  // The output layer applies its activation (e.g. sigmoid), so reconstructions are probabilities.
  virtual void forward(MatrixView in, int first_layer, int last_layer, float* out) = 0;
  // Trains one epoch over data. A backend may keep the data resident between calls.
  virtual EpochResult train_epoch(const Dataset& data, const EpochPlan& plan, const ProgressFn& progress) = 0;
  // Whether train_epoch honours EpochPlan::first_batch (resuming inside an epoch).
  virtual bool resumes_mid_epoch() const { return false; }
  // Sum of the per-element loss over a whole data set.
  virtual double dataset_loss_sum(const Dataset& data, int64_t batch_size);
  // Runs `warmup` untimed steps, then `steps` timed steps, all on `batch` (copied to the device
  // once). Trains the parameters like train_step. The default (src/profile/profile.cpp) times whole
  // train_step calls with a steady clock and leaves the phases empty.
  virtual StepProfile profile_steps(MatrixView batch, int warmup, int steps);
};

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config, const ParameterLayout& layout,
                                          const BackendOptions& options);

// Defined once per build flavour: src/backend_factory.cpp (real CUDA or CPU-only) and
// tests/backends/emulated_device_backends.cpp (CUDA backend on the host SIMT emulation).
std::unique_ptr<Backend> create_backend(const ModelConfig& config, const ParameterLayout& layout, Device device,
                                        const BackendOptions& options);

}  // namespace cuae
