// A RAII cuBLAS handle bound to one stream, and the three row-major GEMMs of a dense layer written
// as column-major cuBLAS calls. A row-major [R, C] matrix is a column-major [C, R] one with the same
// leading dimension C, so each product is computed transposed:
//   forward      Y[M,N]  = X[M,K] · W[N,K]^T   ->  Y^T = W · X^T     : gemm(T, N, N, M, K; W, K; X, K; Y, N)
//   weight grad  dW[N,K] = dZ[M,N]^T · A[M,K]  ->  dW^T = A^T · dZ   : gemm(N, T, K, N, M; A, K; dZ, N; dW, K)
//   input grad   dA[M,K] = dZ[M,N] · W[N,K]    ->  dA^T = W^T · dZ^T : gemm(N, N, K, M, N; W, K; dZ, N; dA, K)
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <string>
#include <utility>

#include "cuae/error.h"
#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"

namespace cuae::cuda {

class CublasHandle {
 public:
  // tf32: allow TF32 tensor cores; otherwise FP32 products exactly as IEEE single precision.
  CublasHandle(cudaStream_t stream, bool tf32) : workspace_(kWorkspaceBytes, "cuBLAS workspace") {
    CUBLAS_CHECK(cublasCreate(&handle_));
    try {
      CUBLAS_CHECK(cublasSetStream(handle_, stream));
      // A fixed, user-owned workspace: cuBLAS must not allocate while a CUDA graph is being captured.
      CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace_.data(), workspace_.bytes()));
      CUBLAS_CHECK(cublasSetMathMode(handle_, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
      CUBLAS_CHECK(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_HOST));
    } catch (...) {
      cublasDestroy(handle_);
      throw;
    }
  }
  ~CublasHandle() {
    if (handle_ != nullptr) cublasDestroy(handle_);
  }
  CublasHandle(CublasHandle&& other) noexcept
      : workspace_(std::move(other.workspace_)), handle_(std::exchange(other.handle_, nullptr)) {}
  CublasHandle& operator=(CublasHandle&&) = delete;
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;

  cublasHandle_t get() const { return handle_; }

  // 32 MiB: NVIDIA's recommended workspace for Hopper (4 MiB suffices on older GPUs).
  static constexpr size_t kWorkspaceBytes = size_t{32} << 20;

  // Y[m, n] = X[m, k] · W[n, k]^T
  void forward(const float* x, const float* w, float* y, int64_t m, int n, int k) const {
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, n, rows_as_int(m, "forward"), k, w, k, x, k, y, n);
  }
  // dW[n, k] = dZ[m, n]^T · A[m, k]
  void weight_grad(const float* dz, const float* a, float* dw, int64_t m, int n, int k) const {
    gemm(CUBLAS_OP_N, CUBLAS_OP_T, k, n, rows_as_int(m, "weight_grad"), a, k, dz, n, dw, k);
  }
  // dA[m, k] = dZ[m, n] · W[n, k]
  void input_grad(const float* dz, const float* w, float* da, int64_t m, int n, int k) const {
    gemm(CUBLAS_OP_N, CUBLAS_OP_N, k, rows_as_int(m, "input_grad"), n, w, k, dz, n, da, k);
  }

  // The batch rows m as cuBLAS's 32-bit `int`. A larger m would wrap to a negative or smaller size and
  // compute on the wrong rows, so it is refused with the product's name and the value.
  static int rows_as_int(int64_t m, const char* product) {
    if (m < 0 || m > INT_MAX)
      throw ShapeError("CublasHandle::" + std::string(product) + ": m = " + std::to_string(m) + " batch rows " +
                       (m < 0 ? std::string("is negative") : "exceeds INT_MAX = " + std::to_string(INT_MAX)) +
                       ", the most cuBLAS's 32-bit interface can address; use a smaller batch");
    return static_cast<int>(m);
  }

 private:
  // n and k are int already (layer widths); m was checked by rows_as_int.
  void gemm(cublasOperation_t op_a, cublasOperation_t op_b, int rows, int cols, int inner, const float* a, int lda,
            const float* b, int ldb, float* c, int ldc) const {
    if (rows == 0 || cols == 0) return;
    if (rows < 0 || cols < 0 || inner < 0)
      throw ShapeError("CublasHandle: negative GEMM dimension (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + ", " + std::to_string(inner) + ")");
    const float one = 1.0f, zero = 0.0f;
    CUBLAS_CHECK(cublasSgemm(handle_, op_a, op_b, rows, cols, inner, &one, a, lda, b, ldb, &zero, c, ldc));
  }

  DeviceBuffer<unsigned char> workspace_;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace cuae::cuda
