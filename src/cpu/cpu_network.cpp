// CpuNetwork<T>: see cpu_network.h. OpenMP parallelises the elementwise passes over rows (or over
// column blocks for bias gradients), always with a static partition and per-row or per-column
// results combined in a fixed order, so the output does not depend on the thread count.
//
// A pass runs on one thread below a size threshold (as PyTorch's grain size does): its parallel
// region would cost more in fork and barrier than it saves, and far more on a loaded machine, where
// a barrier may wait a whole time slice for a descheduled partner. On the 784→64→784 step at batch
// 256 only the loss pass (one exp and one log1p per element) stays parallel; OpenBLAS's GEMMs
// decide for themselves.
#include "cpu/cpu_network.h"

#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <string>

#include "cpu/elementwise.h"
#include "cpu/gemm.h"
#include "kernels/common/noise.cuh"
#include "kernels/common/random.cuh"

namespace cuae::cpu {

namespace {

// The loss rows dominate the elementwise work (one exp and one log1p per output element): float
// gets vector-width clones, double (tests only) the plain template.
CUAE_VECTOR_CLONES float loss_row(Loss loss, const float* z, const float* b, const float* x, float* dz, float scale,
                                  int64_t n, Activation out_act) {
  return loss == Loss::bce ? bce_row(z, b, x, dz, scale, n) : mse_row(z, b, x, dz, scale, n, out_act);
}
double loss_row(Loss loss, const double* z, const double* b, const double* x, double* dz, double scale, int64_t n,
                Activation out_act) {
  return loss == Loss::bce ? bce_row(z, b, x, dz, scale, n) : mse_row(z, b, x, dz, scale, n, out_act);
}

// Elements below which a pass runs on one thread. Cheap passes (bias + activation, activation
// backward, column sums: a few flops per element, memory-bound) break even with a fork/join near a
// quarter million elements on the 2-core development VM; the loss pass costs ~10x more per element.
constexpr int64_t kParallelMinCheap = int64_t{1} << 18;
constexpr int64_t kParallelMinLoss = int64_t{1} << 15;

// The thread count for a pass over `elements` elements: all of them, or 1 below `threshold`.
int pass_threads(int threads, int64_t elements, int64_t threshold) { return elements >= threshold ? threads : 1; }
}  // namespace

template <typename T>
CpuNetwork<T>::CpuNetwork(const ModelConfig& config, const ParameterLayout& layout, int threads)
    : layout_(layout),
      loss_(config.loss),
      slope_(static_cast<T>(config.leaky_relu_slope)),
      seed_(config.seed),
      regularization_(config.regularization),
      dropout_(layout.layers.size(), T(0)),
      shared_(layout.layers.size(), false),
      threads_(std::max(threads, 1)),
      params_(static_cast<size_t>(layout.total_floats), T(0)),
      grad_(static_cast<size_t>(layout.total_floats), T(0)),
      act_(layout.layers.size()),
      pre_(layout.layers.size()),
      mask_(layout.layers.size()),
      dropped_(layout.layers.size()) {
  // ModelConfig::validate has checked both (the Model and make_ready_backend call it).
  assert(!layout_.layers.empty());
  assert(loss_accepts_output(loss_, layout_.layers.back().activation));
  const std::vector<float>& rates = config.regularization.dropout;
  for (size_t l = 0; l + 1 < layout_.layers.size(); ++l) {
    if (!rates.empty()) dropout_[l] = static_cast<T>(rates.size() == 1 ? rates[0] : rates[l]);
  }
  for (const LayerLayout& layer : layout_.layers)
    if (layer.tied()) shared_[static_cast<size_t>(layer.tied_to)] = true;
}

template <typename T>
void CpuNetwork<T>::reserve_rows(int64_t rows) {
  if (rows <= capacity_rows_) return;
  int64_t widest_input = 0;
  for (size_t l = 0; l < layout_.layers.size(); ++l) {
    const LayerLayout& layer = layout_.layers[l];
    const auto size = static_cast<size_t>(rows * layer.out);
    act_[l].resize(size);
    if (l + 1 < layout_.layers.size() && needs_preactivation(layer.activation, static_cast<float>(slope_)))
      pre_[l].resize(size);
    if (dropout_[l] > 0) {
      mask_[l].resize(size);
      dropped_[l].resize(size);
    }
    if (l > 0) widest_input = std::max(widest_input, layer.in);
  }
  if (regularization_.noise.kind != Noise::Kind::none) corrupted_.resize(static_cast<size_t>(rows * input_dim()));
  scratch_.resize(static_cast<size_t>(rows * widest_input));
  row_loss_.resize(static_cast<size_t>(rows));
  capacity_rows_ = rows;
}

template <typename T>
const T* CpuNetwork<T>::input_of_next(int l, bool training) const {
  const auto i = static_cast<size_t>(l);
  return training && dropout_[i] > 0 ? dropped_[i].data() : act_[i].data();
}

// Element e = r·cols + c of the batch of step `step`, from the input-noise stream of that step.
template <typename T>
void CpuNetwork<T>::corrupt_input(const T* x, int64_t rows, int64_t step) {
  const Noise noise = regularization_.noise;
  const int64_t count = rows * input_dim();
  const uint64_t stream = rng::draw_stream(rng::DrawPurpose::input_noise, step, 0);
  const bool clip = layout_.layers.back().activation == Activation::sigmoid;  // the data's range is [0, 1]
  T* out = corrupted_.data();
  const int team = pass_threads(threads_, count * 8, kParallelMinCheap);  // ~8 cheap passes of Philox work
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
  for (int64_t e = 0; e < count; ++e) {
    out[e] = noise::corrupted(noise.kind, noise.amount, seed_, stream, static_cast<uint64_t>(e), x[e], clip);
  }
  input_ = out;
}

// Inverted dropout, as torch.nn.functional.dropout: kept elements are scaled by 1/(1 − rate).
template <typename T>
void CpuNetwork<T>::apply_dropout(int l, int64_t rows, int64_t step) {
  const auto i = static_cast<size_t>(l);
  const T rate = dropout_[i];
  const auto scale = static_cast<T>(1.0f / (1.0f - static_cast<float>(rate)));
  const int64_t count = rows * layout_.layers[i].out;
  const uint64_t stream = rng::draw_stream(rng::DrawPurpose::dropout, step, l);
  T* mask = mask_[i].data();
  T* dropped = dropped_[i].data();
  const T* y = act_[i].data();
  const int team = pass_threads(threads_, count * 8, kParallelMinCheap);
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
  for (int64_t e = 0; e < count; ++e) {
    mask[e] = rng::uniform_at(seed_, stream, static_cast<uint64_t>(e)) < static_cast<float>(rate) ? T(0) : scale;
    dropped[e] = y[e] * mask[e];
  }
}

template <typename T>
void CpuNetwork<T>::run_layers(const T* in, int64_t rows, int first, int last, T* last_out, bool logits_only,
                               int64_t step) {
  const bool training = step > 0;
  const T* a = in;
  for (int l = first; l < last; ++l) {
    const LayerLayout& layer = layout_.layers[static_cast<size_t>(l)];
    const bool is_last = l == last - 1;
    T* y = is_last ? last_out : act_[static_cast<size_t>(l)].data();
    if (layer.tied()) {  // the mirror's [in, out] weight: Z = A·W
      gemm(Trans::no, Trans::no, rows, layer.out, layer.in, T(1), a, layer.in, weights(l), layer.out, T(0), y,
           layer.out);
    } else {
      gemm(Trans::no, Trans::yes, rows, layer.out, layer.in, T(1), a, layer.in, weights(l), layer.in, T(0), y,
           layer.out);
    }
    if (!(is_last && logits_only)) {
      T* pre = training && !pre_[static_cast<size_t>(l)].empty() ? pre_[static_cast<size_t>(l)].data() : nullptr;
      const T* b = bias(l);
      const int64_t n = layer.out;
      const int team = pass_threads(threads_, rows * n, kParallelMinCheap);
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
      for (int64_t r = 0; r < rows; ++r) bias_act_row(y + r * n, pre ? pre + r * n : nullptr, b, n, layer.activation, slope_);
    }
    if (!is_last && training && dropout_[static_cast<size_t>(l)] > 0) apply_dropout(l, rows, step);
    a = is_last ? y : input_of_next(l, training);
  }
}

template <typename T>
double CpuNetwork<T>::output_loss(const T* x, int64_t rows, T* dz) {
  const LayerLayout& layer = layout_.layers.back();
  const int64_t n = layer.out;
  const T* z = act_.back().data();
  const T* b = bias(layer_count() - 1);
  const T scale = T(1) / static_cast<T>(static_cast<double>(rows) * static_cast<double>(n));
  double* row_loss = row_loss_.data();
  const int team = pass_threads(threads_, rows * n, kParallelMinLoss);
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * n;
    row_loss[r] = loss_row(loss_, z + o, b, x + o, dz ? dz + o : nullptr, scale, n, layer.activation);
  }
  double sum = 0;
  for (int64_t r = 0; r < rows; ++r) sum += row_loss[r];
  return sum;
}
template <typename T>
void CpuNetwork<T>::column_sums(const T* dz, int64_t rows, int64_t cols, T* out) const {
  // Each thread owns a contiguous range of 16-column blocks and adds the rows in order, so every
  // column's sum has the same rounding whatever the thread count.
  constexpr int64_t kBlock = 16;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  const int team = pass_threads(threads_, rows * cols, kParallelMinCheap);
#pragma omp parallel num_threads(team) if (team > 1)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t c0 = std::min(cols, blocks * t / nt * kBlock);
    const int64_t c1 = std::min(cols, blocks * (t + 1) / nt * kBlock);
    if (c1 > c0) {
      T* acc = out + c0;
      std::fill(acc, acc + (c1 - c0), T(0));
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = dz + r * cols + c0;
#pragma omp simd
        for (int64_t j = 0; j < c1 - c0; ++j) acc[j] += row[j];
      }
    }
  }
}

