// Edge cases that kernels_test.cpp's shapes do not reach, each written against a small realistic bug
// that a mutation run showed those tests miss (issue 12):
//   - a store one column past a gathered row, or 1-3 floats past `count` in a float4 tail: outputs are
//     allocated with canary elements after the valid region, which must come back untouched;
//   - bias-gradient chunking that drops the last m % chunks rows: M = 257 and 1001 do not divide;
//   - BCE as log(1 + e) instead of log1p(e): saturated logits, where only log1p keeps the loss;
//   - the loss finalize over more than 128 (and more than 256, its thread count) block partials;
//   - the epoch shuffle: golden values of permute_index and epoch_shuffle_key, which resumed runs rely
//     on across versions (a resumed epoch must visit the rows the interrupted one would have).
// Built into the same executables as kernels_test.cpp (emulated and GPU), so suite names carry the
// same prefix.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
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

// A value no kernel computes from the test inputs: any write past the valid region replaces it.
constexpr float kCanary = -12345.5f;
constexpr size_t kCanaryFloats = 8;  // two float4s: covers a whole quad past an unaligned end

// `valid` followed by kCanaryFloats canaries, on the device (base 16-byte aligned: float4 paths stay on).
DeviceArray<float> with_canaries(std::vector<float> valid) {
  valid.insert(valid.end(), kCanaryFloats, kCanary);
  return DeviceArray<float>(valid);
}

// The first `valid` elements of `a`, after checking that every canary after them is intact.
std::vector<float> valid_part(const DeviceArray<float>& a, size_t valid, const std::string& what) {
  std::vector<float> all = a.download();
  for (size_t i = valid; i < all.size(); ++i)
    EXPECT_EQ(all[i], kCanary) << what << ": element " << i << " past the " << valid << " valid ones was written";
  all.resize(valid);
  return all;
}

// ---- gather_rows: nothing is written past a row or past the batch ---------------------------------

using KERNEL_SUITE(GatherBounds) = cuae::test::DeviceTest;

// Each row of the output buffer is followed by canary columns (the output is gathered with a row
// stride of `cols` into a buffer holding rows · cols floats and then the canaries), and the canaries
// after the last row catch a store one column past it, the one no later block overwrites.
TEST_F(KERNEL_SUITE(GatherBounds), WritesNothingPastTheLastColumnOrRow) {
  constexpr int64_t kDataRows = 41;
  for (const int cols : {8, 7, 1})  // float4 path; scalar path; one column
    for (const bool shuffle : {false, true})
      for (const int64_t rows : {int64_t{1}, int64_t{9}}) {
        SCOPED_TRACE("cols=" + std::to_string(cols) + " shuffle=" + std::to_string(shuffle) +
                     " rows=" + std::to_string(rows));
        const auto data = ref::random_floats(static_cast<size_t>(kDataRows * cols), 201);
        DeviceArray<float> ddata(data);
        const auto valid = static_cast<size_t>(rows * cols);
        DeviceArray<float> out = with_canaries(std::vector<float>(valid, std::nanf("")));
        DeviceArray<int64_t> batch(std::vector<int64_t>{1});
        k::GatherParams p;
        p.data = ddata.get(), p.data_rows = kDataRows, p.cols = cols, p.out = out.get(), p.rows = rows;
        p.batch_size = rows, p.batch_index = batch.get(), p.shuffle = shuffle, p.shuffle_key = 0xfeedULL;
        k::gather_rows(p, nullptr);
        const auto got = valid_part(out, valid, "gather_rows");
        for (int64_t r = 0; r < rows; ++r) {
          const auto i = static_cast<uint64_t>(rows + r);
          const auto src = static_cast<int64_t>(shuffle ? cuae::rng::permute_index(i, kDataRows, 0xfeedULL) : i);
          for (int c = 0; c < cols; ++c)
            ASSERT_EQ(got[static_cast<size_t>(r * cols + c)], data[static_cast<size_t>(src * cols + c)])
                << "row " << r << " col " << c;
        }
      }
}

// ---- float4 tails: count % 4 = 1, 2, 3 -------------------------------------------------------------

