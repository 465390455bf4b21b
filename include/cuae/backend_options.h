// How a backend executes a model: options that change the speed, never what is computed (except
// allow_tf32, which lets cuBLAS/cuDNN round to TF32). Plain C++: no CUDA needed.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

namespace cuae {

struct BackendOptions {
  enum class Forward { fused, cublas, cudnn };
  Forward forward = Forward::fused;  // CUDA: hand-written fused dense kernel, or library baselines
  bool cuda_graphs = true;           // CUDA: replay the steady-state step from a captured graph
  bool allow_tf32 = false;           // CUDA: let cuBLAS/cuDNN use TF32 tensor cores
  int64_t device_memory_budget = 0;  // CUDA: bytes the resident data set may use; 0 = what is free
  int cpu_threads = 0;               // CPU: OpenMP/OpenBLAS threads; 0 = all cores

  friend bool operator==(const BackendOptions&, const BackendOptions&) = default;
};

inline constexpr std::array<std::pair<BackendOptions::Forward, std::string_view>, 3> kForwardNames{{
    {BackendOptions::Forward::fused, "fused"},
    {BackendOptions::Forward::cublas, "cublas"},
    {BackendOptions::Forward::cudnn, "cudnn"},
}};

}  // namespace cuae
