// Finding and selecting a CUDA device, with the reason in words when none is usable.
#pragma once

#include <string>

#include "cuae/device.h"

namespace cuae::cuda {

// Makes `index` the calling thread's current device. Throws cuae::CudaError when no device answers
// ("no CUDA device: CUDA driver is missing or too old (cudaErrorInsufficientDriver); use --device cpu")
// or the index is out of range.
CudaDeviceInfo select_device(int index);

// Why the runtime found no device, e.g. "CUDA driver is missing or too old (cudaErrorInsufficientDriver)".
std::string no_device_reason(int error_code);

}  // namespace cuae::cuda
