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
#include <string>

#include "cpu/elementwise.h"
#include "cpu/gemm.h"

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
      threads_(std::max(threads, 1)),
      params_(static_cast<size_t>(layout.total_floats), T(0)),
      grad_(static_cast<size_t>(layout.total_floats), T(0)),
      act_(layout.layers.size()),
      pre_(layout.layers.size()) {
  // ModelConfig::validate has checked both (the Model and make_ready_backend call it).
  assert(!layout_.layers.empty());
  assert(loss_accepts_output(loss_, layout_.layers.back().activation));
}

template <typename T>
void CpuNetwork<T>::reserve_rows(int64_t rows) {
  if (rows <= capacity_rows_) return;
  int64_t widest_input = 0;
  for (size_t l = 0; l < layout_.layers.size(); ++l) {
    const LayerLayout& layer = layout_.layers[l];
    act_[l].resize(static_cast<size_t>(rows * layer.out));
    if (l + 1 < layout_.layers.size() && needs_preactivation(layer.activation, static_cast<float>(slope_)))
      pre_[l].resize(static_cast<size_t>(rows * layer.out));
    if (l > 0) widest_input = std::max(widest_input, layer.in);
  }
  scratch_.resize(static_cast<size_t>(rows * widest_input));
  row_loss_.resize(static_cast<size_t>(rows));
  capacity_rows_ = rows;
}

template <typename T>
void CpuNetwork<T>::run_layers(const T* in, int64_t rows, int first, int last, T* last_out, bool logits_only,
                               bool keep_pre) {
  const T* a = in;
  for (int l = first; l < last; ++l) {
    const LayerLayout& layer = layout_.layers[static_cast<size_t>(l)];
    const bool is_last = l == last - 1;
    T* y = is_last ? last_out : act_[static_cast<size_t>(l)].data();
    gemm(Trans::no, Trans::yes, rows, layer.out, layer.in, T(1), a, layer.in, weights(l), layer.in, T(0), y, layer.out);
    if (!(is_last && logits_only)) {
      T* pre = keep_pre && !pre_[static_cast<size_t>(l)].empty() ? pre_[static_cast<size_t>(l)].data() : nullptr;
      const T* b = bias(l);
      const int64_t n = layer.out;
      const int team = pass_threads(threads_, rows * n, kParallelMinCheap);
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
      for (int64_t r = 0; r < rows; ++r) bias_act_row(y + r * n, pre ? pre + r * n : nullptr, b, n, layer.activation, slope_);
    }
    a = y;
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
double CpuNetwork<T>::forward_backward(const T* x, int64_t rows) {
  train_forward(x, rows);
  const double loss = train_loss(x, rows);
  train_backward(x, rows);
  return loss;
}

template <typename T>
void CpuNetwork<T>::train_forward(const T* x, int64_t rows) {
  reserve_rows(rows);
  run_layers(x, rows, 0, layer_count(), act_.back().data(), /*logits_only=*/true, /*keep_pre=*/true);
}

template <typename T>
double CpuNetwork<T>::train_loss(const T* x, int64_t rows) {
  return output_loss(x, rows, act_.back().data());  // dZ overwrites the logits in place
}

template <typename T>
void CpuNetwork<T>::train_backward(const T* x, int64_t rows) {
  const int last = layer_count();
  T* dz = act_.back().data();
  T* grad = grad_.data();
  for (int l = last - 1; l >= 0; --l) {
    const LayerLayout& layer = layout_.layers[static_cast<size_t>(l)];
    const T* a = l == 0 ? x : act_[static_cast<size_t>(l) - 1].data();
    gemm(Trans::yes, Trans::no, layer.out, layer.in, rows, T(1), dz, layer.out, a, layer.in, T(0),
         grad + layer.weight_offset, layer.in);
    column_sums(dz, rows, layer.out, grad + layer.bias_offset);
    if (l == 0) break;  // nobody needs dX
    T* da = scratch_.data();
    gemm(Trans::no, Trans::no, rows, layer.in, layer.out, T(1), dz, layer.out, weights(l), layer.in, T(0), da, layer.in);
    // dZ of the layer below, written over its output (consumed just above by the dW GEMM).
    const size_t below = static_cast<size_t>(l) - 1;
    T* y = act_[below].data();
    const T* pre = pre_[below].empty() ? nullptr : pre_[below].data();
    const Activation act = layout_.layers[below].activation;
    const int64_t n = layer.in;
    const int team = pass_threads(threads_, rows * n, kParallelMinCheap);
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int64_t r = 0; r < rows; ++r)
      act_backward_row(da + r * n, y + r * n, y + r * n, pre ? pre + r * n : nullptr, n, act, slope_);
    dz = y;
  }
}

template <typename T>
double CpuNetwork<T>::loss_sum(const T* x, int64_t rows) {
  reserve_rows(rows);
  run_layers(x, rows, 0, layer_count(), act_.back().data(), /*logits_only=*/true, /*keep_pre=*/false);
  return output_loss(x, rows, nullptr);
}

template <typename T>
void CpuNetwork<T>::forward(const T* in, int64_t rows, int first, int last, T* out) {
  assert(0 <= first && first < last && last <= layer_count());
  reserve_rows(rows);
  run_layers(in, rows, first, last, out, /*logits_only=*/false, /*keep_pre=*/false);
}

template class CpuNetwork<float>;
template class CpuNetwork<double>;

}  // namespace cuae::cpu
