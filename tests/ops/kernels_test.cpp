// Every hand-written kernel against the double-precision references in tests/support/reference.h.
//
// One source, written against the CUDA runtime API, built twice (tests/ops/CMakeLists.txt): with the
// host SIMT emulation (suites EmulatedKernels*, run in every CI build, under three thread orders),
// and with the real runtime and libcuae's nvcc-built kernels (suites GpuKernels*, skipped with
// the runtime's reason where there is no device). Shapes are small so the emulated run takes seconds.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/common/random.cuh"
#include "kernels/kernels.h"
#include "support/device_array.h"
#include "support/reference.h"
#include "support/tolerances.h"

#include "support/kernel_suite.h"

namespace {

using cuae::test::DeviceArray;
using cuae::Activation;
using cuae::Loss;
namespace k = cuae::kernels;
namespace ref = cuae::ref;
namespace tol = cuae::tol;

constexpr Activation kAllActs[] = {Activation::relu,   Activation::sigmoid,    Activation::tanh,
                               Activation::linear, Activation::leaky_relu, Activation::gelu};
constexpr float kSlope = 0.05f;

// ---- dense_forward / bias_act_forward -----------------------------------------------------------

using KERNEL_SUITE(DenseForward) = cuae::test::DeviceTest;

struct DenseCase {
  int64_t m;
  int n, k;
  int tile;            // 0 automatic, 64 or 128
  size_t x_offset = 0;  // floats: 1 misaligns x and forces the scalar load path even when K % 4 == 0
};

void check_dense(const DenseCase& c, Activation act, bool with_bias, bool with_pre, uint64_t seed) {
  SCOPED_TRACE("m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
               " tile=" + std::to_string(c.tile) + " x_offset=" + std::to_string(c.x_offset) + " act=" + ref::act_name(act) +
               " seed=" + std::to_string(seed));
  const auto x = ref::random_floats(static_cast<size_t>(c.m * c.k), seed);
  const auto w = ref::random_floats(static_cast<size_t>(c.n) * c.k, seed + 1, -0.3f, 0.3f);
  const auto b = ref::random_floats(static_cast<size_t>(c.n), seed + 2);
  DeviceArray<float> dx(x, c.x_offset), dw(w), db(b), dy(static_cast<size_t>(c.m * c.n)), dpre(dy.size());
  dy.poison();
  dpre.poison();
  k::DenseForwardParams p;
  p.x = dx.get(), p.w = dw.get(), p.bias = with_bias ? db.get() : nullptr, p.y = dy.get();
  p.pre = with_pre ? dpre.get() : nullptr;
  p.m = c.m, p.n = c.n, p.k = c.k, p.act = act, p.slope = kSlope, p.tile = c.tile;
  k::dense_forward(p, nullptr);
  std::vector<double> y_ref, pre_ref;
  ref::dense_forward(x.data(), w.data(), with_bias ? b.data() : nullptr, c.m, c.n, c.k, act, kSlope, y_ref,
                     &pre_ref);
  EXPECT_LE(ref::relative_error(dy.download(), y_ref), tol::kDense);
  if (with_pre) {
    EXPECT_LE(ref::relative_error(dpre.download(), pre_ref), tol::kDense);
  }
}

TEST_F(KERNEL_SUITE(DenseForward), MatchesReferenceForOddShapesAndEveryActivation) {
  for (const int tile : {64, 128})
    for (const Activation act : kAllActs) check_dense({37, 29, 53, tile}, act, true, act == Activation::gelu, 11);
}

TEST_F(KERNEL_SUITE(DenseForward), MatchesReferenceOnVectorAndScalarLoadPaths) {
  for (const int tile : {64, 128}) {
    check_dense({45, 36, 64, tile}, Activation::relu, true, true, 21);      // K % 4 == 0, aligned: float4 loads
    check_dense({45, 36, 64, tile, 1}, Activation::relu, true, true, 22);   // K % 4 == 0, misaligned x: scalar
    check_dense({45, 36, 66, tile}, Activation::tanh, true, false, 23);     // K % 4 != 0: scalar
    check_dense({19, 33, 7, tile}, Activation::linear, false, false, 24);   // N % 4 != 0: scalar stores
  }
}

TEST_F(KERNEL_SUITE(DenseForward), MatchesReferenceForSmallTallAndTileMultipleShapes) {
  check_dense({3, 5, 2, 0}, Activation::sigmoid, true, false, 31);      // far smaller than one tile
  check_dense({1, 1, 1, 128}, Activation::gelu, true, true, 32);         // a single element
  check_dense({517, 3, 20, 0}, Activation::leaky_relu, true, false, 33); // tall and skinny
  check_dense({128, 128, 16, 128}, Activation::relu, true, false, 34);   // exactly one big tile
  check_dense({128, 192, 32, 64}, Activation::gelu, true, true, 35);     // exact multiples of the small tile
  check_dense({200, 130, 40, 0}, Activation::linear, true, false, 36);   // automatic choice, several tiles
}

TEST_F(KERNEL_SUITE(DenseForward), ZeroRowsLaunchesNothing) {
  DeviceArray<float> dw(ref::random_floats(12, 41)), dy(4);
  dy.poison();
  k::DenseForwardParams p;
  p.w = dw.get(), p.y = dy.get(), p.m = 0, p.n = 3, p.k = 4;  // x may be null when there are no rows
  EXPECT_NO_THROW(k::dense_forward(p, nullptr));
  for (const float v : dy.download()) EXPECT_TRUE(std::isnan(v)) << "dense_forward wrote with 0 rows";
}

TEST_F(KERNEL_SUITE(DenseForward), RejectsNegativeShapesNullPointersAndUnknownTiles) {
  DeviceArray<float> d(16);
  k::DenseForwardParams p;
  p.x = d.get(), p.w = d.get(), p.y = d.get(), p.m = 2, p.n = 2, p.k = 2;
  k::DenseForwardParams negative = p;
  negative.k = -1;
  EXPECT_THROW(k::dense_forward(negative, nullptr), cuae::ShapeError);
  k::DenseForwardParams null_w = p;
  null_w.w = nullptr;
  EXPECT_THROW(k::dense_forward(null_w, nullptr), cuae::Error);
  k::DenseForwardParams bad_tile = p;
  bad_tile.tile = 32;
  EXPECT_THROW(k::dense_forward(bad_tile, nullptr), cuae::ShapeError);
}

TEST_F(KERNEL_SUITE(DenseForward), BiasActMatchesReferenceForEveryActivation) {
  for (const auto& [m, n] : {std::pair<int64_t, int>{37, 29}, {16, 32}})
    for (const Activation act : kAllActs) {
      SCOPED_TRACE(std::string(ref::act_name(act)) + " m=" + std::to_string(m) + " n=" + std::to_string(n));
      const auto z = ref::random_floats(static_cast<size_t>(m * n), 51, -3, 3);
      const auto b = ref::random_floats(static_cast<size_t>(n), 52);
      DeviceArray<float> dz(z), db(b), dy(z.size()), dpre(z.size());
      dy.poison();
      dpre.poison();
      k::BiasActParams p;
      p.z = dz.get(), p.bias = db.get(), p.y = dy.get(), p.pre = dpre.get(), p.m = m, p.n = n, p.act = act;
      p.slope = kSlope;
      k::bias_act_forward(p, nullptr);
      std::vector<double> y_ref(z.size()), pre_ref(z.size());
      for (size_t i = 0; i < z.size(); ++i) {
        pre_ref[i] = static_cast<double>(z[i] + b[i % static_cast<size_t>(n)]);
        y_ref[i] = ref::act(act, pre_ref[i], kSlope);
      }
      EXPECT_LE(ref::relative_error(dy.download(), y_ref), tol::kElementwise);
      EXPECT_LE(ref::relative_error(dpre.download(), pre_ref), tol::kElementwise);
      p.y = dz.get(), p.pre = nullptr;  // in place
      k::bias_act_forward(p, nullptr);
      EXPECT_LE(ref::relative_error(dz.download(), y_ref), tol::kElementwise);
    }
}

// ---- loss_forward_backward ----------------------------------------------------------------------

using KERNEL_SUITE(Loss) = cuae::test::DeviceTest;

struct LossRun {
  float loss;
  std::vector<float> grad;
};

LossRun run_loss(Loss kind, Activation out_act, const std::vector<float>& z, const std::vector<float>& x,
                 size_t offset, bool with_grad) {
  const auto count = static_cast<int64_t>(z.size());
  DeviceArray<float> dz(z, offset), dx(x, offset), dgrad(z.size(), offset);
  DeviceArray<float> partials(static_cast<size_t>(k::loss_partials_size(count))), loss(3);
  DeviceArray<int64_t> index(std::vector<int64_t>{2});
  dgrad.poison();
  loss.poison();
  k::LossParams p;
  p.z = dz.get(), p.target = dx.get(), p.grad = with_grad ? dgrad.get() : nullptr, p.count = count;
  p.grad_scale = 1.0f / static_cast<float>(count), p.loss_scale = 1.0f / static_cast<float>(count);
  p.loss = kind, p.out_act = out_act, p.partials = partials.get(), p.loss_out = loss.get();
  p.loss_index = index.get();  // the loss goes to loss_out[2]
  k::loss_forward_backward(p, nullptr);
  const auto losses = loss.download();
  EXPECT_TRUE(std::isnan(losses[0]) && std::isnan(losses[1])) << "loss written outside loss_out[*loss_index]";
  return {losses[2], with_grad ? dgrad.download() : std::vector<float>{}};
}

void check_loss(Loss kind, Activation out_act, size_t count, size_t offset, uint64_t seed) {
  SCOPED_TRACE(std::string(kind == Loss::bce ? "bce" : "mse") + " out_act=" + ref::act_name(out_act) +
               " count=" + std::to_string(count) + " offset=" + std::to_string(offset) + " seed=" + std::to_string(seed));
  const auto z = ref::random_floats(count, seed, -4, 4);
  const auto x = ref::random_floats(count, seed + 1, 0, 1);
  const LossRun run = run_loss(kind, out_act, z, x, offset, true);
  double sum = 0;
  std::vector<double> grad_ref(count);
  for (size_t i = 0; i < count; ++i) {
    const double zi = z[i], xi = x[i], n = static_cast<double>(count);
    if (kind == Loss::bce) {
      sum += ref::bce_element(zi, xi);
      grad_ref[i] = (ref::act(Activation::sigmoid, zi) - xi) / n;
    } else {
      const double y = ref::act(out_act, zi);
      sum += (y - xi) * (y - xi);
      grad_ref[i] = 2 * (y - xi) * ref::act_derivative(out_act, zi) / n;
    }
  }
  const double loss_ref = sum / static_cast<double>(count);
  EXPECT_LE(std::abs(run.loss - loss_ref) / std::abs(loss_ref), tol::kLossSum) << run.loss << " vs " << loss_ref;
  EXPECT_LE(ref::relative_error(run.grad, grad_ref), tol::kElementwise);
}

TEST_F(KERNEL_SUITE(Loss), BceMatchesReferenceOnVectorAndScalarPaths) {
  check_loss(Loss::bce, Activation::sigmoid, 1037, 0, 61);   // odd count: float4 body + scalar tail
  check_loss(Loss::bce, Activation::sigmoid, 4096, 1, 62);   // misaligned: scalar path
  check_loss(Loss::bce, Activation::sigmoid, 9001, 0, 63);   // several blocks of partial sums
  check_loss(Loss::bce, Activation::sigmoid, 3, 0, 64);      // less than one quad
}

TEST_F(KERNEL_SUITE(Loss), MseMatchesReferenceWithSigmoidAndLinearOutputs) {
  check_loss(Loss::mse, Activation::sigmoid, 1037, 0, 71);
  check_loss(Loss::mse, Activation::linear, 1037, 1, 72);
  check_loss(Loss::mse, Activation::linear, 9001, 0, 73);
}

TEST_F(KERNEL_SUITE(Loss), IsBitIdenticalAcrossRunsAndWithoutGradient) {
  const auto z = ref::random_floats(9001, 81, -4, 4);
  const auto x = ref::random_floats(9001, 82, 0, 1);
  const LossRun first = run_loss(Loss::bce, Activation::sigmoid, z, x, 0, true);
  const LossRun second = run_loss(Loss::bce, Activation::sigmoid, z, x, 0, true);
  const LossRun loss_only = run_loss(Loss::bce, Activation::sigmoid, z, x, 0, false);
  EXPECT_EQ(std::memcmp(&first.loss, &second.loss, sizeof(float)), 0) << first.loss << " vs " << second.loss;
  EXPECT_EQ(std::memcmp(&first.loss, &loss_only.loss, sizeof(float)), 0) << first.loss << " vs " << loss_only.loss;
  EXPECT_EQ(first.grad, second.grad);
}

TEST_F(KERNEL_SUITE(Loss), RejectsBceWithoutSigmoidAndSkipsEmptyInput) {
  DeviceArray<float> d(8);
  k::LossParams p;
  p.z = d.get(), p.target = d.get(), p.partials = d.get(), p.loss_out = d.get(), p.count = 4;
  p.loss = Loss::bce, p.out_act = Activation::linear;
  EXPECT_THROW(k::loss_forward_backward(p, nullptr), cuae::ShapeError);
  p.out_act = Activation::sigmoid, p.count = -1;
  EXPECT_THROW(k::loss_forward_backward(p, nullptr), cuae::ShapeError);
  d.poison();
  p.count = 0;
  EXPECT_NO_THROW(k::loss_forward_backward(p, nullptr));
  EXPECT_TRUE(std::isnan(d.download()[0])) << "a launch happened for 0 elements";
  EXPECT_EQ(k::loss_partials_size(0), 0);
}

// ---- activation_backward -------------------------------------------------------------------------

using KERNEL_SUITE(ActivationBackward) = cuae::test::DeviceTest;

TEST_F(KERNEL_SUITE(ActivationBackward), MatchesReferenceForEveryActivation) {
  for (const size_t count : {size_t{1037}, size_t{1024}})
    for (const size_t offset : {size_t{0}, size_t{1}})
      for (const Activation act : kAllActs) {
        SCOPED_TRACE(std::string(ref::act_name(act)) + " count=" + std::to_string(count) + " offset=" + std::to_string(offset));
        const auto z = ref::random_floats(count, 91, -3, 3);
        const auto dy = ref::random_floats(count, 92);
        std::vector<float> y(count);
        std::vector<double> dz_ref(count);
        for (size_t i = 0; i < count; ++i) {
          y[i] = static_cast<float>(ref::act(act, z[i], kSlope));
          dz_ref[i] = dy[i] * ref::act_derivative(act, z[i], kSlope);
        }
        DeviceArray<float> ddy(dy, offset), dyv(y, offset), dpre(z, offset), ddz(count, offset);
        ddz.poison();
        k::ActBackwardParams p;
        p.dy = ddy.get(), p.y = dyv.get(), p.pre = act == Activation::gelu ? dpre.get() : nullptr, p.dz = ddz.get();
        p.count = static_cast<int64_t>(count), p.act = act, p.slope = kSlope;
        k::activation_backward(p, nullptr);
        EXPECT_LE(ref::relative_error(ddz.download(), dz_ref), tol::kElementwise);
        p.dz = ddy.get();  // in place
        k::activation_backward(p, nullptr);
        EXPECT_LE(ref::relative_error(ddy.download(), dz_ref), tol::kElementwise);
      }
}

TEST_F(KERNEL_SUITE(ActivationBackward), GeluWithoutPreActivationIsAnError) {
  DeviceArray<float> d(4);
  k::ActBackwardParams p;
  p.dy = d.get(), p.y = d.get(), p.dz = d.get(), p.count = 4, p.act = Activation::gelu;
  EXPECT_THROW(k::activation_backward(p, nullptr), cuae::Error);
}

// ---- bias_grad ------------------------------------------------------------------------------------

using KERNEL_SUITE(BiasGrad) = cuae::test::DeviceTest;

std::vector<float> run_bias_grad(const std::vector<float>& dz, int64_t m, int n) {
  DeviceArray<float> ddz(dz), ddb(static_cast<size_t>(n)), work(static_cast<size_t>(k::bias_grad_workspace_size(m, n)));
  ddb.poison();
  work.poison();
  k::BiasGradParams p;
  p.dz = ddz.get(), p.db = ddb.get(), p.m = m, p.n = n, p.workspace = work.get();
  k::bias_grad(p, nullptr);
  return ddb.download();
}

TEST_F(KERNEL_SUITE(BiasGrad), MatchesReferenceColumnSumsAndIsReproducible) {
  for (const auto& [m, n] : {std::pair<int64_t, int>{37, 29}, {1000, 13}, {300, 64}, {1, 5}}) {
    SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n) +
                 " workspace=" + std::to_string(k::bias_grad_workspace_size(m, n)));
    const auto dz = ref::random_floats(static_cast<size_t>(m * n), 101 + static_cast<uint64_t>(m));
    std::vector<double> db_ref(static_cast<size_t>(n), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) db_ref[static_cast<size_t>(j)] += dz[static_cast<size_t>(i * n + j)];
    const auto db = run_bias_grad(dz, m, n);
    EXPECT_LE(ref::relative_error(db, db_ref), tol::kBiasGrad);
    EXPECT_EQ(db, run_bias_grad(dz, m, n));
  }
}

