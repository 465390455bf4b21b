// The CUDA backend: a CudaNetwork on one stream, fed by a resident or streamed data set, with the
// steady-state step replayed from a CUDA graph. The host synchronises only to read results back:
// once per epoch (or every progress_every steps) for the losses, and in the explicit read/write calls.
#include "cuda/cuda_backend.h"

#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cuae/error.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_network.h"
#include "cuda/device_buffer.h"
#include "cuda/probe.h"
#include "cuda/resident_data.h"
#include "cuda/step_profile.h"
#include "cuda/stream.h"

namespace cuae {
namespace cuda {
namespace {

// Rows per chunk for forward/loss on host matrices: bounds the activation memory of inference.
constexpr int64_t kInferenceRows = 4096;

std::string bytes_str(size_t bytes) { return std::to_string(bytes) + " bytes"; }

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

CudaDeviceInfo CudaBackend::select_device_with_room(int index, const ParameterLayout& layout,
                                                    const ModelConfig& config) {
  CudaDeviceInfo info = select_device(index);
  const size_t needed = CudaNetwork::fixed_bytes(layout, config);
  const auto [free_bytes, total_bytes] = memory_info();
  if (needed > free_bytes) {
    throw OutOfMemoryError("Model on cuda:" + std::to_string(index) + " (" + info.name + "): needs " +
                           bytes_str(needed) + " of device memory for " + std::to_string(layout.parameter_count) +
                           " parameters, their gradients, optimizer state and the cuBLAS workspace; only " +
                           bytes_str(free_bytes) + " free of " + bytes_str(total_bytes));
  }
  return info;
}

void CudaBackend::check_flat(size_t size, const char* op) const {
  if (static_cast<int64_t>(size) != layout_.total_floats) {
    throw ShapeError(std::string(op) + ": flat buffer has " + std::to_string(size) + " floats, the layout needs " +
                     std::to_string(layout_.total_floats));
  }
}

void CudaBackend::check_width(int64_t cols, int64_t expected, const std::string& op) const {
  if (cols != expected) {
    throw ShapeError(op + ": input has " + std::to_string(cols) + " features, expected " +
                     std::to_string(expected));
  }
}

void CudaBackend::prepare(int64_t rows, int64_t loss_slots, const char* op) {
  const size_t extra = net_.extra_bytes_for(rows, loss_slots);
  if (extra > 0) {
    const auto [free_bytes, total_bytes] = memory_info();
    if (extra > free_bytes) {
      throw OutOfMemoryError(std::string(op) + " on " + where() + ": needs " + bytes_str(extra) +
                             " more device memory for the activations of " + std::to_string(rows) +
                             "-row batches; only " + bytes_str(free_bytes) + " free of " + bytes_str(total_bytes));
    }
  }
  if (net_.reserve(rows, loss_slots)) graph_.reset();  // captured pointers are stale
  if (static_cast<int64_t>(host_losses_.size()) < loss_slots) {
    host_losses_ = PinnedBuffer<float>(static_cast<size_t>(loss_slots));
  }
}

void CudaBackend::run_step(int64_t rows, bool use_graph) {
  if (!use_graph) {
    net_.enqueue_step(rows);
    return;
  }
  net_.prepare_step(rows);  // cuDNN plans are built before capture, which must not allocate
  if (net_.workspace_moved()) graph_.reset();
  if (!graph_.ready() || graph_rows_ != rows) {
    graph_.capture(stream_.get(), [&] { net_.enqueue_step(rows); });
    graph_rows_ = rows;
  }
  graph_.launch(stream_.get());
}

void CudaBackend::upload_rows(const float* rows, int64_t count, int64_t cols) {
  CUDA_CHECK(cudaMemcpyAsync(net_.input(), rows, static_cast<size_t>(count * cols) * sizeof(float),
                             cudaMemcpyHostToDevice, stream_.get()));
}

float CudaBackend::train_step(MatrixView batch) {
  activate();
  check_width(batch.cols, layout_.input_dim(), "train_step");
  if (batch.rows <= 0) throw ShapeError("train_step: batch has " + std::to_string(batch.rows) + " rows");
  prepare(batch.rows, 1, "train_step");
  upload_rows(batch.data, batch.rows, batch.cols);
  CUDA_CHECK(cudaMemsetAsync(net_.batch_counter(), 0, sizeof(int64_t), stream_.get()));  // loss -> losses[0]
  run_step(batch.rows, options_.cuda_graphs);
  CUDA_CHECK(cudaMemcpyAsync(host_losses_.data(), net_.losses(), sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  stream_.synchronize();
  return host_losses_.data()[0];
}

double CudaBackend::loss_sum(MatrixView batch) {
  activate();
  check_width(batch.cols, layout_.input_dim(), "loss_sum");
  if (batch.rows == 0) return 0;
  prepare(std::min(batch.rows, kInferenceRows), 0, "loss_sum");
  double sum = 0;
  for (int64_t first = 0; first < batch.rows; first += kInferenceRows) {
    const int64_t count = std::min(kInferenceRows, batch.rows - first);
    upload_rows(batch.data + first * batch.cols, count, batch.cols);
    net_.enqueue_loss_sum(count, eval_loss_.data());
    float part = 0;
    CUDA_CHECK(cudaMemcpyAsync(&part, eval_loss_.data(), sizeof(float), cudaMemcpyDeviceToHost, stream_.get()));
    stream_.synchronize();
    sum += part;
  }
  return sum;
}

void CudaBackend::forward(MatrixView in, int first_layer, int last_layer, float* out) {
  activate();
  const int layers = static_cast<int>(layout_.layers.size());
  if (first_layer < 0 || first_layer >= last_layer || last_layer > layers) {
    throw Error("forward: layer range [" + std::to_string(first_layer) + ", " + std::to_string(last_layer) +
                ") is not within the model's " + std::to_string(layers) + " layers");
  }
  check_width(in.cols, layout_.layers[static_cast<size_t>(first_layer)].in, "forward");
  if (in.rows == 0) return;
  const int64_t out_cols = layout_.layers[static_cast<size_t>(last_layer) - 1].out;
  prepare(std::min(in.rows, kInferenceRows), 0, "forward");
  for (int64_t first = 0; first < in.rows; first += kInferenceRows) {
    const int64_t count = std::min(kInferenceRows, in.rows - first);
    upload_rows(in.data + first * in.cols, count, in.cols);
    const float* y = net_.enqueue_forward(count, first_layer, last_layer, /*logits_only=*/false);
    CUDA_CHECK(cudaMemcpyAsync(out + first * out_cols, y, static_cast<size_t>(count * out_cols) * sizeof(float),
                               cudaMemcpyDeviceToHost, stream_.get()));
    stream_.synchronize();
  }
}

StepProfile CudaBackend::profile_steps(MatrixView batch, int warmup, int steps) {
  activate();
  check_width(batch.cols, layout_.input_dim(), "profile_steps");
  if (batch.rows <= 0) throw ShapeError("profile_steps: batch has " + std::to_string(batch.rows) + " rows");
  if (warmup < 0 || steps < 0) {
    throw Error("profile_steps: warmup " + std::to_string(warmup) + " and steps " + std::to_string(steps) +
                " must be >= 0");
  }
  // At least 4096 loss slots, so that short repeated calls (the benchmarks) never reallocate, which
  // would force a graph recapture inside the timed steps.
  const int64_t slots = static_cast<int64_t>(warmup) + 2 * static_cast<int64_t>(steps);
  prepare(batch.rows, std::max<int64_t>(slots, 4096), "profile_steps");
  upload_rows(batch.data, batch.rows, batch.cols);  // once: every step trains on the resident batch
  CUDA_CHECK(cudaMemsetAsync(net_.batch_counter(), 0, sizeof(int64_t), stream_.get()));
  return profile_network_steps(net_, stream_.get(), batch.rows, warmup, steps,
                               [&] { run_step(batch.rows, options_.cuda_graphs); });
}

void CudaBackend::write_optimizer_state(const OptimizerState& state) {
  activate();
  const bool adam = config_.optimizer.kind == OptimizerKind::adam;
  const auto fill = [&](DeviceBuffer<float>& buffer, const std::vector<float>& host, const char* name) {
    if (host.empty()) {
      buffer.zero(stream_.get());
      return;
    }
    if (static_cast<int64_t>(host.size()) != layout_.total_floats) {
      throw ShapeError(std::string("write_optimizer_state: ") + name + " has " + std::to_string(host.size()) +
                       " floats, the layout needs " + std::to_string(layout_.total_floats));
    }
    buffer.upload(host, stream_.get());
  };
  fill(net_.m(), state.m, "m");
  if (adam) fill(net_.v(), state.v, "v");
  kernels::OptimizerStepState step{};
  step.step = state.step;
  CUDA_CHECK(cudaMemcpyAsync(net_.state(), &step, sizeof(step), cudaMemcpyHostToDevice, stream_.get()));
  stream_.synchronize();
}

OptimizerState CudaBackend::read_optimizer_state() const {
  activate();
  const CudaNetwork& net = net_;
  OptimizerState state;
  state.m.resize(static_cast<size_t>(layout_.total_floats));
  net.m().download(state.m, stream_.get());
  if (config_.optimizer.kind == OptimizerKind::adam) {
    state.v.resize(static_cast<size_t>(layout_.total_floats));
    net.v().download(state.v, stream_.get());
  }
  kernels::OptimizerStepState step{};
  CUDA_CHECK(cudaMemcpyAsync(&step, net_.state(), sizeof(step), cudaMemcpyDeviceToHost, stream_.get()));
  stream_.synchronize();
  state.step = step.step;
  return state;
}

BatchSource& CudaBackend::source_for(const Dataset& data, const EpochPlan& plan) {
  if (source_ && source_->serves(data, plan.batch_size)) return *source_;
  stream_.synchronize();  // the old source may still be read by queued gathers
  source_.reset();        // and its memory counts as free for the new one
  const auto [free_bytes, total_bytes] = memory_info();
  const size_t usable = usable_bytes(free_bytes);
  const size_t budget = data_budget(free_bytes);
  if (data.size_bytes() <= budget) {
    source_ = std::make_unique<ResidentData>(data, stream_.get());
    return *source_;
  }
  const size_t batch_bytes = static_cast<size_t>(plan.batch_size * data.cols()) * data.element_size();
  if (2 * batch_bytes > usable) {
    throw OutOfMemoryError("train_epoch on " + where() + ": data set " + data.name() + " (" +
                           bytes_str(data.size_bytes()) + ") cannot stay resident, and streaming it needs two " +
                           "batch buffers of " + bytes_str(batch_bytes) + "; only " + bytes_str(free_bytes) +
                           " free of " + bytes_str(total_bytes));
  }
  source_ = std::make_unique<StreamedData>(data, plan.batch_size, std::max(budget / 2, batch_bytes));
  return *source_;
}

double CudaBackend::read_losses(int64_t from, int64_t to, int64_t batch_size, int64_t total_rows) {
  if (to <= from) return 0;
  CUDA_CHECK(cudaMemcpyAsync(host_losses_.data() + from, net_.losses() + from,
                             static_cast<size_t>(to - from) * sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  stream_.synchronize();
  double sum = 0;
  for (int64_t b = from; b < to; ++b) {
    const int64_t rows = std::min(batch_size, total_rows - b * batch_size);
    sum += static_cast<double>(host_losses_.data()[b]) * static_cast<double>(rows);
  }
  return sum;
}

ResidentData* CudaBackend::resident_eval_data(const Dataset& data) {
  if (eval_data_ && eval_data_->serves(data, 0)) return eval_data_.get();
  stream_.synchronize();  // queued gathers may still read the old copy
  eval_data_.reset();
  if (data.size_bytes() > data_budget(memory_info().first)) return nullptr;
  eval_data_ = std::make_unique<ResidentData>(data, stream_.get());
  return eval_data_.get();
}

// Evaluation with the data set on the device: per batch, the gather kernel fills the input rows and
// the loss kernel writes the batch's loss sum to its own slot; one read-back at the end. Batches are
// at most kInferenceRows rows, as in loss_sum, to bound the activation memory.
double CudaBackend::dataset_loss_sum(const Dataset& data, int64_t batch_size) {
  activate();
  check_width(data.cols(), layout_.input_dim(), "evaluate (" + data.name() + ")");
  if (batch_size <= 0) throw Error("evaluate: batch size must be > 0, got " + std::to_string(batch_size));
  if (data.rows() == 0) return 0;
  ResidentData* resident = resident_eval_data(data);
  if (resident == nullptr) return Backend::dataset_loss_sum(data, batch_size);  // host rows, chunk by chunk
  const int64_t rows_per_batch = std::min({batch_size, kInferenceRows, data.rows()});
  const int64_t batches = (data.rows() + rows_per_batch - 1) / rows_per_batch;
  prepare(rows_per_batch, 0, "evaluate");
  if (static_cast<int64_t>(eval_batch_indices_.size()) < batches) {
    std::vector<int64_t> indices(static_cast<size_t>(batches));
    for (int64_t b = 0; b < batches; ++b) indices[static_cast<size_t>(b)] = b;
    eval_batch_indices_ = DeviceBuffer<int64_t>(indices.size(), "evaluation batch indices");
    eval_batch_indices_.upload(indices, stream_.get());
    eval_losses_ = DeviceBuffer<float>(indices.size(), "evaluation losses");
    stream_.synchronize();  // `indices` is about to go
  }
  EpochPlan plan;
  plan.batch_size = rows_per_batch;
  plan.shuffle = false;
  resident->begin_epoch(plan);
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t rows = std::min(rows_per_batch, data.rows() - b * rows_per_batch);
    resident->gather(b, rows, net_.input(), eval_batch_indices_.data() + b, stream_.get());
    net_.enqueue_loss_sum(rows, eval_losses_.data() + b);
  }
  std::vector<float> losses(static_cast<size_t>(batches));
  CUDA_CHECK(cudaMemcpyAsync(losses.data(), eval_losses_.data(), losses.size() * sizeof(float),
                             cudaMemcpyDeviceToHost, stream_.get()));
  stream_.synchronize();
  double sum = 0;
  for (const float loss : losses) sum += loss;
  return sum;
}

EpochResult CudaBackend::train_epoch(const Dataset& data, const EpochPlan& plan, const ProgressFn& progress) {
  activate();
  check_width(data.cols(), layout_.input_dim(), "train_epoch (" + data.name() + ")");
  if (plan.batch_size <= 0) throw Error("train_epoch: batch size must be > 0, got " + std::to_string(plan.batch_size));
  EpochResult result;
  const int64_t rows = data.rows();
  const int64_t steps = (rows + plan.batch_size - 1) / plan.batch_size;
  if (steps == 0) return result;
  if (plan.first_batch < 0 || (plan.first_batch > 0 && plan.first_batch >= steps)) {
    throw Error("train_epoch: first batch " + std::to_string(plan.first_batch) + " is outside the epoch of " +
                std::to_string(steps) + " batches of " + data.name());
  }
  prepare(std::min(plan.batch_size, rows), steps, "train_epoch");
  BatchSource& source = source_for(data, plan);
  source.begin_epoch(plan);
  // The gather and loss kernels index by the device batch counter; a resumed epoch starts it at the
  // first batch not yet trained. An async copy from pageable memory is staged before the call
  // returns, so the source may live on the stack, and stream order keeps it after earlier steps.
  CUDA_CHECK(cudaMemcpyAsync(net_.batch_counter(), &plan.first_batch, sizeof(int64_t), cudaMemcpyHostToDevice,
                             stream_.get()));
  int64_t read = plan.first_batch;  // losses[b] is written by batch b; [first_batch, read) are summed
  for (int64_t b = plan.first_batch; b < steps; ++b) {
    if (plan.stop != nullptr && plan.stop->load(std::memory_order_relaxed)) {  // between steps, as the CPU backend
      result.stopped = true;
      break;
    }
    const int64_t batch_rows = std::min(plan.batch_size, rows - b * plan.batch_size);
    source.gather(b, batch_rows, net_.input(), net_.batch_counter(), stream_.get());
    // Full batches replay the captured step; the last partial batch runs eagerly.
    run_step(batch_rows, options_.cuda_graphs && batch_rows == plan.batch_size);
    ++result.steps;
    result.samples += batch_rows;
    if (progress && plan.progress_every > 0 && result.steps % plan.progress_every == 0) {
      result.loss_sum += read_losses(read, b + 1, plan.batch_size, rows);
      read = b + 1;
      progress(result.steps, result.loss_sum / static_cast<double>(result.samples));
    }
  }
  result.loss_sum += read_losses(read, plan.first_batch + result.steps, plan.batch_size, rows);
  return result;
}

}  // namespace
}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& config, const ParameterLayout& layout, int device_index,
                                           const BackendOptions& options) {
  return std::make_unique<cuda::CudaBackend>(config, layout, device_index, options);
}

}  // namespace cuae
