// The CUDA backend (see cuda_backend_impl.h): construction and device choice, parameter and
// optimizer-state transfers, single training steps, inference on host rows and step profiling.
#include "cuda/cuda_backend.h"

#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cuae/error.h"
#include "cuda/cuda_backend_impl.h"
#include "cuda/cuda_check.h"
#include "cuda/step_profile.h"

namespace cuae {
namespace cuda {

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
  // An eager call (a partial batch, inference) may have moved the cuDNN workspace the graph holds.
  if (net_.workspace_moved()) graph_.reset();
  if (!graph_.ready() || graph_rows_ != rows) {
    net_.prepare_step(rows);  // cuDNN plans are built before capture, which must not allocate
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

}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& config, const ParameterLayout& layout, int device_index,
                                           const BackendOptions& options) {
  return std::make_unique<cuda::CudaBackend>(config, layout, device_index, options);
}

}  // namespace cuae