template <typename T>
LossTerms CpuNetwork<T>::forward_backward(const T* x, int64_t rows, int64_t step) {
  train_forward(x, rows, step);
  const LossTerms terms = train_loss(x, rows);
  train_backward(rows);
  return terms;
}

template <typename T>
void CpuNetwork<T>::train_forward(const T* x, int64_t rows, int64_t step) {
  reserve_rows(rows);
  input_ = x;
  if (regularization_.noise.kind != Noise::Kind::none) corrupt_input(x, rows, step);
  run_layers(input_, rows, 0, layer_count(), act_.back().data(), /*logits_only=*/true, step);
}

// The reconstruction loss and dZ (written over the logits), then the penalties' values; their
// gradients join in train_backward.
template <typename T>
LossTerms CpuNetwork<T>::train_loss(const T* x, int64_t rows) {
  LossTerms terms;
  const double elements = static_cast<double>(rows) * static_cast<double>(input_dim());
  terms.reconstruction = output_loss(x, rows, act_.back().data()) / elements;
  code_penalties(rows, nullptr, &terms);
  terms.l2 = l2_penalty(/*add_gradient=*/false);
  return terms;
}

// L1 activity (Keras l1(λ)): λ·Σ|a| / rows, gradient λ/rows·sign(a) (0 at 0, as torch.abs).
// KL sparsity: ρ̂_j = Σ_i a_ij / rows; β·Σ_j [ρ·log(ρ/ρ̂_j) + (1−ρ)·log((1−ρ)/(1−ρ̂_j))], gradient
// β/rows·((1−ρ)/(1−ρ̂_j) − ρ/ρ̂_j). Both on the code's activation, before any dropout.
template <typename T>
void CpuNetwork<T>::code_penalties(int64_t rows, T* da, LossTerms* terms) const {
  const Regularization& r = regularization_;
  if (!(r.l1_activity > 0) && !(r.kl_beta > 0)) return;
  const int code = layout_.encoder_layers - 1;
  const int64_t n = layout_.layers[static_cast<size_t>(code)].out;
  const T* a = act_[static_cast<size_t>(code)].data();
  const double inv_rows = 1.0 / static_cast<double>(rows);
  if (r.l1_activity > 0) {
    if (terms) {
      double sum = 0;
      for (int64_t e = 0; e < rows * n; ++e) sum += std::abs(static_cast<double>(a[e]));
      terms->l1_activity = static_cast<double>(r.l1_activity) * sum * inv_rows;
    }
    if (da) {
      const auto g = static_cast<T>(static_cast<double>(r.l1_activity) * inv_rows);
      for (int64_t e = 0; e < rows * n; ++e) da[e] += a[e] > T(0) ? g : a[e] < T(0) ? -g : T(0);
    }
  }
  if (r.kl_beta > 0) {
    std::vector<double> mean(static_cast<size_t>(n), 0.0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < n; ++j) mean[static_cast<size_t>(j)] += static_cast<double>(a[i * n + j]);
    const double rho = r.kl_rho, beta = r.kl_beta;
    double kl = 0;
    std::vector<T> grad(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      const double p = mean[static_cast<size_t>(j)] * inv_rows;
      kl += rho * std::log(rho / p) + (1 - rho) * std::log((1 - rho) / (1 - p));
      grad[static_cast<size_t>(j)] = static_cast<T>(beta * inv_rows * ((1 - rho) / (1 - p) - rho / p));
    }
    if (terms) terms->kl_sparsity = beta * kl;
    if (da) {
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < n; ++j) da[i * n + j] += grad[static_cast<size_t>(j)];
    }
  }
}

