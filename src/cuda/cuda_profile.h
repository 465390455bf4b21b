// Device peaks of a CUDA GPU for the roofline of `cuae bench` (src/profile/profile.h). Plain C++: no CUDA
// types cross this header, so src/profile/profile.cpp compiles without nvcc.
#pragma once

#include <string>

namespace cuae::cuda {

struct Peaks {
  double gemm_flops = 0;   // FLOP/s of a large FP32 cublasSgemm (no TF32)
  double copy_bytes = 0;   // bytes/s of a large device-to-device copy, read + write
  std::string gemm_source;
  std::string copy_source;
};

// Best of a few timed runs (CUDA events) on device `index`. Throws cuae::CudaError without a device.
Peaks measure_peaks(int index);

}  // namespace cuae::cuda
