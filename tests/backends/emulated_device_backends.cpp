// Backend selection for the emulated build: Device::cuda runs the real CUDA backend source compiled
// against the host SIMT emulation (emulation/), Device::cpu the CPU backend. Replaces
// src/backend_factory.cpp in the cuae_emulated library.
#include <memory>

#include "cuda/cuda_backend.h"
#include "cuda/cudnn/cudnn_forward.h"
#include "engine/backend_factory.h"

namespace cuae {

std::unique_ptr<Backend> create_backend(const ModelConfig& config, const ParameterLayout& layout, Device device,
                                        const BackendOptions& options) {
  if (device.kind == DeviceKind::cpu) return make_cpu_backend(config, layout, options);
  return make_cuda_backend(config, layout, device.index, options);
}

CudaStatus cuda_status() { return probe_cuda(); }

std::string cudnn_status() { return cuda::cudnn_library_status(); }

}  // namespace cuae
