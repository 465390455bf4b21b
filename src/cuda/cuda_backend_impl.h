// The CUDA backend's class, shared by its two sources: cuda_backend.cu (construction, state transfers,
// steps, inference, profiling) and cuda_backend_data.cu (training and evaluation data on the device).
// A CudaNetwork on one stream, fed by a resident or streamed data set, with the steady-state step
// replayed from a CUDA graph. The host synchronises only to read results back: when the Trainer
// reads losses, and in the explicit read/write calls. Internal: only src/cuda includes it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "cuda/cuda_network.h"
#include "cuda/device_buffer.h"
#include "cuda/probe.h"
#include "cuda/resident_data.h"
#include "cuda/stream.h"
#include "engine/backend.h"

namespace cuae::cuda {

inline std::string bytes_str(size_t bytes) { return std::to_string(bytes) + " bytes"; }

class CudaBackend final : public Backend {
 public:
  CudaBackend(const ModelConfig& config, const ParameterLayout& layout, int index, const BackendOptions& options)
      : config_(config),
        layout_(layout),
        options_(options),
        index_(index),
        info_(select_device_with_room(index, layout, config)),
        net_(config, layout, options, stream_.get()),
        eval_loss_(1, "loss result") {}

  ~CudaBackend() override { CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream_.get())); }

  Device device() const override { return Device::cuda(index_); }

  void write_parameters(std::span<const float> flat) override;
  void read_parameters(std::span<float> flat) const override;
  void write_optimizer_state(const OptimizerState& state) override;
  OptimizerState read_optimizer_state() const override;
  int64_t step() const override { return step_; }

  void set_training_data(const Dataset& data, int64_t batch_size) override;
  void begin_epoch(const EpochPlan& plan) override;
  void train_batches(int64_t first, int64_t count) override;
  void read_batch_losses(int64_t first, std::span<BatchLoss> out) override;
  bool losses_on_host() const override { return false; }
  float train_step(MatrixView batch) override;

  double loss_sum(const Dataset& data, int64_t batch_rows) override;
  void forward(MatrixView in, int first_layer, int last_layer, float* out) override;
  StepProfile profile_steps(MatrixView batch, int warmup, int steps) override;

 private:
  static CudaDeviceInfo select_device_with_room(int index, const ParameterLayout& layout, const ModelConfig& config);
  std::string where() const { return "cuda:" + std::to_string(index_) + " (" + info_.name + ")"; }
  // The calling thread may not be the one that built the backend: make our device current.
  void activate() const { CUDA_CHECK(cudaSetDevice(index_)); }
  // Makes room for `rows`-row steps and `loss_slots` losses, or throws OutOfMemoryError with numbers.
  void prepare(int64_t rows, int64_t loss_slots, const char* op);
  // One step on the rows in net_.input(): eager, or replayed from the graph of this batch shape.
  void run_step(int64_t rows, bool use_graph);
  // Points the device batch counter (which the gather and loss kernels index by) at `batch`.
  void set_device_batch(int64_t batch);
  void upload_rows(const float* rows, int64_t count, int64_t cols);
  // Free device memory less headroom for cuBLAS and the driver.
  static size_t usable_bytes(size_t free_bytes) {
    return free_bytes - std::min<size_t>(free_bytes / 10, size_t{64} << 20);
  }
  // Device bytes a resident data set may occupy: usable_bytes, lowered by the options' budget.
  size_t data_budget(size_t free_bytes) const {
    const size_t usable = usable_bytes(free_bytes);
    return options_.device_memory_budget > 0 ? std::min(usable, static_cast<size_t>(options_.device_memory_budget))
                                             : usable;
  }
  // The evaluation data set uploaded once and kept, or null when it does not fit the budget.
  ResidentData* resident_eval_data(const Dataset& data);
  double host_rows_loss_sum(const Dataset& data, int64_t batch_rows);

  ModelConfig config_;
  ParameterLayout layout_;
  BackendOptions options_;
  int index_;
  CudaDeviceInfo info_;
  Stream stream_;
  CudaNetwork net_;
  DeviceBuffer<float> eval_loss_;
  int64_t step_ = 0;          // host mirror of the device step counter: steps enqueued so far
  int64_t device_batch_ = 0;  // host mirror of the device batch counter
  CudaGraph graph_;
  int64_t graph_rows_ = 0;    // the batch shape graph_ was captured for
  int64_t eager_rows_ = 0;    // the batch shape last run eagerly since the buffers last moved
  PinnedBuffer<float> host_losses_;
  EpochPlan plan_;
  std::unique_ptr<BatchSource> source_;
  std::unique_ptr<ResidentData> eval_data_;
  DeviceBuffer<int64_t> eval_batch_indices_;  // 0, 1, 2, ...: batch b of an evaluation reads entry b
  DeviceBuffer<float> eval_losses_;           // loss sum of each evaluation batch
};

}  // namespace cuae::cuda
