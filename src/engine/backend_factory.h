// The one way to get a ready backend: configuration -> layout -> backend on a device -> initial
// weights. The Model, profiling, the benchmarks and the tests all start here.
#pragma once

#include <memory>

#include "cuae/backend_options.h"
#include "cuae/device.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"
#include "engine/backend.h"

namespace cuae {

struct ReadyBackend {
  ModelConfig config;       // validated
  ParameterLayout layout;   // make_layout(config)
  std::unique_ptr<Backend> backend;  // holding initial_parameters(config, layout), optimizer at step 0
};

// Throws cuae::Error naming the first invalid config field, cuae::CudaError when the device cannot
// be used (e.g. "no CUDA device: ..."), cuae::OutOfMemoryError with the bytes needed and free.
ReadyBackend make_ready_backend(const ModelConfig& config, Device device, const BackendOptions& options);

// The backend for a device, uninitialised. Defined once per build flavour: engine/device_backends.cpp
// (the real CUDA backend, or none) and tests/backends/emulated_device_backends.cpp (the CUDA backend on
// the host SIMT emulation).
std::unique_ptr<Backend> create_backend(const ModelConfig& config, const ParameterLayout& layout, Device device,
                                        const BackendOptions& options);

// The CPU backend (src/cpu), in every flavour.
std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config, const ParameterLayout& layout,
                                          const BackendOptions& options);

}  // namespace cuae