TEST_F(KERNEL_SUITE(BiasGrad), ZeroRowsGiveZeroGradient) {
  EXPECT_EQ(run_bias_grad({}, 0, 7), std::vector<float>(7, 0.0f));
}

// ---- optimizer ------------------------------------------------------------------------------------

using KERNEL_SUITE(Optimizer) = cuae::test::DeviceTest;

struct AdamCase {
  const char* label;
  float weight_decay;
  bool decoupled, epsilon_hat;
  size_t count, offset;
};

TEST_F(KERNEL_SUITE(Optimizer), AdamMatchesPyTorchFormulaAfterThreeSteps) {
  const AdamCase cases[] = {{"adam", 0.0f, false, false, 1037, 0},    {"adam_l2", 0.01f, false, false, 1024, 0},
                            {"adamw", 0.01f, true, false, 1037, 1},   {"keras", 0.0f, false, true, 1024, 1},
                            {"adamw_keras", 0.1f, true, true, 3, 0}};
  for (const AdamCase& c : cases) {
    SCOPED_TRACE(std::string(c.label) + " count=" + std::to_string(c.count) + " offset=" + std::to_string(c.offset));
    const auto p0 = ref::random_floats(c.count, 111);
    DeviceArray<float> params(p0, c.offset), grads(c.count, c.offset), m(std::vector<float>(c.count, 0.0f), c.offset),
        v(std::vector<float>(c.count, 0.0f), c.offset);
    DeviceArray<k::OptimizerStepState> state(std::vector<k::OptimizerStepState>{k::OptimizerStepState{}});
    k::AdamParams p;
    p.params = params.get(), p.grads = grads.get(), p.m = m.get(), p.v = v.get(), p.count = static_cast<int64_t>(c.count);
    p.lr = 1e-2f, p.weight_decay = c.weight_decay, p.decoupled_weight_decay = c.decoupled, p.epsilon_hat = c.epsilon_hat;
    p.state = state.get();
    ref::AdamOptions o;
    o.lr = p.lr, o.beta1 = p.beta1, o.beta2 = p.beta2, o.eps = p.eps, o.weight_decay = p.weight_decay;
    o.decoupled = c.decoupled, o.epsilon_hat = c.epsilon_hat;
    std::vector<double> p_ref(p0.begin(), p0.end()), m_ref(c.count, 0.0), v_ref(c.count, 0.0);
    for (int64_t t = 1; t <= 3; ++t) {
      const auto g = ref::random_floats(c.count, 120 + static_cast<uint64_t>(t));
      grads.upload(g);
      k::optimizer_begin(p, nullptr);
      k::adam_update(p, nullptr);
      ref::adam_step(p_ref, std::vector<double>(g.begin(), g.end()), m_ref, v_ref, t, o);
    }
    EXPECT_LE(ref::relative_error(params.download(), p_ref), tol::kOptimizer);
    EXPECT_LE(ref::relative_error(m.download(), m_ref), tol::kOptimizer);
    EXPECT_LE(ref::relative_error(v.download(), v_ref), tol::kOptimizer);
    const k::OptimizerStepState s = state.download()[0];
    EXPECT_EQ(s.step, 3);
    EXPECT_EQ(s.batch, 3);
    const double bc1 = 1 - std::pow(o.beta1, 3.0), bc2 = 1 - std::pow(o.beta2, 3.0);
    EXPECT_DOUBLE_EQ(s.bias_correction2_sqrt, std::sqrt(bc2));
    EXPECT_DOUBLE_EQ(s.step_size, c.epsilon_hat ? o.lr * std::sqrt(bc2) / bc1 : o.lr / bc1);
  }
}

