// The autoencoder's maths on the CPU, templated on the scalar: CpuNetwork<float> is the production
// backend, CpuNetwork<double> lets tests check the analytic gradient against central finite
// differences. Both are instantiated in cpu_network.cpp (the header carries no OpenMP pragmas, so
// tests need not compile with OpenMP).
//
// Per dense layer l (weights [out, in] row-major, as nn.Linear): Z = A·Wᵀ by one GEMM, then one
// fused pass for bias + activation. The last layer is fused with the loss instead. Backward:
// dW = dZᵀ·A and dA = dZ·W by GEMM, db by column sums in a fixed order, and dZ_prev = dA ⊙ act'
// fused. No allocation once the workspaces fit the largest batch seen.
#pragma once

#include <cstdint>
#include <vector>

#include "cuae/layout.h"
#include "cuae/model_config.h"

namespace cuae::cpu {

template <typename T>
class CpuNetwork {
 public:
  // threads: OpenMP threads for the elementwise passes (the caller sets OpenBLAS's count).
  CpuNetwork(const ModelConfig& config, const ParameterLayout& layout, int threads);

  const ParameterLayout& layout() const { return layout_; }
  int64_t input_dim() const { return layout_.input_dim(); }
  int layer_count() const { return static_cast<int>(layout_.layers.size()); }

  // Flat parameters and gradient in layout order; padding floats are zero and stay zero.
  std::vector<T>& parameters() { return params_; }
  const std::vector<T>& parameters() const { return params_; }
  const std::vector<T>& gradient() const { return grad_; }
  std::vector<T>& gradient() { return grad_; }  // e.g. for clipping before the optimizer step

  // Forward, loss and backward on rows x input_dim (the targets are the inputs); fills gradient()
  // with the gradient of the MEAN loss and returns the loss SUMMED over all elements.
  double forward_backward(const T* x, int64_t rows);
  // forward_backward's three phases, public so `cuae bench` can time each (src/profile/profile.h). Called in
  // this order on the same x they are exactly forward_backward: logits, then loss and dZ, then the
  // gradient.
  void train_forward(const T* x, int64_t rows);
  double train_loss(const T* x, int64_t rows);
  void train_backward(const T* x, int64_t rows);
  // The summed per-element loss of rows, without touching the gradient. The workspaces grow to the
  // largest call, so callers bound `rows` (the Model passes at most kMaxRowsPerCall).
  double loss_sum(const T* x, int64_t rows);
  // Layers [first, last) on rows of layers[first].in features; out receives rows x layers[last-1].out
  // after that layer's activation (the output layer's too, e.g. sigmoid).
  void forward(const T* in, int64_t rows, int first, int last, T* out);

 private:
  void reserve_rows(int64_t rows);
  // Layers [first, last) from `in`; layer l's output goes to out_of(l) except the last, which goes to
  // `last_out`. The last layer gets bias + activation unless `logits_only` (then only the GEMM).
  void run_layers(const T* in, int64_t rows, int first, int last, T* last_out, bool logits_only, bool keep_pre);
  double output_loss(const T* x, int64_t rows, T* dz);
  void column_sums(const T* dz, int64_t rows, int64_t cols, T* out) const;
  const T* weights(int l) const { return params_.data() + layout_.layers[static_cast<size_t>(l)].weight_offset; }
  const T* bias(int l) const { return params_.data() + layout_.layers[static_cast<size_t>(l)].bias_offset; }

  ParameterLayout layout_;
  Loss loss_;
  T slope_;
  int threads_;
  std::vector<T> params_;
  std::vector<T> grad_;
  int64_t capacity_rows_ = 0;
  std::vector<std::vector<T>> act_;  // act_[l]: layer l's output (the last layer: logits, then dZ)
  std::vector<std::vector<T>> pre_;  // pre_[l]: pre-activation, only where act' needs it
  std::vector<T> scratch_;           // dA of the layer being back-propagated
  std::vector<double> row_loss_;     // per-row loss, summed in row order for determinism
};

extern template class CpuNetwork<float>;
extern template class CpuNetwork<double>;

}  // namespace cuae::cpu
