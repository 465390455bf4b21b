// Launchers of cuae's hand-written CUDA kernels: one params struct per kernel family.
//
// This header is plain C++ apart from cudaStream_t, which comes from <cuda_runtime.h>: the real CUDA
// runtime under nvcc, or the host SIMT emulation's substitute (emulation/include) when the same
// kernel sources are compiled as C++ for CI. Each launcher validates its params, picks the grid and
// launches through launch.cuh; failures throw cuae::CudaError / cuae::ShapeError naming the kernel.
//
// Layouts are row-major; "[M, N]" means M rows of N contiguous floats. All pointers are device
// pointers. Shapes use int64_t for rows and element counts, int for feature widths.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "cuae/model_config.h"  // Activation, Loss

namespace cuae::kernels {

// True when the pointer is 16-byte aligned (null counts as aligned), i.e. float4 loads and stores are legal.
inline bool aligned16(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer) % 16 == 0; }

// ---- dense_forward.cu -------------------------------------------------------------------------
// y[M, N] = act(x[M, K] · w[N, K]^T + bias[N]); pre[M, N] = the pre-activation when pre != nullptr.
struct DenseForwardParams {
  const float* x = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;  // may be null: no bias
  float* y = nullptr;
  float* pre = nullptr;         // optional
  int64_t m = 0;
  int n = 0;
  int k = 0;
  Activation act = Activation::linear;
  float slope = 0.01f;          // leaky_relu
  int tile = 0;                 // block tile: 0 picks by problem size; 64 or 128 forces one (tests, benchmarks)
};
void dense_forward(const DenseForwardParams& p, cudaStream_t stream);

// The cuBLAS-forward baseline's epilogue: y = act(z + bias), in place allowed (y == z).
struct BiasActParams {
  const float* z = nullptr;
  const float* bias = nullptr;
  float* y = nullptr;
  float* pre = nullptr;  // optional copy of z + bias
  int64_t m = 0;
  int n = 0;
  Activation act = Activation::linear;
  float slope = 0.01f;
};
void bias_act_forward(const BiasActParams& p, cudaStream_t stream);

// ---- loss.cu ------------------------------------------------------------------------------------
// Output activation (sigmoid or linear) fused with the loss, from the logits z and the target x:
//   bce:  loss_e = max(z,0) - z·x + log1p(exp(-|z|)),  dz = (sigmoid(z) - x) · grad_scale
//   mse:  y = out_act(z), loss_e = (y - x)^2,           dz = 2 (y - x) · out_act'(z) · grad_scale
// grad_scale is 1 / (rows · features) for a mean loss. The element losses are summed
// deterministically: per-block partials into `partials`, then one block sums them in order and
// writes loss_out[0] = sum · loss_scale (loss_scale = 1/count for a mean, 1 for a sum).
// `partials` needs loss_partials_size(count) floats.
struct LossParams {
  const float* z = nullptr;
  const float* target = nullptr;
  float* grad = nullptr;  // may be null: loss only
  int64_t count = 0;      // rows · features
  float grad_scale = 0;
  float loss_scale = 1;
  Loss loss = Loss::bce;
  Activation out_act = Activation::sigmoid;  // loss_accepts_output(loss, out_act) must hold
  float* partials = nullptr;
  float* loss_out = nullptr;   // device memory
  // When set, the loss goes to loss_out[*loss_index] instead of loss_out[0], so a captured graph
  // can record one loss per batch without host involvement (e.g. &OptimizerStepState::batch).
  const int64_t* loss_index = nullptr;
};
int64_t loss_partials_size(int64_t count);
void loss_forward_backward(const LossParams& p, cudaStream_t stream);

// ---- activation_backward.cu -------------------------------------------------------------------
// dz = dy ⊙ act'(z), with act'(z) computed from the activation output y, or from the stored
// pre-activation where needs_preactivation(act, slope) (kernels/common/activation.cuh). In place allowed.
struct ActBackwardParams {
  const float* dy = nullptr;
  const float* y = nullptr;
  const float* pre = nullptr;  // read only where needs_preactivation(act, slope)
  float* dz = nullptr;
  int64_t count = 0;
  Activation act = Activation::relu;
  float slope = 0.01f;
};
void activation_backward(const ActBackwardParams& p, cudaStream_t stream);

