// The CUDA backend (see cuda_backend_impl.h): construction and device choice, parameter and
// optimizer-state transfers, steps (eager or from a graph), inference on host rows and profiling.
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
  if (net_.reserve(rows, loss_slots)) {  // device pointers moved: captured graphs and warm-ups are stale
    graph_.reset();
    eager_rows_ = 0;
  }
  if (static_cast<int64_t>(host_losses_.size()) < loss_slots) {
    host_losses_ = PinnedBuffer<float>(static_cast<size_t>(loss_slots));
  }
}

// The first step of a batch shape runs eagerly and only the second is captured: cuBLAS picks its
// algorithm and cuDNN runs a plan for the first time lazily, and a lazy allocation or synchronisation
// inside a capture would invalidate it.
void CudaBackend::run_step(int64_t rows, bool use_graph) {
  if (use_graph && net_.workspace_moved()) {  // an eager call moved the cuDNN workspace the graph holds
    graph_.reset();
    eager_rows_ = 0;
  }
  if (use_graph && graph_.ready() && graph_rows_ == rows) {
    graph_.launch(stream_.get());
  } else if (!use_graph || eager_rows_ != rows) {
    net_.prepare_step(rows);
    net_.enqueue_step(rows);
    eager_rows_ = rows;
  } else {
    net_.prepare_step(rows);  // cuDNN plans exist before capture, which must not allocate
    graph_.capture(stream_.get(), [&] { net_.enqueue_step(rows); });
    graph_rows_ = rows;
    graph_.launch(stream_.get());
  }
  ++step_;
  ++device_batch_;  // the step's optimizer_begin advanced the device counter
}

void CudaBackend::set_device_batch(int64_t batch) {
  if (batch == device_batch_) return;
  // From pageable memory: the runtime stages the word before returning, and stream order puts it
  // after the steps already queued.
  CUDA_CHECK(cudaMemcpyAsync(net_.batch_counter(), &batch, sizeof batch, cudaMemcpyHostToDevice, stream_.get()));
  device_batch_ = batch;
}

void CudaBackend::upload_rows(const float* rows, int64_t count, int64_t cols) {
  CUDA_CHECK(cudaMemcpyAsync(net_.input(), rows, static_cast<size_t>(count * cols) * sizeof(float),
                             cudaMemcpyHostToDevice, stream_.get()));
}

float CudaBackend::train_step(MatrixView batch) {
  activate();
  prepare(batch.rows, 1, "train_step");
  upload_rows(batch.data, batch.rows, batch.cols);
  set_device_batch(0);  // the loss goes to slot 0
  run_step(batch.rows, options_.cuda_graphs);
  CUDA_CHECK(cudaMemcpyAsync(host_losses_.data(), net_.losses(), sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  stream_.synchronize();
  return host_losses_.data()[0];
}

void CudaBackend::forward(MatrixView in, int first_layer, int last_layer, float* out) {
  activate();
  if (in.rows == 0) return;
  const int64_t out_cols = layout_.layers[static_cast<size_t>(last_layer) - 1].out;
  prepare(in.rows, 0, "forward");
  upload_rows(in.data, in.rows, in.cols);
  const float* y = net_.enqueue_forward(in.rows, first_layer, last_layer, /*logits_only=*/false);
  CUDA_CHECK(cudaMemcpyAsync(out, y, static_cast<size_t>(in.rows * out_cols) * sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  stream_.synchronize();
}

StepProfile CudaBackend::profile_steps(MatrixView batch, int warmup, int steps) {
  activate();
  // At least 4096 loss slots, so that short repeated calls (the benchmarks) never reallocate, which
  // would force a graph recapture inside the timed steps.
  const int64_t slots = static_cast<int64_t>(warmup) + 2 * static_cast<int64_t>(steps);
  prepare(batch.rows, std::max<int64_t>(slots, 4096), "profile_steps");
  upload_rows(batch.data, batch.rows, batch.cols);  // once: every step trains on the resident batch
  set_device_batch(0);
  const int64_t before = step_;
  StepProfile profile = profile_network_steps(net_, stream_.get(), batch.rows, warmup, steps,
                                              [&] { run_step(batch.rows, options_.cuda_graphs); });
  // The phase runs enqueue their steps directly: bring the mirrors up to every step taken.
  step_ = before + profile.steps_trained;
  device_batch_ = profile.steps_trained;
  return profile;
}

void CudaBackend::write_parameters(std::span<const float> flat) {
  activate();
  net_.parameter_buffer().upload(flat, stream_.get());
  stream_.synchronize();
}

void CudaBackend::read_parameters(std::span<float> flat) const {
  activate();
  net_.parameter_buffer().download(flat, stream_.get());
  stream_.synchronize();
}

void CudaBackend::write_optimizer_state(const OptimizerState& state) {
  activate();
  const auto fill = [&](DeviceBuffer<float>& buffer, const std::vector<float>& host) {
    if (host.empty()) {
      buffer.zero(stream_.get());
    } else {
      buffer.upload(host, stream_.get());
    }
  };
  fill(net_.m(), state.m);
  if (config_.optimizer.kind == OptimizerKind::adam) fill(net_.v(), state.v);
  kernels::OptimizerStepState device_state{};
  device_state.step = state.step;
  device_state.batch = device_batch_;
  CUDA_CHECK(cudaMemcpyAsync(net_.state(), &device_state, sizeof(device_state), cudaMemcpyHostToDevice,
                             stream_.get()));
  stream_.synchronize();
  step_ = state.step;
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
  kernels::OptimizerStepState device_state{};
  CUDA_CHECK(cudaMemcpyAsync(&device_state, net_.state(), sizeof(device_state), cudaMemcpyDeviceToHost,
                             stream_.get()));
  stream_.synchronize();
  state.step = device_state.step;
  return state;
}

}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& config, const ParameterLayout& layout, int device_index,
                                           const BackendOptions& options) {
  return std::make_unique<cuda::CudaBackend>(config, layout, device_index, options);
}

}  // namespace cuae
