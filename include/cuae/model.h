// cuae::Model: an autoencoder whose weights, optimizer state and (during fit) data live on its
// device. The backend (CPU or CUDA) hides behind a private implementation, so this header needs no
// CUDA.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/device.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"
#include "cuae/tensor.h"

namespace cuae {

// Options that change how a backend executes, never what it computes (except allow_tf32).
struct BackendOptions {
  enum class Forward { fused, cublas, cudnn };
  Forward forward = Forward::fused;  // CUDA: hand-written fused dense kernel, or library baselines
  bool cuda_graphs = true;           // CUDA: capture the steady-state step as a graph
  bool allow_tf32 = false;           // CUDA: let cuBLAS use TF32 tensor cores
  int64_t device_memory_budget = 0;  // CUDA: bytes the resident data set may use; 0 = what is free
  int cpu_threads = 0;               // CPU: OpenMP/OpenBLAS threads; 0 = all cores
};

struct OptimizerState {
  int64_t step = 0;
  std::vector<float> m;  // first moment (Adam) or momentum buffer (SGD), flat like the parameters
  std::vector<float> v;  // second moment (Adam); empty for SGD
};

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 256;
  bool shuffle = true;               // a fresh permutation each epoch, from (seed, epoch)
  const Dataset* validation = nullptr;
  int64_t progress_every = 0;        // steps between progress events; 0 = none during an epoch
  int64_t eval_batch_size = 1024;
  const std::atomic<bool>* stop = nullptr;  // checked between steps; set it to end fit early
  // fit continues where the model stands (epochs_completed, samples_into_epoch): an epoch that was
  // interrupted is finished first and counts as one of `epochs`. A NaN or Inf loss ends fit with a
  // cuae::Error naming the step.
};

struct EpochStats {
  int epoch = 0;                     // 1-based
  double train_loss = 0;             // mean over the epoch's samples
  double val_loss = 0;               // NaN when there is no validation set
  double seconds = 0;
  double samples_per_second = 0;
};

struct FitEvent {
  enum class Kind { progress, epoch_end };
  Kind kind = Kind::progress;
  int epoch = 0;
  int64_t step_in_epoch = 0;
  int64_t steps_per_epoch = 0;
  double running_loss = 0;           // mean loss of the epoch so far
  double samples_per_second = 0;
  EpochStats stats;                  // valid for epoch_end
};

struct History {
  std::vector<EpochStats> epochs;
  bool stopped_early = false;
};

using FitCallback = std::function<void(const FitEvent&)>;

class Backend;  // src/engine/backend.h

class Model {
 public:
  explicit Model(ModelConfig config, Device device = Device::cpu(), BackendOptions options = {});
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const;
  const ParameterLayout& layout() const;
  Device device() const;
  int64_t input_dim() const;
  int64_t code_dim() const;

  // One optimizer step on a batch of rows; returns the batch's mean loss.
  float train_step(MatrixView batch);
  History fit(const Dataset& train, const FitOptions& options = {}, const FitCallback& callback = {});
  // Mean loss over all elements of the data set (no parameter update).
  double evaluate(const Dataset& data, int64_t batch_size = 1024);
  double evaluate(MatrixView data);
  Matrix encode(MatrixView data);
  Matrix decode(MatrixView codes);
  Matrix reconstruct(MatrixView data);
  Matrix encode(const Dataset& data);
  Matrix reconstruct(const Dataset& data);

  // Flat parameters in the layout's order (padding included).
  std::vector<float> parameters() const;
  void set_parameters(std::span<const float> flat);
  OptimizerState optimizer_state() const;
  void set_optimizer_state(const OptimizerState& state);
  int64_t step() const;
  // Where training stands, so an interrupted fit can resume exactly: completed epochs, and the rows
  // of the next epoch already trained (a whole number of batches; 0 between epochs). Both are
  // saved in checkpoints. During fit they are current whenever a callback runs.
  int64_t epochs_completed() const;
  int64_t samples_into_epoch() const;

  // safetensors checkpoint: encoder.{i}.weight/bias, decoder.{i}.weight/bias, optimizer state, and
  // the config as JSON metadata. Written atomically (temporary file, fsync, rename).
  void save(const std::filesystem::path& path) const;
  static Model load(const std::filesystem::path& path, Device device = Device::cpu(),
                    BackendOptions options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cuae