TEST_F(KERNEL_SUITE(Optimizer), SgdMomentumMatchesPyTorchFormulaAfterThreeSteps) {
  for (const auto& [count, offset, mu, wd] : {std::tuple<size_t, size_t, float, float>{1037, 0, 0.9f, 0.01f},
                                              {1024, 1, 0.5f, 0.0f},
                                              {1024, 0, 0.0f, 0.01f}}) {
    SCOPED_TRACE("count=" + std::to_string(count) + " offset=" + std::to_string(offset) + " mu=" + std::to_string(mu));
    const auto p0 = ref::random_floats(count, 131);
    DeviceArray<float> params(p0, offset), grads(count, offset), buf(count, offset);
    buf.poison();  // step 1 must overwrite it, never read it
    DeviceArray<k::OptimizerStepState> state(std::vector<k::OptimizerStepState>{k::OptimizerStepState{}});
    k::AdamParams begin;
    begin.state = state.get();
    k::SgdParams p;
    p.params = params.get(), p.grads = grads.get(), p.momentum = mu != 0.0f ? buf.get() : nullptr;
    p.count = static_cast<int64_t>(count), p.lr = 0.05f, p.momentum_factor = mu, p.weight_decay = wd;
    p.state = state.get();
    std::vector<double> p_ref(p0.begin(), p0.end()), b_ref(count, 0.0);
    for (int t = 1; t <= 3; ++t) {
      const auto g = ref::random_floats(count, 140 + static_cast<uint64_t>(t));
      grads.upload(g);
      k::optimizer_begin(begin, nullptr);
      k::sgd_update(p, nullptr);
      for (size_t i = 0; i < count; ++i) {  // torch.optim.SGD, dampening 0, no nesterov
        double d = g[i] + static_cast<double>(wd) * p_ref[i];
        if (mu != 0.0f) {
          b_ref[i] = t == 1 ? d : mu * b_ref[i] + d;
          d = b_ref[i];
        }
        p_ref[i] -= static_cast<double>(p.lr) * d;
      }
    }
    EXPECT_LE(ref::relative_error(params.download(), p_ref), tol::kOptimizer);
    if (mu != 0.0f) {
      EXPECT_LE(ref::relative_error(buf.download(), b_ref), tol::kOptimizer);
    }
  }
}

