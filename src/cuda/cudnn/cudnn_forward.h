// The cuDNN forward baseline (`--forward cudnn`, issue 6): one dense layer
//   y[M, N] = act(x[M, K] · w[N, K]^T + bias[N]),  pre[M, N] = x · w^T + bias when requested,
// run as one cuDNN graph (matmul -> bias add -> activation) so the hand-written fused kernel and the
// cuBLAS path can be compared with what NVIDIA's own fusion engine makes of the same layer.
//
// This header needs no cuDNN headers (only cudaStream_t), so CudaNetwork can hold the baseline in
// every CUDA build. cuDNN itself is loaded at run time (cudnn_library.h): libcuae does not link it.
// Builds without cuDNN headers, and the emulated backend, compile cudnn_unavailable.cpp instead,
// whose constructor throws CudnnUnavailableError.
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "cuae/error.h"
#include "kernels/kernels.h"

namespace cuae::cuda {

// The baseline is not built, or libcudnn.so.9 cannot be loaded: callers report it and carry on.
class CudnnUnavailableError : public CudaError {
 public:
  using CudaError::CudaError;
};

// cuDNN's heuristics offer no engine configuration that finalizes for this layer's shape, activation
// and precision on this GPU. The message names the shape and why each candidate was turned down.
class CudnnNoEngineError : public CudaError {
 public:
  using CudaError::CudaError;
};

// Whether this build contains the cuDNN baseline (false in CPU/emulated builds or without cuDNN).
bool cudnn_forward_built();
// "cuDNN 9.19.0 (path)" when the baseline is built and libcudnn.so.9 loads, else the reason. Never throws.
std::string cudnn_library_status();

class CudnnDenseForward {
 public:
  // Loads cuDNN and creates a handle bound to `stream`. allow_tf32 admits engines that use tensor
  // cores on FP32 data (TF32 products); otherwise only exact FP32 engines are used. Throws
  // CudnnUnavailableError when the baseline is not built or libcudnn.so.9 cannot be loaded.
  CudnnDenseForward(cudaStream_t stream, bool allow_tf32);
  ~CudnnDenseForward();  // never throws
  CudnnDenseForward(CudnnDenseForward&&) noexcept;
  CudnnDenseForward& operator=(CudnnDenseForward&&) noexcept;
  CudnnDenseForward(const CudnnDenseForward&) = delete;
  CudnnDenseForward& operator=(const CudnnDenseForward&) = delete;

  // Builds and caches the execution plan for p's shape (m, n, k, act, slope, bias and pre present,
  // pointer alignment) unless cached; grows the device workspace if the plan needs more. Returns
  // true when the workspace was reallocated (a captured CUDA graph holding the old pointer is
  // stale). Must be called outside stream capture. Throws CudnnNoEngineError when no engine works.
  // Zero rows or columns need no plan (returns false).
  bool prepare(const kernels::DenseForwardParams& p);

  // Enqueues the fused forward on the stream. p's shape must have been prepared (throws otherwise).
  // No host synchronisation and no allocation, so it may be called inside CUDA graph capture.
  void forward(const kernels::DenseForwardParams& p) const;

  // The cuDNN library and engine behind p's prepared plan, for reports, e.g.
  // "cuDNN 9.19.0 (/usr/lib/libcudnn.so.9), engine 12 (heuristics A), notes: runtime compilation, workspace 0 B".
  std::string describe(const kernels::DenseForwardParams& p) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cuae::cuda
