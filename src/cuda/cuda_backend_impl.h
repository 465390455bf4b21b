// The CUDA backend's class, shared by its two sources: cuda_backend.cu (construction, parameters,
// single steps, inference, profiling) and cuda_backend_data.cu (epochs over resident or streamed
// data, evaluation of data sets). A CudaNetwork on one stream, fed by a resident or streamed data
// set, with the steady-state step replayed from a CUDA graph. The host synchronises only to read
// results back: once per epoch (or every progress_every steps) for the losses, and in the explicit
// read/write calls. Internal: only src/cuda includes it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "cuda/cuda_network.h"
#include "cuda/device_buffer.h"
#include "cuda/probe.h"
#include "cuda/resident_data.h"
#include "cuda/stream.h"

namespace cuae::cuda {

// Rows per chunk for forward/loss on host matrices: bounds the activation memory of inference.
inline constexpr int64_t kInferenceRows = 4096;

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

  void write_parameters(std::span<const float> flat) override {
    activate();
    check_flat(flat.size(), "write_parameters");
    net_.parameter_buffer().upload(flat, stream_.get());
    stream_.synchronize();
  }
  void read_parameters(std::span<float> flat) const override {
    activate();
    check_flat(flat.size(), "read_parameters");
    net_.parameter_buffer().download(flat, stream_.get());
    stream_.synchronize();
  }
  void write_optimizer_state(const OptimizerState& state) override;
  OptimizerState read_optimizer_state() const override;

  float train_step(MatrixView batch) override;
  double loss_sum(MatrixView batch) override;
  void forward(MatrixView in, int first_layer, int last_layer, float* out) override;
  EpochResult train_epoch(const Dataset& data, const EpochPlan& plan, const ProgressFn& progress) override;
  double dataset_loss_sum(const Dataset& data, int64_t batch_size) override;
  bool resumes_mid_epoch() const override { return true; }
  StepProfile profile_steps(MatrixView batch, int warmup, int steps) override;

 private:
  static CudaDeviceInfo select_device_with_room(int index, const ParameterLayout& layout, const ModelConfig& config);
  std::string where() const { return "cuda:" + std::to_string(index_) + " (" + info_.name + ")"; }
  // The calling thread may not be the one that built the backend: make our device current.
  void activate() const { CUDA_CHECK(cudaSetDevice(index_)); }
  void check_flat(size_t size, const char* op) const;
  void check_width(int64_t cols, int64_t expected, const std::string& op) const;
  // Makes room for `rows`-row steps and `loss_slots` losses, or throws OutOfMemoryError with numbers.
  void prepare(int64_t rows, int64_t loss_slots, const char* op);
  void run_step(int64_t rows, bool use_graph);
  void upload_rows(const float* rows, int64_t count, int64_t cols);
  BatchSource& source_for(const Dataset& data, const EpochPlan& plan);
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
  // Sum over batches [from, to) of loss * rows; one synchronisation.
  double read_losses(int64_t from, int64_t to, int64_t batch_size, int64_t total_rows);

  ModelConfig config_;
  ParameterLayout layout_;
  BackendOptions options_;
  int index_;
  CudaDeviceInfo info_;
  Stream stream_;
  CudaNetwork net_;
  DeviceBuffer<float> eval_loss_;
  CudaGraph graph_;
  int64_t graph_rows_ = 0;
  PinnedBuffer<float> host_losses_;
  std::unique_ptr<BatchSource> source_;
  std::unique_ptr<ResidentData> eval_data_;
  DeviceBuffer<int64_t> eval_batch_indices_;  // 0, 1, 2, ...: batch b of an evaluation reads entry b
  DeviceBuffer<float> eval_losses_;           // loss sum of each evaluation batch
};

}  // namespace cuae::cuda