using KERNEL_SUITE(VectorTails) = cuae::test::DeviceTest;

constexpr size_t kTailCounts[] = {1, 2, 3, 257, 258, 259, 1029, 1030, 1031};

TEST_F(KERNEL_SUITE(VectorTails), ActivationBackwardWritesNothingPastCount) {
  for (const size_t count : kTailCounts)
    for (const Activation act : {Activation::relu, Activation::gelu}) {  // from y; from pre
      SCOPED_TRACE("count=" + std::to_string(count) + " act=" + ref::act_name(act));
      const auto z = ref::random_floats(count, 211, -3, 3);
      const auto dy = ref::random_floats(count, 212);
      std::vector<float> y(count);
      std::vector<double> dz_ref(count);
      for (size_t i = 0; i < count; ++i) {
        y[i] = static_cast<float>(ref::act(act, z[i]));
        dz_ref[i] = dy[i] * ref::act_derivative(act, z[i]);
      }
      DeviceArray<float> ddy = with_canaries(dy), dyv = with_canaries(y), dpre = with_canaries(z);
      DeviceArray<float> ddz = with_canaries(std::vector<float>(count, std::nanf("")));
      k::ActBackwardParams p;
      p.dy = ddy.get(), p.y = dyv.get(), p.pre = act == Activation::gelu ? dpre.get() : nullptr, p.dz = ddz.get();
      p.count = static_cast<int64_t>(count), p.act = act;
      k::activation_backward(p, nullptr);
      EXPECT_LE(ref::relative_error(valid_part(ddz, count, "dz"), dz_ref), tol::kElementwise);
      p.dz = ddy.get();  // in place: the canaries after dy must survive too
      k::activation_backward(p, nullptr);
      EXPECT_LE(ref::relative_error(valid_part(ddy, count, "dz in place"), dz_ref), tol::kElementwise);
    }
}

TEST_F(KERNEL_SUITE(VectorTails), AdamAndSgdWriteNothingPastCount) {
  for (const size_t count : kTailCounts) {
    SCOPED_TRACE("count=" + std::to_string(count));
    const auto p0 = ref::random_floats(count, 221);
    const auto g = ref::random_floats(count, 222);
    DeviceArray<float> params = with_canaries(p0), grads = with_canaries(g);
    DeviceArray<float> m = with_canaries(std::vector<float>(count, 0.0f)), v = with_canaries(std::vector<float>(count, 0.0f));
    DeviceArray<k::OptimizerStepState> state(std::vector<k::OptimizerStepState>{k::OptimizerStepState{}});
    k::AdamParams p;
    p.params = params.get(), p.grads = grads.get(), p.m = m.get(), p.v = v.get(), p.count = static_cast<int64_t>(count);
    p.lr = 1e-2f, p.weight_decay = 0.01f, p.state = state.get();
    k::optimizer_begin(p, nullptr);
    k::adam_update(p, nullptr);
    ref::AdamOptions o;
    o.lr = p.lr, o.beta1 = p.beta1, o.beta2 = p.beta2, o.eps = p.eps, o.weight_decay = p.weight_decay;
    std::vector<double> p_ref(p0.begin(), p0.end()), m_ref(count, 0.0), v_ref(count, 0.0);
    ref::adam_step(p_ref, std::vector<double>(g.begin(), g.end()), m_ref, v_ref, 1, o);
    EXPECT_LE(ref::relative_error(valid_part(params, count, "adam params"), p_ref), tol::kOptimizer);
    EXPECT_LE(ref::relative_error(valid_part(m, count, "adam m"), m_ref), tol::kOptimizer);
    EXPECT_LE(ref::relative_error(valid_part(v, count, "adam v"), v_ref), tol::kOptimizer);
    valid_part(grads, count, "adam grads");  // read only

    DeviceArray<float> sgd_params = with_canaries(p0), momentum = with_canaries(std::vector<float>(count, 0.0f));
    k::SgdParams s;
    s.params = sgd_params.get(), s.grads = grads.get(), s.momentum = momentum.get(), s.count = p.count;
    s.momentum_factor = 0.9f, s.state = state.get();
    k::sgd_update(s, nullptr);
    std::vector<double> sgd_ref(count);
    for (size_t i = 0; i < count; ++i) sgd_ref[i] = p0[i] - static_cast<double>(s.lr) * g[i];  // step 1: b = g
    EXPECT_LE(ref::relative_error(valid_part(sgd_params, count, "sgd params"), sgd_ref), tol::kOptimizer);
    EXPECT_LE(ref::relative_error(valid_part(momentum, count, "sgd momentum"), g), tol::kOptimizer);
  }
}

