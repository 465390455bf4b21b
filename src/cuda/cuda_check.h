// Error checks for CUDA runtime and cuBLAS calls. A failure throws cuae::CudaError naming the
// expression, file:line and the error's name, e.g.
//   "cudaMemcpyAsync(...) failed at src/cuda/cuda_backend.cu:120: cudaErrorInvalidValue (invalid argument)".
// Out-of-memory errors throw cuae::OutOfMemoryError instead, so callers can tell them apart.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "cuae/error.h"

namespace cuae::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t error, const char* expression, const char* file, int line) {
  std::string message = std::string(expression) + " failed at " + file + ":" + std::to_string(line) + ": " +
                        cudaGetErrorName(error) + " (" + cudaGetErrorString(error) + ")";
  if (error == cudaErrorMemoryAllocation) throw OutOfMemoryError(message);
  throw CudaError(message);
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* expression, const char* file,
                                            int line) {
  std::string message = std::string(expression) + " failed at " + file + ":" + std::to_string(line) + ": " +
                        cublasGetStatusName(status) + " (" + cublasGetStatusString(status) + ")";
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw OutOfMemoryError(message);
  throw CudaError(message);
}

}  // namespace cuae::cuda

#define CUDA_CHECK(expression)                                                           \
  do {                                                                                   \
    const cudaError_t cuae_cuda_error_ = (expression);                                   \
    if (cuae_cuda_error_ != cudaSuccess)                                                 \
      ::cuae::cuda::throw_cuda_error(cuae_cuda_error_, #expression, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(expression)                                                              \
  do {                                                                                        \
    const cublasStatus_t cuae_cublas_status_ = (expression);                                  \
    if (cuae_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                         \
      ::cuae::cuda::throw_cublas_error(cuae_cublas_status_, #expression, __FILE__, __LINE__); \
  } while (0)

// For destructors, which must not throw: report and carry on.
#define CUDA_CHECK_NOTHROW(expression) ::cuae::cuda::log_cuda_failure((expression), #expression, __FILE__, __LINE__)

namespace cuae::cuda {
inline void log_cuda_failure(cudaError_t error, const char* expression, const char* file, int line) noexcept {
  if (error == cudaSuccess) return;
  std::fprintf(stderr, "cuae: %s failed at %s:%d: %s (%s)\n", expression, file, line, cudaGetErrorName(error),
               cudaGetErrorString(error));
}
}  // namespace cuae::cuda