// ---- grad_clip_scale -----------------------------------------------------------------------------

using KERNEL_SUITE(GradClip) = cuae::test::DeviceTest;

// grad_clip_scale on `g`, from a state whose grad_scale is poisoned; returns the scale it wrote.
float clip_scale_of(const std::vector<float>& g, float max_norm) {
  DeviceArray<float> grads(g);
  DeviceArray<double> partials(static_cast<size_t>(k::grad_clip_partials_size(static_cast<int64_t>(g.size()))));
  partials.poison();
  k::OptimizerStepState initial{};
  initial.grad_scale = std::numeric_limits<float>::quiet_NaN();
  DeviceArray<k::OptimizerStepState> state(std::vector<k::OptimizerStepState>{initial});
  k::GradClipParams p;
  p.grads = grads.get(), p.count = static_cast<int64_t>(g.size()), p.max_norm = max_norm, p.partials = partials.get();
  p.state = state.get();
  k::grad_clip_scale(p, nullptr);
  return state.download()[0].grad_scale;
}

// torch.nn.utils.clip_grad_norm_'s factor, clamped at 1, with the norm in double.
float reference_clip_scale(const std::vector<float>& g, float max_norm) {
  double sum = 0;
  for (const float x : g) sum += static_cast<double>(x) * x;
  const double coef = static_cast<double>(max_norm) / (std::sqrt(sum) + 1e-6);
  return coef < 1.0 ? static_cast<float>(coef) : 1.0f;
}

