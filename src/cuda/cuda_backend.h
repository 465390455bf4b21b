// Entry points of the CUDA backend (src/cuda). Plain C++: no CUDA types cross this header, so the
// backend factory compiles without nvcc.
#pragma once

#include <memory>

#include "cuae/backend_options.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"
#include "engine/backend.h"

namespace cuae {

// Throws cuae::CudaError when no device answers, e.g. "no CUDA device: CUDA driver is missing or too
// old (cudaErrorInsufficientDriver); use --device cpu".
std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& config, const ParameterLayout& layout, int device_index,
                                           const BackendOptions& options);
CudaStatus probe_cuda();

}  // namespace cuae
