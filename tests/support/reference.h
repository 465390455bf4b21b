// Plain-loop double-precision references for every op, independent of OpenBLAS and of the kernels.
// The CPU backend and the CUDA kernels (real or emulated) are both checked against these.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cuae/activation.h"
#include "kernels/common/activation.cuh"

namespace cuae::ref {

// The activation formulas are shared with the kernels and the CPU backend
// (kernels/common/activation.cuh), evaluated here in double.
inline double act(Activation a, double z, double slope = 0.01) { return cuae::act::forward<double>(a, z, slope); }
inline double act_derivative(Activation a, double z, double slope = 0.01) {
  return cuae::act::derivative<double>(a, z, slope);
}
// "relu", "sigmoid", ... as a std::string, for test names and traces.
inline std::string act_name(Activation a) { return std::string(activation_name(a)); }

// y[m, n] = act(x[m, k] · w[n, k]^T + b[n]); pre receives the pre-activation when non-null.
inline void dense_forward(const float* x, const float* w, const float* b, int64_t m, int64_t n, int64_t k, Activation a,
                          double slope, std::vector<double>& y, std::vector<double>* pre = nullptr) {
  y.assign(static_cast<size_t>(m * n), 0);
  if (pre) pre->assign(static_cast<size_t>(m * n), 0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double z = b ? b[j] : 0;
      for (int64_t p = 0; p < k; ++p) z += static_cast<double>(x[i * k + p]) * w[j * k + p];
      y[i * n + j] = act(a, z, slope);
      if (pre) (*pre)[i * n + j] = z;
    }
}

// Mean BCE of sigmoid(z) against x, from the logits (stable form; PyTorch's BCELoss(sigmoid(z), x)
// wherever its -100 log clamp is not hit).
inline double bce_element(double z, double x) { return std::max(z, 0.0) - z * x + std::log1p(std::exp(-std::abs(z))); }

// Adam exactly as torch.optim.Adam(foreach=False) with the options cuae offers.
struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false, epsilon_hat = false;
};
inline void adam_step(std::span<double> p, std::span<const double> g_in, std::span<double> m, std::span<double> v,
                      int64_t t, const AdamOptions& o) {
  const double bc1 = 1 - std::pow(o.beta1, static_cast<double>(t));
  const double bc2 = 1 - std::pow(o.beta2, static_cast<double>(t));
  for (size_t i = 0; i < p.size(); ++i) {
    double g = g_in[i];
    if (o.weight_decay != 0 && !o.decoupled) g += o.weight_decay * p[i];
    if (o.decoupled) p[i] *= 1 - o.lr * o.weight_decay;
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
    if (o.epsilon_hat) {
      p[i] -= o.lr * std::sqrt(bc2) / bc1 * m[i] / (std::sqrt(v[i]) + o.eps);
    } else {
      p[i] -= o.lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + o.eps);
    }
  }
}

// ‖out − ref‖ / ‖ref‖ (absolute norm when ‖ref‖ is 0).
template <typename A, typename B>
double relative_error(const A& out, const B& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(out[i]) - static_cast<double>(ref[i]);
    num += d * d;
    den += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1, float hi = 1) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(n);
  for (auto& x : out) x = dist(gen);
  return out;
}

}  // namespace cuae::ref