// ---- bias_grad.cu -----------------------------------------------------------------------------
// db[N] = sum over rows of dz[M, N], in a fixed order (no float atomics), so it is bit-reproducible.
// `workspace` needs bias_grad_workspace_size(m, n) floats (may be 0).
struct BiasGradParams {
  const float* dz = nullptr;
  float* db = nullptr;
  int64_t m = 0;
  int n = 0;
  float* workspace = nullptr;
};
int64_t bias_grad_workspace_size(int64_t m, int n);
void bias_grad(const BiasGradParams& p, cudaStream_t stream);

// ---- optimizer.cu -----------------------------------------------------------------------------
// Device-resident optimizer step state, so a captured CUDA graph replays correctly: optimizer_begin
// (one thread) increments `step` and computes the scalars that depend on it, in double precision as
// PyTorch does on the host; the update kernel reads them.
struct OptimizerStepState {
  int64_t step = 0;          // t, after this step's increment
  // Batch index within the epoch. The gather and loss kernels of a step read it; optimizer_begin,
  // which runs after them in stream order, advances it. The host resets it at each epoch start.
  int64_t batch = 0;
  double step_size = 0;      // Adam: lr / (1 - beta1^t); Keras epsilon-hat: lr · sqrt(1-beta2^t) / (1-beta1^t)
  double bias_correction2_sqrt = 1;  // sqrt(1 - beta2^t)
  // Multiplies every gradient element in the update kernels: 1, or grad_clip_scale's clip factor for
  // this step (written before the update, so a captured graph replays it).
  float grad_scale = 1;
};

struct AdamParams {
  float* params = nullptr;
  const float* grads = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  int64_t count = 0;  // floats in each buffer; the launcher uses float4 when all four are 16-byte aligned
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled_weight_decay = false;  // AdamW
  bool epsilon_hat = false;             // Keras
  OptimizerStepState* state = nullptr;  // device memory
};
void optimizer_begin(const AdamParams& p, cudaStream_t stream);  // advances *p.state
void adam_update(const AdamParams& p, cudaStream_t stream);

// SGD with momentum (torch.optim.SGD, dampening 0, no nesterov): b = mu·b + g (b = g at t = 1);
// p -= lr · b. Weight decay adds wd·p to g.
struct SgdParams {
  float* params = nullptr;
  const float* grads = nullptr;
  float* momentum = nullptr;
  int64_t count = 0;
  float lr = 1e-2f;
  float momentum_factor = 0.0f;
  float weight_decay = 0.0f;
  const OptimizerStepState* state = nullptr;  // read: step == 1 initialises the momentum buffer
};
void sgd_update(const SgdParams& p, cudaStream_t stream);

// ---- grad_clip.cu -------------------------------------------------------------------------------
// Global-norm clipping: state->grad_scale = min(1, max_norm / (‖grads‖₂ + 1e-6)) (a NaN norm gives 1),
// the norm summed deterministically in double. The update kernels then apply the scale.
// `partials` needs grad_clip_partials_size(count) doubles.
struct GradClipParams {
  const float* grads = nullptr;
  int64_t count = 0;
  float max_norm = 0;
  double* partials = nullptr;
  OptimizerStepState* state = nullptr;  // device memory
};
int64_t grad_clip_partials_size(int64_t count);
void grad_clip_scale(const GradClipParams& p, cudaStream_t stream);

// ---- gather.cu --------------------------------------------------------------------------------
// out[r, :] = float(data[row(r), :]) · (u8 ? 1/255 : 1) for r < rows, where
// row(r) = permute_index(batch · batch_size + r, data_rows, shuffle_key) if shuffle, else
// batch · batch_size + r. `batch` is read from device memory (*batch_index) so a captured graph
// can replay the gather for successive batches.
struct GatherParams {
  const void* data = nullptr;
  bool data_u8 = false;
  int64_t data_rows = 0;
  int cols = 0;
  float* out = nullptr;
  int64_t rows = 0;  // rows in this batch (<= batch_size)
  int64_t batch_size = 0;
  const int64_t* batch_index = nullptr;  // device memory
  bool shuffle = false;
  uint64_t shuffle_key = 0;
};
void gather_rows(const GatherParams& p, cudaStream_t stream);

}  // namespace cuae::kernels