// ---- bias_grad: row counts that the chunks do not divide ------------------------------------------

using KERNEL_SUITE(BiasGradChunks) = cuae::test::DeviceTest;

TEST_F(KERNEL_SUITE(BiasGradChunks), SumsEveryRowWhenChunksDoNotDivideM) {
  // 257: 2 chunks of 129 and 128 rows; 1001: 4 chunks, 251 + 3 · 250; 33000: the 128-chunk cap.
  for (const auto& [m, n] : {std::pair<int64_t, int>{257, 5}, {1001, 33}, {33000, 3}}) {
    SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n) +
                 " workspace=" + std::to_string(k::bias_grad_workspace_size(m, n)));
    const auto dz = ref::random_floats(static_cast<size_t>(m * n), 231 + static_cast<uint64_t>(m), 0.5f, 1.5f);
    std::vector<double> db_ref(static_cast<size_t>(n), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) db_ref[static_cast<size_t>(j)] += dz[static_cast<size_t>(i * n + j)];
    DeviceArray<float> ddz(dz), work(static_cast<size_t>(k::bias_grad_workspace_size(m, n)));
    DeviceArray<float> ddb = with_canaries(std::vector<float>(static_cast<size_t>(n), std::nanf("")));
    work.poison();
    k::BiasGradParams p;
    p.dz = ddz.get(), p.db = ddb.get(), p.m = m, p.n = n, p.workspace = work.get();
    k::bias_grad(p, nullptr);
    // Positive entries: one dropped row moves each sum by ~1/m, far above the FP32 tolerance.
    EXPECT_LE(ref::relative_error(valid_part(ddb, static_cast<size_t>(n), "db"), db_ref), tol::kBiasGrad);
  }
}

// ---- loss: saturated logits and many partials -------------------------------------------------------

using KERNEL_SUITE(LossEdges) = cuae::test::DeviceTest;

struct LossResult {
  double loss;
  std::vector<float> grad;
};

LossResult run_loss(const std::vector<float>& z, const std::vector<float>& x) {
  const auto count = static_cast<int64_t>(z.size());
  DeviceArray<float> dz(z), dx(x), dgrad(z.size());
  DeviceArray<float> partials(static_cast<size_t>(k::loss_partials_size(count))), loss(1);
  dgrad.poison();
  partials.poison();
  loss.poison();
  k::LossParams p;
  p.z = dz.get(), p.target = dx.get(), p.grad = dgrad.get(), p.count = count;
  p.grad_scale = 1.0f / static_cast<float>(count), p.loss_scale = 1.0f / static_cast<float>(count);
  p.loss = Loss::bce, p.out_act = Activation::sigmoid, p.partials = partials.get(), p.loss_out = loss.get();
  k::loss_forward_backward(p, nullptr);
  return {loss.download()[0], dgrad.download()};
}