TEST_F(KERNEL_SUITE(GradClip), ScaleMatchesDoubleReferenceAboveAndBelowTheBound) {
  // 270001 elements fill all 1024 blocks and make threads loop; 1 and 37 leave most threads idle.
  for (const size_t count : {size_t{1}, size_t{37}, size_t{1037}, size_t{270001}}) {
    const auto g = ref::random_floats(count, 171);
    double sum = 0;
    for (const float x : g) sum += static_cast<double>(x) * x;
    const auto norm = static_cast<float>(std::sqrt(sum));
    for (const float max_norm : {0.25f * norm, 0.999f * norm, 4.0f * norm}) {
      SCOPED_TRACE("count=" + std::to_string(count) + " norm=" + std::to_string(norm) +
                   " max_norm=" + std::to_string(max_norm));
      const float scale = clip_scale_of(g, max_norm);
      EXPECT_FLOAT_EQ(scale, reference_clip_scale(g, max_norm));
      EXPECT_EQ(scale, clip_scale_of(g, max_norm)) << "not bit-reproducible";
    }
  }
}

TEST_F(KERNEL_SUITE(GradClip), NaNGradientLeavesTheScaleAtOneAndBadBoundsAreRejected) {
  auto g = ref::random_floats(1037, 181);
  g[500] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(clip_scale_of(g, 1e-3f), 1.0f);
  k::OptimizerStepState* no_state = nullptr;
  k::GradClipParams p;
  p.count = 4, p.max_norm = 0.0f, p.state = no_state;
  EXPECT_THROW(k::grad_clip_scale(p, nullptr), cuae::ShapeError);
  p.max_norm = std::numeric_limits<float>::infinity();
  EXPECT_THROW(k::grad_clip_scale(p, nullptr), cuae::ShapeError);
}

