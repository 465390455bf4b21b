// probe_cuda() and device selection: the only place that interprets "no device" errors.
#include <cuda_runtime.h>

#include <string>

#include "cuae/error.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_check.h"
#include "cuda/probe.h"

namespace cuae {
namespace cuda {

std::string no_device_reason(int error_code) {
  const auto error = static_cast<cudaError_t>(error_code);
  const std::string name = cudaGetErrorName(error);
  if (error == cudaErrorInsufficientDriver) return "CUDA driver is missing or too old (" + name + ")";
  if (error == cudaErrorNoDevice) return "no CUDA-capable device is present (" + name + ")";
  return std::string(cudaGetErrorString(error)) + " (" + name + ")";
}

namespace {

CudaDeviceInfo query_device(int index) {
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, index));
  CudaDeviceInfo info;
  info.index = index;
  info.name = properties.name;
  info.compute_major = properties.major;
  info.compute_minor = properties.minor;
  info.total_memory = properties.totalGlobalMem;
  return info;
}

}  // namespace

CudaDeviceInfo select_device(int index) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();
    throw CudaError("no CUDA device: " + no_device_reason(error) + "; use --device cpu");
  }
  if (count == 0) throw CudaError("no CUDA device: the CUDA runtime reports 0 devices; use --device cpu");
  if (index < 0 || index >= count) {
    throw CudaError("Device cuda:" + std::to_string(index) + ": no such device, " + std::to_string(count) +
                    " CUDA device(s) present (cuda:0 .. cuda:" + std::to_string(count - 1) + ")");
  }
  CUDA_CHECK(cudaSetDevice(index));
  return query_device(index);
}

}  // namespace cuda

namespace {

CudaStatus probe_once() {
  CudaStatus status;
  status.built = true;
  try {
    int count = 0;
    const cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess) {
      (void)cudaGetLastError();
      status.reason = cuda::no_device_reason(error);
      return status;
    }
    for (int i = 0; i < count; ++i) status.devices.push_back(cuda::query_device(i));
    status.usable = !status.devices.empty();
    if (!status.usable) status.reason = "the CUDA runtime reports 0 devices";
  } catch (const std::exception& e) {
    status.usable = false;
    status.reason = e.what();
  }
  return status;
}

}  // namespace

CudaStatus probe_cuda() {
  // Devices do not come and go within a process; the first answer is kept (a C++ magic static, so
  // concurrent first calls are safe).
  static const CudaStatus status = probe_once();
  return status;
}

}  // namespace cuae
