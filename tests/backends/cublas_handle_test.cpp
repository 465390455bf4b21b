// CublasHandle (src/cuda/cublas_handle.h) on the emulation's cuBLAS substitute: cuBLAS takes every
// dimension as a 32-bit int, so a batch of more than INT_MAX rows must be refused with an error that
// names the product and the value, before any cuBLAS call; a valid GEMM still computes Y = X · W^T.
// No buffer of INT_MAX rows is allocated: the check throws before a pointer is touched.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/cublas_handle.h"
#include "support/device_array.h"
#include "support/reference.h"
#include "support/tolerances.h"

namespace cuae::cuda {
namespace {

constexpr int64_t kTooManyRows = int64_t{INT_MAX} + 1;

template <typename Call>
void expect_refused(Call call, const std::string& product, int64_t m) {
  try {
    call();
    FAIL() << product << " with m = " << m << " was accepted";
  } catch (const ShapeError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(product), std::string::npos) << message;
    EXPECT_NE(message.find("m = " + std::to_string(m)), std::string::npos) << message;
  }
}

TEST(EmulatedCublasHandle, RowsBeyondIntMaxAreRefusedWithTheProductAndValue) {
  CublasHandle cublas(nullptr, /*tf32=*/false);
  for (int64_t m : {kTooManyRows, int64_t{1} << 40, int64_t{-1}}) {
    SCOPED_TRACE("m = " + std::to_string(m));
    expect_refused([&] { cublas.forward(nullptr, nullptr, nullptr, m, 3, 4); }, "forward", m);
    expect_refused([&] { cublas.weight_grad(nullptr, nullptr, nullptr, m, 3, 4); }, "weight_grad", m);
    expect_refused([&] { cublas.input_grad(nullptr, nullptr, nullptr, m, 3, 4); }, "input_grad", m);
  }
  EXPECT_EQ(CublasHandle::rows_as_int(INT_MAX, "forward"), INT_MAX);  // the largest m still accepted
}

// The checks must not change a valid product: Y[m, n] = X[m, k] · W[n, k]^T against a double reference.
TEST(EmulatedCublasHandle, ValidForwardStillMatchesTheReference) {
  constexpr int64_t m = 5;
  constexpr int n = 3, k = 7;
  const std::vector<float> x = ref::random_floats(m * k, 11, -1, 1);
  const std::vector<float> w = ref::random_floats(n * k, 12, -1, 1);
  test::DeviceArray<float> dx(x), dw(w), dy(m * n);
  dy.poison();
  CublasHandle cublas(nullptr, /*tf32=*/false);
  cublas.forward(dx.get(), dw.get(), dy.get(), m, n, k);
  std::vector<double> expected(m * n, 0.0);
  for (int64_t r = 0; r < m; ++r)
    for (int c = 0; c < n; ++c)
      for (int i = 0; i < k; ++i) expected[r * n + c] += static_cast<double>(x[r * k + i]) * w[c * k + i];
  EXPECT_LE(ref::relative_error(dy.download(), expected), tol::kDense);
}

}  // namespace
}  // namespace cuae::cuda