// Keras l2(λ) on every stored weight matrix (a tied weight once): λ·Σ W²; gradient 2λW.
template <typename T>
double CpuNetwork<T>::l2_penalty(bool add_gradient) {
  const double lambda = regularization_.l2;
  if (!(lambda > 0)) return 0;
  double sum = 0;
  for (const LayerLayout& layer : layout_.layers) {
    if (layer.tied()) continue;
    const T* w = params_.data() + layer.weight_offset;
    T* g = grad_.data() + layer.weight_offset;
    const auto two_lambda = static_cast<T>(2 * lambda);
    for (int64_t i = 0; i < layer.in * layer.out; ++i) {
      sum += static_cast<double>(w[i]) * static_cast<double>(w[i]);
      if (add_gradient) g[i] += two_lambda * w[i];
    }
  }
  return lambda * sum;
}

template <typename T>
void CpuNetwork<T>::train_backward(int64_t rows) {
  const int last = layer_count();
  T* dz = act_.back().data();
  T* grad = grad_.data();
  for (int l = last - 1; l >= 0; --l) {
    const LayerLayout& layer = layout_.layers[static_cast<size_t>(l)];
    const T* a = l == 0 ? input_ : input_of_next(l - 1, /*training=*/true);
    if (layer.tied()) {
      // dW_stored = Aᵀ·dZ ([in, out]); written first (the decoder runs first), its mirror adds its own.
      gemm(Trans::yes, Trans::no, layer.in, layer.out, rows, T(1), a, layer.in, dz, layer.out, T(0),
           grad + layer.weight_offset, layer.out);
    } else {
      const T beta = shared_[static_cast<size_t>(l)] ? T(1) : T(0);
      gemm(Trans::yes, Trans::no, layer.out, layer.in, rows, T(1), dz, layer.out, a, layer.in, beta,
           grad + layer.weight_offset, layer.in);
    }
    column_sums(dz, rows, layer.out, grad + layer.bias_offset);
    if (l == 0) break;  // nobody needs dX
    T* da = scratch_.data();
    if (layer.tied()) {
      gemm(Trans::no, Trans::yes, rows, layer.in, layer.out, T(1), dz, layer.out, weights(l), layer.out, T(0), da,
           layer.in);
    } else {
      gemm(Trans::no, Trans::no, rows, layer.in, layer.out, T(1), dz, layer.out, weights(l), layer.in, T(0), da,
           layer.in);
    }
    const size_t below = static_cast<size_t>(l) - 1;
    const int64_t n = layer.in;
    if (dropout_[below] > 0) {
      const T* mask = mask_[below].data();
      for (int64_t e = 0; e < rows * n; ++e) da[e] *= mask[e];
    }
    if (static_cast<int>(below) == layout_.encoder_layers - 1) code_penalties(rows, da, nullptr);
    // dZ of the layer below, written over its output (consumed just above by the dW GEMM).
    T* y = act_[below].data();
    const T* pre = pre_[below].empty() ? nullptr : pre_[below].data();
    const Activation act = layout_.layers[below].activation;
    const int team = pass_threads(threads_, rows * n, kParallelMinCheap);
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int64_t r = 0; r < rows; ++r)
      act_backward_row(da + r * n, y + r * n, y + r * n, pre ? pre + r * n : nullptr, n, act, slope_);
    dz = y;
  }
  l2_penalty(/*add_gradient=*/true);
}

template <typename T>
double CpuNetwork<T>::loss_sum(const T* x, int64_t rows) {
  reserve_rows(rows);
  run_layers(x, rows, 0, layer_count(), act_.back().data(), /*logits_only=*/true, /*step=*/0);
  return output_loss(x, rows, nullptr);
}

template <typename T>
void CpuNetwork<T>::forward(const T* in, int64_t rows, int first, int last, T* out) {
  assert(0 <= first && first < last && last <= layer_count());
  reserve_rows(rows);
  run_layers(in, rows, first, last, out, /*logits_only=*/false, /*step=*/0);
}

template class CpuNetwork<float>;
template class CpuNetwork<double>;

}  // namespace cuae::cpu
