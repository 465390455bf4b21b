// cuae::Model: an autoencoder whose weights, optimizer state and (during fit) data live on its
// device. The backend (CPU or CUDA) hides behind a private implementation, so this header needs no
// CUDA.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "cuae/backend_options.h"
#include "cuae/dataset.h"
#include "cuae/device.h"
#include "cuae/fit.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"
#include "cuae/optimizer_state.h"
#include "cuae/read_options.h"
#include "cuae/run_config.h"
#include "cuae/tensor.h"

namespace cuae {

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
  // Optimizer steps taken (the optimizer's own counter; set_optimizer_state sets it).
  int64_t step() const;
  // Where training stands, so an interrupted fit can resume exactly: completed epochs, and the rows
  // of the next epoch already trained (a whole number of batches; 0 between epochs). Both are
  // saved in checkpoints. During fit they are current whenever a callback runs.
  int64_t epochs_completed() const;
  int64_t samples_into_epoch() const;
  // All of it: the position and the memory of schedules and early stopping (cuae/fit.h).
  const TrainingState& training_state() const;

  // The run this model belongs to, as its checkpoints store it: config(), the device and backend
  // options, the fit options of the last fit, and whatever the caller recorded with
  // set_run_config (`cuae train` records its data sources and outputs). set_run_config keeps this
  // model's own config(), whatever run.model holds.
  const RunConfig& run_config() const;
  void set_run_config(const RunConfig& run);

  // safetensors checkpoint: encoder.{i}.weight/bias, decoder.{i}.weight/bias, optimizer state, and
  // run_config() as JSON metadata. Written atomically (temporary file, fsync, rename).
  void save(const std::filesystem::path& path) const;
  // A checkpoint without optimizer state (e.g. written by PyTorch) starts a fresh optimizer at step 0.
  // `read` says how strictly PyTorch's files are taken and where the reader's notes go.
  static Model load(const std::filesystem::path& path, Device device = Device::cpu(),
                    BackendOptions options = {}, const CheckpointReadOptions& read = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cuae