// Clipping is a multiply on the gradient's way into the update: Adam after grad_clip_scale equals
// Adam on the gradient the CPU backend scales in place, bit for bit.
TEST_F(KERNEL_SUITE(GradClip), ClippedAdamStepEqualsAdamOnTheScaledGradient) {
  constexpr size_t kCount = 1037;
  const auto p0 = ref::random_floats(kCount, 191);
  const auto g = ref::random_floats(kCount, 192);
  const float max_norm = 0.5f;
  const float scale = clip_scale_of(g, max_norm);  // the kernel's own factor: the test is about its use
  ASSERT_LT(scale, 1.0f);
  std::vector<float> scaled(g);
  for (float& x : scaled) x *= scale;
  const auto adam_step = [&](const std::vector<float>& grad, bool clip) {
    DeviceArray<float> params(p0), grads(grad), m(std::vector<float>(kCount, 0.0f)), v(std::vector<float>(kCount, 0.0f));
    DeviceArray<double> partials(static_cast<size_t>(k::grad_clip_partials_size(kCount)));
    DeviceArray<k::OptimizerStepState> state(std::vector<k::OptimizerStepState>{k::OptimizerStepState{}});
    if (clip) {
      k::GradClipParams c;
      c.grads = grads.get(), c.count = kCount, c.max_norm = max_norm, c.partials = partials.get(), c.state = state.get();
      k::grad_clip_scale(c, nullptr);
    }
    k::AdamParams p;
    p.params = params.get(), p.grads = grads.get(), p.m = m.get(), p.v = v.get(), p.count = kCount, p.state = state.get();
    k::optimizer_begin(p, nullptr);
    k::adam_update(p, nullptr);
    return params.download();
  };
  const auto clipped = adam_step(g, true);
  const auto reference = adam_step(scaled, false);
  for (size_t i = 0; i < kCount; ++i) ASSERT_EQ(clipped[i], reference[i]) << "element " << i;
}

