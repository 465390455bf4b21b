// Where a model runs. Device::cuda(n) is only usable in builds with the CUDA backend and with a
// working driver; otherwise constructing a Model on it throws cuae::CudaError saying why.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cuae {

enum class DeviceKind { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu() { return {DeviceKind::cpu, 0}; }
  static Device cuda(int index = 0) { return {DeviceKind::cuda, index}; }
  // The first CUDA device when one is usable, else the CPU.
  static Device best();
  // "cpu", "cuda", "cuda:N". ("auto" is the CLI's business: it maps to best().)
  static Device parse(std::string_view);
  std::string str() const;

  friend bool operator==(const Device&, const Device&) = default;
};

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  size_t total_memory = 0;
};

struct CudaStatus {
  bool built = false;     // the CUDA backend was compiled in
  bool usable = false;    // at least one device answered
  std::string reason;     // why not usable, e.g. "CUDA driver is missing or too old (cudaErrorInsufficientDriver)"
  std::vector<CudaDeviceInfo> devices;
};

// Probes the CUDA runtime once (cheap after the first call). Never throws.
CudaStatus cuda_status();

// The cuDNN library behind BackendOptions::Forward::cudnn, e.g. "cuDNN 9.19.0 (/usr/lib/.../libcudnn.so.9)",
// or why that forward cannot run ("not built ...", "cuDNN is not available: cannot load ..."). Loads
// cuDNN on the first call. Never throws.
std::string cudnn_status();

}  // namespace cuae
