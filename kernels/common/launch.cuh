// The one way kernels are launched. Under nvcc this is cudaLaunchKernelEx; in the host SIMT
// emulation the same call runs the kernel's threads as fibers on the CPU. A launch error throws
// cuae::CudaError naming the kernel and its grid.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "cuae/error.h"

namespace cuae::kernels {

inline std::string dim3_str(dim3 d) {
  return std::to_string(d.x) + "x" + std::to_string(d.y) + "x" + std::to_string(d.z);
}

template <typename... KernelArgs, typename... Args>
void launch(const char* kernel_name, void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t shared_bytes,
            cudaStream_t stream, Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;  // empty problem, e.g. 0 rows
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  cudaError_t error = cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
  if (error == cudaSuccess) error = cudaGetLastError();
  if (error != cudaSuccess) {
    throw CudaError(std::string(kernel_name) + ": launch failed on grid " + dim3_str(grid) + ", block " +
                    dim3_str(block) + ", " + std::to_string(shared_bytes) + " B shared: " +
                    cudaGetErrorName(error) + " (" + cudaGetErrorString(error) + ")");
  }
}

inline unsigned ceil_div(int64_t a, int64_t b) { return static_cast<unsigned>((a + b - 1) / b); }

// Launcher validation: throws cuae::ShapeError "<kernel>: <message>".
inline void require_shape(bool ok, const char* kernel, const std::string& message) {
  if (!ok) throw ShapeError(std::string(kernel) + ": " + message);
}
inline void require_pointer(const void* pointer, const char* kernel, const char* name, const std::string& shape) {
  if (pointer == nullptr) throw Error(std::string(kernel) + ": " + name + " is null (" + shape + ")");
}

}  // namespace cuae::kernels
