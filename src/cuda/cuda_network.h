// The autoencoder's maths on one CUDA stream, enqueue-only: nothing here synchronises with the host,
// so a whole training step can be captured into a CUDA graph.
//
// Device memory: one flat allocation each for parameters, gradients and the optimizer's m and v (in
// the shared ParameterLayout, padding zero), so the optimizer is a single launch; per-layer
// activations sized for `capacity` rows; two ping-pong dA buffers; the loss kernel's partials.
//
// Step (rows m, input x = target):
//   forward   a_l = act_l(a_{l-1} · W_lᵀ + b_l)  fused kernel, cuBLAS SGEMM + bias/act kernel, or one
//             cuDNN graph (matmul -> add -> activation, src/cuda/cudnn);
//             the last layer stops at the logits (linear), which the loss kernel consumes.
//   loss      loss_forward_backward: mean loss -> losses[state.batch], dZ = dloss/dlogits
//   backward  dW_l = dZ_lᵀ·a_{l-1}, dA_{l-1} = dZ_l·W_l (cuBLAS), db_l = bias_grad(dZ_l),
//             dZ_{l-1} = activation_backward(dA_{l-1}, a_{l-1})
//   optimizer [grad_clip_scale: state.grad_scale = min(1, max_norm / ‖grad‖) when clipping]
//             optimizer_begin (advances state.step and state.batch) + adam_update / sgd_update
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "cuae/backend_options.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"
#include "cuda/cublas_handle.h"
#include "cuda/cudnn/cudnn_forward.h"
#include "cuda/device_buffer.h"
#include "kernels/kernels.h"

namespace cuae::cuda {

class CudaNetwork {
 public:
  CudaNetwork(const ModelConfig& config, const ParameterLayout& layout, const BackendOptions& options,
              cudaStream_t stream);

  // Device bytes a step on `rows` rows needs beyond what the network already holds.
  size_t extra_bytes_for(int64_t rows, int64_t loss_slots) const;
  // Grows the activation buffers to `rows` rows and the loss history to `loss_slots` entries.
  // Returns true when anything was reallocated (device pointers changed: captured graphs are stale).
  bool reserve(int64_t rows, int64_t loss_slots);
  int64_t capacity_rows() const { return capacity_rows_; }
  // Device bytes of the parameters, gradients, optimizer state and cuBLAS workspace.
  static size_t fixed_bytes(const ParameterLayout& layout, const ModelConfig& config);

  float* params() const { return params_.data(); }
  float* input() const { return input_.data(); }  // capacity_rows x max width: the batch
  kernels::OptimizerStepState* state() const { return state_.data(); }
  int64_t* batch_counter() const { return &state_.data()->batch; }
  float* losses() const { return losses_.data(); }  // per-batch mean losses of the epoch
  DeviceBuffer<float>& m() { return m_; }
  DeviceBuffer<float>& v() { return v_; }
  DeviceBuffer<float>& parameter_buffer() { return params_; }
  const DeviceBuffer<float>& m() const { return m_; }
  const DeviceBuffer<float>& v() const { return v_; }
  const DeviceBuffer<float>& parameter_buffer() const { return params_; }

  // One training step on input() rows [0, rows): forward, loss into losses()[state.batch], backward,
  // optimizer. Enqueue only.
  // phase_marks, when given, are 5 events recorded before the forward and after the forward, loss,
  // backward and optimizer: the phase profile of `cuae bench` (src/cuda/cuda_profile.h).
  void enqueue_step(int64_t rows, const cudaEvent_t* phase_marks = nullptr) const;
  // Layers [first, last) on `rows` rows of input(); the result is in the returned device pointer.
  // logits_only: the last layer of the network stops before its activation (for loss evaluation).
  const float* enqueue_forward(int64_t rows, int first, int last, bool logits_only) const;
  // Summed (not mean) loss of input() rows into *out (device). Enqueue only.
  void enqueue_loss_sum(int64_t rows, float* out) const;

  // Forward::cudnn builds a cuDNN plan the first time a layer shape is used, which may move its
  // workspace. prepare_step builds the plans of a `rows`-row step ahead of graph capture (which
  // must not allocate); call it right before capturing. workspace_moved says whether an eager
  // forward moved the workspace since the last call, i.e. whether a graph captured before holds a
  // stale pointer. Both are no-ops for the other forwards.
  void prepare_step(int64_t rows) const;
  bool workspace_moved() const { return std::exchange(workspace_moved_, false); }

 private:
  struct LayerBuffers {
    DeviceBuffer<float> y;    // activation output, or logits for the last layer
    DeviceBuffer<float> pre;  // pre-activation, only where act' needs it (gelu)
  };

  kernels::DenseForwardParams layer_params(int l, const float* in, int64_t rows, Activation act) const;
  void enqueue_layer(int l, const float* in, int64_t rows, Activation act) const;
  void enqueue_loss(int64_t rows, float* grad, float scale_loss, float* out, const int64_t* index) const;
  void enqueue_backward(int64_t rows) const;
  void enqueue_optimizer() const;
  Activation act_of(int l) const;
  int64_t max_width() const;

  ModelConfig config_;
  ParameterLayout layout_;
  BackendOptions options_;
  cudaStream_t stream_;
  CublasHandle cublas_;
  DeviceBuffer<float> params_, grads_, m_, v_;
  DeviceBuffer<kernels::OptimizerStepState> state_;
  DeviceBuffer<double> clip_partials_;  // global-norm clipping's per-block sums (empty when clipping is off)
  int64_t capacity_rows_ = 0;
  std::vector<LayerBuffers> layers_;
  DeviceBuffer<float> input_;
  DeviceBuffer<float> grad_a_, grad_b_;  // dZ / dA ping-pong, capacity x max width
  DeviceBuffer<float> partials_;
  DeviceBuffer<float> bias_workspace_;
  DeviceBuffer<float> losses_;
  std::unique_ptr<CudnnDenseForward> cudnn_;  // Forward::cudnn only
  mutable bool workspace_moved_ = false;
};

}  // namespace cuae::cuda