// Saturated logits |z| in [20, 80] with the target on the logit's side: the loss of each element is
// log1p(e^-|z|) ≈ e^-|z| (1e-35 to 2e-9), which log(1 + e) rounds to 0 in FP32. The exact reference
// is in double; the tolerance is the loss-sum one.
TEST_F(KERNEL_SUITE(LossEdges), BceOfSaturatedLogitsMatchesTheExactLoss) {
  constexpr size_t kCount = 1037;
  const auto magnitude = ref::random_floats(kCount, 241, 20, 80);
  std::vector<float> z(kCount), x(kCount);
  double sum = 0;
  std::vector<double> grad_ref(kCount);
  for (size_t i = 0; i < kCount; ++i) {
    const bool positive = i % 2 == 0;
    z[i] = positive ? magnitude[i] : -magnitude[i];
    x[i] = positive ? 1.0f : 0.0f;
    sum += ref::bce_element(z[i], x[i]);
    grad_ref[i] = (ref::act(Activation::sigmoid, z[i]) - x[i]) / static_cast<double>(kCount);
  }
  const double loss_ref = sum / static_cast<double>(kCount);
  ASSERT_GT(loss_ref, 0.0);
  const LossResult run = run_loss(z, x);
  EXPECT_LE(std::abs(run.loss - loss_ref) / loss_ref, tol::kLossSum) << run.loss << " vs " << loss_ref;
  // The gradient's magnitude is e^-|z| / n: FP32's 1/(1+e) - 1 rounds it to 0 for z > 0, so it is
  // compared absolutely, against the scale of a non-saturated gradient (1/n).
  for (size_t i = 0; i < kCount; ++i)
    ASSERT_LE(std::abs(run.grad[i] - grad_ref[i]), tol::kElementwise / static_cast<double>(kCount)) << "element " << i;
}

// loss_finalize sums the block partials with 256 threads in a fixed order: 293 partials make some
// threads add two, 1024 (the cap, from 1.1 M elements) make every thread loop four times.
TEST_F(KERNEL_SUITE(LossEdges), FinalizeSumsMoreThan128Partials) {
  for (const size_t count : {size_t{140001}, size_t{300001}, size_t{1100003}}) {
    SCOPED_TRACE("count=" + std::to_string(count) +
                 " partials=" + std::to_string(k::loss_partials_size(static_cast<int64_t>(count))));
    ASSERT_GT(k::loss_partials_size(static_cast<int64_t>(count)), 128);
    const auto z = ref::random_floats(count, 251, -4, 4);
    const auto x = ref::random_floats(count, 252, 0, 1);
    double sum = 0;
    for (size_t i = 0; i < count; ++i) sum += ref::bce_element(z[i], x[i]);
    const double loss_ref = sum / static_cast<double>(count);
    EXPECT_LE(std::abs(run_loss(z, x).loss - loss_ref) / loss_ref, tol::kLossSum);
  }
}

// ---- the epoch shuffle: pinned values -------------------------------------------------------------

// Golden values computed from kernels/common/random.cuh as of issue 12 (4-round Feistel network over
// Philox-4x32-10). Changing them breaks exact resume of checkpoints written by earlier versions: a
// deliberate change must come with a checkpoint format bump, not with new numbers pasted here.
TEST(KERNEL_SUITE(ShuffleGolden), EpochShuffleKeyIsPinned) {
  struct Golden {
    uint64_t seed;
    int64_t epoch;
    uint64_t key;
  };
  const Golden golden[] = {
      {0, 0, 0xdf1f21583e375f06ULL},
      {1, 0, 0x33b574f8c37666feULL},
      {20240611, 3, 0xd60060d19739986cULL},
      {0xffffffffffffffffULL, 1000, 0x15aa6234d055d071ULL}};
  for (const Golden& g : golden)
    EXPECT_EQ(cuae::rng::epoch_shuffle_key(g.seed, g.epoch), g.key) << "seed " << g.seed << " epoch " << g.epoch;
}

TEST(KERNEL_SUITE(ShuffleGolden), PermuteIndexIsPinned) {
  struct Golden {
    uint64_t n, key;
    std::vector<uint64_t> first;  // permute_index(0 .. size-1, n, key)
  };
  const std::vector<Golden> golden = {
      {10, 1, {2, 0, 7, 5, 6, 9, 3, 1, 4, 8}},  // the whole permutation
      {60000, 0x1234'5678'9abcULL, {17478, 28423, 21466, 7076, 8686, 4059, 28255, 36292, 3940, 13864}},
      {1000003, 42, {399758, 273395, 373131, 620425, 613632, 851483, 426316, 258948, 483302, 292211}}};
  for (const Golden& g : golden)
    for (uint64_t i = 0; i < g.first.size(); ++i)
      EXPECT_EQ(cuae::rng::permute_index(i, g.n, g.key), g.first[i]) << "n " << g.n << " key " << g.key << " i " << i;
}

}  // namespace