// ---- gather_rows ----------------------------------------------------------------------------------

using KERNEL_SUITE(Gather) = cuae::test::DeviceTest;

template <typename T>
void check_gather(const std::vector<T>& data, int64_t data_rows, int cols, bool shuffle, int64_t rows) {
  constexpr bool kU8 = std::is_same_v<T, uint8_t>;
  SCOPED_TRACE(std::string(kU8 ? "u8" : "f32") + " cols=" + std::to_string(cols) + " shuffle=" +
               std::to_string(shuffle) + " rows=" + std::to_string(rows));
  constexpr int64_t kBatchSize = 5, kBatch = 2;
  constexpr uint64_t kKey = 0x1234'5678'9abcULL;
  DeviceArray<T> ddata(data);
  DeviceArray<float> out(static_cast<size_t>(rows * cols));
  DeviceArray<int64_t> batch(std::vector<int64_t>{kBatch});
  out.poison();
  k::GatherParams p;
  p.data = ddata.get(), p.data_u8 = kU8, p.data_rows = data_rows, p.cols = cols, p.out = out.get(), p.rows = rows;
  p.batch_size = kBatchSize, p.batch_index = batch.get(), p.shuffle = shuffle, p.shuffle_key = kKey;
  k::gather_rows(p, nullptr);
  const auto got = out.download();
  for (int64_t r = 0; r < rows; ++r) {
    const auto i = static_cast<uint64_t>(kBatch * kBatchSize + r);
    const auto src = static_cast<int64_t>(shuffle ? cuae::rng::permute_index(i, static_cast<uint64_t>(data_rows), kKey) : i);
    for (int c = 0; c < cols; ++c) {
      const T raw = data[static_cast<size_t>(src * cols + c)];
      const float expect = kU8 ? static_cast<float>(raw) / 255.0f : static_cast<float>(raw);
      ASSERT_EQ(got[static_cast<size_t>(r * cols + c)], expect) << "row " << r << " (source " << src << ") col " << c;
    }
  }
}

