// Backend selection for the real library: the CPU backend always, the CUDA backend when built.
#include <memory>

#include "cuae/config.h"
#include "cuae/error.h"
#include "engine/backend_factory.h"

#if CUAE_HAS_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/cudnn/cudnn_forward.h"
#endif

namespace cuae {

std::unique_ptr<Backend> create_backend(const ModelConfig& config, const ParameterLayout& layout, Device device,
                                        const BackendOptions& options) {
  if (device.kind == DeviceKind::cpu) return make_cpu_backend(config, layout, options);
#if CUAE_HAS_CUDA
  return make_cuda_backend(config, layout, device.index, options);
#else
  throw CudaError("Device " + device.str() + ": this build of cuae has no CUDA backend (built with CUAE_CUDA=OFF " +
                  "or without nvcc); use Device::cpu()");
#endif
}

CudaStatus cuda_status() {
#if CUAE_HAS_CUDA
  return probe_cuda();
#else
  CudaStatus status;
  status.reason = "this build of cuae has no CUDA backend";
  return status;
#endif
}

std::string cudnn_status() {
#if CUAE_HAS_CUDA
  return cuda::cudnn_library_status();
#else
  return "not built: this build of cuae has no CUDA backend";
#endif
}

}  // namespace cuae
