// cuDNN 9 loaded at run time, and RAII owners of its handle and backend descriptors.
//
// Why dlopen rather than linking: on the GPU machines cuDNN often exists only inside PyTorch's wheel
// (site-packages/nvidia/cudnn/lib), and libcuae must still load, train and report where cuDNN is
// absent. So libcuae links no cuDNN library; the first CudnnDenseForward opens libcudnn.so.9 (then
// libcudnn.so) with the dynamic loader's search path (LD_LIBRARY_PATH, the ld.so cache) and resolves
// the few entry points below, once per process. The headers are only used for types and constants.
//
// Errors: every failing call throws cuae::CudaError naming the function, the stage and cuDNN's status
// text, e.g. "cudnnBackendFinalize failed while finalizing the matmul operation: CUDNN_STATUS_BAD_PARAM
// (...)"; a library that cannot be loaded throws CudnnUnavailableError.
#pragma once

#include <cudnn_backend.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <optional>
#include <string>

#include "cuda/cudnn/cudnn_forward.h"

namespace cuae::cuda::cudnn {

// The entry points the baseline calls, as pointers of the exact cuDNN types.
struct Api {
  decltype(&cudnnGetVersion) get_version = nullptr;
  decltype(&cudnnCreate) create = nullptr;
  decltype(&cudnnDestroy) destroy = nullptr;
  decltype(&cudnnSetStream) set_stream = nullptr;
  decltype(&cudnnGetErrorString) get_error_string = nullptr;
  decltype(&cudnnBackendCreateDescriptor) create_descriptor = nullptr;
  decltype(&cudnnBackendDestroyDescriptor) destroy_descriptor = nullptr;
  decltype(&cudnnBackendSetAttribute) set_attribute = nullptr;
  decltype(&cudnnBackendGetAttribute) get_attribute = nullptr;
  decltype(&cudnnBackendFinalize) finalize = nullptr;
  decltype(&cudnnBackendExecute) execute = nullptr;
  // Optional (null if absent): cuDNN's detailed message for the last failure, added to our errors.
  decltype(&cudnnGetLastErrorString) get_last_error_string = nullptr;

  size_t version = 0;        // cudnnGetVersion(), e.g. 91900
  std::string library_path;  // the file the loader opened
};

// Loads cuDNN on first use (thread-safe, once per process; a failure is remembered and rethrown).
// Throws CudnnUnavailableError when libcudnn.so.9 cannot be opened, lacks an entry point, or is not 9.x.
const Api& api();

// "CUDNN_STATUS_BAD_PARAM (cuDNN's last error message)".
std::string status_text(cudnnStatus_t status);
// True for the CUDNN_STATUS_NOT_SUPPORTED family: the engine or graph is not supported, not misused.
bool is_not_supported(cudnnStatus_t status);
// Throws CudaError "<function> failed while <stage>: <status_text>" unless status is success.
void check(cudnnStatus_t status, const char* function, const std::string& stage);

// A cudnnBackendDescriptor_t of one type. `what` names it in error messages ("the matmul operation").
class Descriptor {
 public:
  Descriptor(cudnnBackendDescriptorType_t type, std::string what);
  ~Descriptor();  // never throws
  Descriptor(Descriptor&& other) noexcept;
  Descriptor& operator=(Descriptor&& other) noexcept;
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  cudnnBackendDescriptor_t get() const { return descriptor_; }
  const std::string& what() const { return what_; }

  void set(cudnnBackendAttributeName_t attribute, cudnnBackendAttributeType_t type, int64_t count,
           const void* values);
  void set(cudnnBackendAttributeName_t attribute, const Descriptor& value);
  void set(cudnnBackendAttributeName_t attribute, int64_t value);
  // Finalizes or throws; try_finalize returns the status for callers that treat failure as an answer.
  void finalize();
  cudnnStatus_t try_finalize();

 private:
  void release() noexcept;

  cudnnBackendDescriptor_t descriptor_ = nullptr;
  std::string what_;
};

// The engine chosen for a finalized operation graph, and its finalized execution plan.
struct EngineChoice {
  Descriptor config;
  Descriptor plan;
  int64_t workspace_bytes = 0;
  std::string description;  // "engine 12 (heuristics A, numerical notes: tensor core; ...), workspace 0 B"
};

// Asks the heuristics (mode A, then FALLBACK) for configurations of `graph` and returns the first
// whose execution plan finalizes and whose engine keeps FP32 semantics: no tensor cores (TF32) unless
// allow_tf32, never down-converted inputs, reduced-precision reductions or nondeterminism. When none
// does, returns nothing and says in `why_none` what each heuristic offered and why it was turned down.
std::optional<EngineChoice> choose_engine(const Descriptor& graph, cudnnHandle_t handle, bool allow_tf32,
                                          std::string& why_none);

// A cudnnHandle_t bound to one stream.
class Handle {
 public:
  explicit Handle(cudaStream_t stream);
  ~Handle();  // never throws
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  cudnnHandle_t get() const { return handle_; }

 private:
  void release() noexcept;

  cudnnHandle_t handle_ = nullptr;
};

}  // namespace cuae::cuda::cudnn