TEST_F(KERNEL_SUITE(Gather), CopiesAndConvertsRowsShuffledAndInOrder) {
  constexpr int64_t kDataRows = 23;
  for (const int cols : {7, 8}) {  // scalar and vector paths
    std::vector<uint8_t> u8(static_cast<size_t>(kDataRows * cols));
    for (size_t i = 0; i < u8.size(); ++i) u8[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    const auto f32 = ref::random_floats(static_cast<size_t>(kDataRows * cols), 151);
    for (const bool shuffle : {false, true})
      for (const int64_t rows : {int64_t{5}, int64_t{3}}) {
        check_gather(u8, kDataRows, cols, shuffle, rows);
        check_gather(f32, kDataRows, cols, shuffle, rows);
      }
  }
}

TEST_F(KERNEL_SUITE(Gather), RowsPastTheDataBecomeNaN) {
  DeviceArray<float> data(ref::random_floats(12, 161)), out(8);  // 3 rows of 4
  DeviceArray<int64_t> batch(std::vector<int64_t>{1});
  k::GatherParams p;
  p.data = data.get(), p.data_rows = 3, p.cols = 4, p.out = out.get(), p.rows = 2, p.batch_size = 2;
  p.batch_index = batch.get();  // batch 1 = rows 2 and 3; row 3 does not exist
  k::gather_rows(p, nullptr);
  const auto got = out.download();
  for (int c = 0; c < 4; ++c) {
    EXPECT_FALSE(std::isnan(got[static_cast<size_t>(c)]));
    EXPECT_TRUE(std::isnan(got[static_cast<size_t>(4 + c)]));
  }
}

}  // namespace
