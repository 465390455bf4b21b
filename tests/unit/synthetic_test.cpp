// Synthetic data: reproducible per seed, different across seeds, counter-based (a row does not depend
// on how many rows were generated), and equal to the formulas documented in src/io/synthetic.h,
// recomputed here in double precision.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cuae/dataset.h"
#include "kernels/common/random.cuh"
#include "support/reference.h"
#include "support/tolerances.h"

namespace cuae {
namespace {

constexpr uint64_t kSeed = 20261129;

std::vector<float> rows_of(const Dataset& d) {
  std::vector<float> out(static_cast<size_t>(d.rows() * d.cols()), std::numeric_limits<float>::quiet_NaN());
  d.copy_rows(0, d.rows(), out.data());
  return out;
}

TEST(Synthetic, RandomIsTheSameForTheSameSeed) {
  EXPECT_EQ(rows_of(make_random(37, 29, kSeed)), rows_of(make_random(37, 29, kSeed)));
}

TEST(Synthetic, RandomDiffersAcrossSeeds) {
  const auto a = rows_of(make_random(37, 29, kSeed));
  const auto b = rows_of(make_random(37, 29, kSeed + 1));
  size_t equal = 0;
  for (size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i];
  EXPECT_LT(equal, a.size() / 100);
}

TEST(Synthetic, RandomIsUniformOnTheUnitInterval) {
  const auto v = rows_of(make_random(101, 97, kSeed));
  EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0f);
  EXPECT_LT(*std::max_element(v.begin(), v.end()), 1.0f);
  double mean = 0;
  for (float x : v) mean += x;
  mean /= static_cast<double>(v.size());
  // ~9800 samples: the standard error of the mean is 0.003, so 0.02 is > 6 sigma.
  EXPECT_NEAR(mean, 0.5, 0.02);
}

TEST(Synthetic, RowsDoNotDependOnTheRowCount) {
  const auto few = rows_of(make_random(5, 23, kSeed));
  const auto many = rows_of(make_random(41, 23, kSeed));
  EXPECT_TRUE(std::equal(few.begin(), few.end(), many.begin()));
  const auto s_few = rows_of(make_structured(3, 23, 4, kSeed));
  const auto s_many = rows_of(make_structured(17, 23, 4, kSeed));
  EXPECT_TRUE(std::equal(s_few.begin(), s_few.end(), s_many.begin()));
}

TEST(Synthetic, StructuredIsTheSameForTheSameSeedAndDiffersAcrossSeeds) {
  const auto a = rows_of(make_structured(31, 19, 3, kSeed));
  EXPECT_EQ(a, rows_of(make_structured(31, 19, 3, kSeed)));
  const auto b = rows_of(make_structured(31, 19, 3, kSeed + 1));
  size_t equal = 0;
  for (size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i];
  EXPECT_LT(equal, a.size() / 100);
}

TEST(Synthetic, StructuredMatchesTheDocumentedFormulaInDouble) {
  const int64_t rows = 23, cols = 17, latent = 5;
  const auto out = rows_of(make_structured(rows, cols, latent, kSeed));
  constexpr uint64_t kLatent = 0x4C41544E, kMix = 0x4D495821, kOffset = 0x4F464653;  // synthetic.h streams
  std::vector<double> expected(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      double pre = rng::uniform_at(kSeed, kOffset, static_cast<uint64_t>(c)) - 0.5;
      for (int64_t k = 0; k < latent; ++k) {
        const double z = 2.0 * rng::uniform_at(kSeed, kLatent, static_cast<uint64_t>(r * latent + k)) - 1;
        const double a = (2.0 * rng::uniform_at(kSeed, kMix, static_cast<uint64_t>(c * latent + k)) - 1) *
                         2 * std::sqrt(3.0 / latent);
        pre += a * z;
      }
      expected[static_cast<size_t>(r * cols + c)] = ref::act(Activation::sigmoid, pre);
    }
  // K products summed in float32 before one expf: a few roundings of O(1) values.
  EXPECT_LE(ref::relative_error(out, expected), tol::kDense);
}

TEST(Synthetic, StructuredValuesSuitBinaryCrossEntropy) {
  const auto v = rows_of(make_structured(53, 41, 6, kSeed));
  EXPECT_GT(*std::min_element(v.begin(), v.end()), 0.0f);
  EXPECT_LT(*std::max_element(v.begin(), v.end()), 1.0f);
  // Not collapsed onto 0 or 1: the latent map has spread, so there is something to learn.
  double mean = 0, var = 0;
  for (float x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (float x : v) var += (x - mean) * (x - mean);
  EXPECT_GT(var / static_cast<double>(v.size()), 0.01);
}

TEST(Synthetic, SpecNamesTheDataSet) {
  EXPECT_EQ(load_dataset("random:3,4").name(), "random:3,4");
  EXPECT_EQ(load_dataset("structured:3,4,2").name(), "structured:3,4,2");
}

}  // namespace
}  // namespace cuae
