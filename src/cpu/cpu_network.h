// The autoencoder's maths on the CPU, templated on the scalar: CpuNetwork<float> is the production
// backend, CpuNetwork<double> lets tests check the analytic gradient against central finite
// differences. Both are instantiated in cpu_network.cpp (the header carries no OpenMP pragmas, so
// tests need not compile with OpenMP).
//
// Per dense layer l (weights [out, in] row-major, as nn.Linear; a tied decoder layer reads its mirror
// encoder layer's [in, out] weight): Z = A·Wᵀ by one GEMM, then one fused pass for bias + activation,
// then (training only) the layer's dropout mask. The last layer is fused with the loss instead.
// Backward: dW = dZᵀ·A and dA = dZ·W by GEMM (a tied weight collects both of its uses), db by column
// sums in a fixed order, the dropout mask, the code penalties' gradient, dZ_prev = dA ⊙ act' fused,
// and finally the L2 penalty's 2λW. No allocation once the workspaces fit the largest batch seen.
//
// Training draws (input corruption, dropout masks) are keyed by (seed, step, element), step being the
// optimizer step the batch is for (kernels/common/random.cuh), so a step is a pure function of the
// parameters, the batch and its step number.
#pragma once

#include <cstdint>
#include <vector>

#include "cuae/fit.h"
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

  // Forward, loss and backward on rows x input_dim (the targets are the clean inputs) for optimizer
  // step `step`; fills gradient() with the gradient of the batch's total loss and returns its terms,
  // each a mean (LossTerms::reconstruction over rows × features, the penalties as the loss adds them).
  LossTerms forward_backward(const T* x, int64_t rows, int64_t step);
  // forward_backward's three phases, public so `cuae bench` can time each (src/profile/profile.h).
  // Called in this order on the same x they are exactly forward_backward.
  void train_forward(const T* x, int64_t rows, int64_t step);
  LossTerms train_loss(const T* x, int64_t rows);
  void train_backward(int64_t rows);
  // The summed per-element reconstruction loss of rows, without touching the gradient (no noise, no
  // dropout: inference). The workspaces grow to the largest call, so callers bound `rows` (the
  // Model passes at most kMaxRowsPerCall).
  double loss_sum(const T* x, int64_t rows);
  // Layers [first, last) on rows of layers[first].in features; out receives rows x layers[last-1].out
  // after that layer's activation (the output layer's too, e.g. sigmoid). Inference: no dropout.
  void forward(const T* in, int64_t rows, int first, int last, T* out);

 private:
  void reserve_rows(int64_t rows);
  // Layers [first, last) from `in`; layer l's output goes to act_[l] except the last, which goes to
  // `last_out`. The last layer gets bias + activation unless `logits_only` (then only the GEMM).
  // `step` > 0: training (pre-activations kept, dropout applied with that step's masks).
  void run_layers(const T* in, int64_t rows, int first, int last, T* last_out, bool logits_only, int64_t step);
  void corrupt_input(const T* x, int64_t rows, int64_t step);
  void apply_dropout(int l, int64_t rows, int64_t step);
  // What layer l + 1 reads: layer l's output after its dropout mask (training), else its output.
  const T* input_of_next(int l, bool training) const;
  // The code penalties' values (means) and their gradient added to `da` (rows x code width).
  void code_penalties(int64_t rows, T* da, LossTerms* terms) const;
  double l2_penalty(bool add_gradient);
  double output_loss(const T* x, int64_t rows, T* dz);
  void column_sums(const T* dz, int64_t rows, int64_t cols, T* out) const;
  const T* weights(int l) const { return params_.data() + layout_.layers[static_cast<size_t>(l)].weight_offset; }
  const T* bias(int l) const { return params_.data() + layout_.layers[static_cast<size_t>(l)].bias_offset; }

  ParameterLayout layout_;
  Loss loss_;
  T slope_;
  uint64_t seed_;
  Regularization regularization_;
  std::vector<T> dropout_;      // per layer: the rate applied to its output (0 for the output layer)
  std::vector<bool> shared_;    // per layer: its weight also serves a tied decoder layer
  int threads_;
  std::vector<T> params_;
  std::vector<T> grad_;
  int64_t capacity_rows_ = 0;
  std::vector<std::vector<T>> act_;      // act_[l]: layer l's output (the last layer: logits, then dZ)
  std::vector<std::vector<T>> pre_;      // pre_[l]: pre-activation, only where act' needs it
  std::vector<std::vector<T>> mask_;     // mask_[l]: 0 or 1/(1-rate), where layer l has dropout
  std::vector<std::vector<T>> dropped_;  // dropped_[l]: act_[l] ⊙ mask_[l], layer l + 1's input
  std::vector<T> corrupted_;             // the noisy input of a denoising step
  const T* input_ = nullptr;             // layer 0's input in the current training step
  std::vector<T> scratch_;               // dA of the layer being back-propagated
  std::vector<double> row_loss_;         // per-row loss, summed in row order for determinism
};

extern template class CpuNetwork<float>;
extern template class CpuNetwork<double>;

}  // namespace cuae::cpu
