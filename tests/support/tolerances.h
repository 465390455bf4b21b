// Per-op tolerances on ‖out − ref‖/‖ref‖ against the double-precision references in reference.h.
// One table, so a reader sees every bound and its reason in one place.
#pragma once

namespace cuae::tol {

// FP32 dot products of length K accumulate rounding ~ sqrt(K)·2^-24 relative; K ≤ 4096 in tests.
inline constexpr double kDense = 1e-5;
// The same with TF32 products (--allow-tf32): operands rounded to 10 mantissa bits (2^-11 relative),
// each product off by up to ~2^-10; over random-sign sums the norm-wise error stays near 1e-3.
inline constexpr double kDenseTf32 = 5e-3;
// Elementwise ops: one or two roundings of a transcendental (expf, tanhf, erff: ≤ 2 ulp).
inline constexpr double kElementwise = 1e-6;
// Summed loss over up to ~10^6 elements in FP32 partials with a fixed tree: ~log2(n)·2^-24.
inline constexpr double kLossSum = 1e-6;
// Column sums of length M in FP32.
inline constexpr double kBiasGrad = 1e-6;
// Adam/SGD update: FP32 arithmetic on O(1) values, scalars in double as PyTorch computes them.
inline constexpr double kOptimizer = 1e-6;
// Whole training steps compared across backends: differences compound through layers and steps.
inline constexpr double kTrainedWeights = 1e-4;
inline constexpr double kLossTrajectory = 1e-5;

}  // namespace cuae::tol
