// `cuae info`: what this build contains and what it can use here: version, backends, CUDA devices (or
// why there are none), the cuDNN library of --forward cudnn (or why it is missing), the BLAS library
// and the thread count.
#include <CLI/CLI.hpp>
#include <cblas.h>
#include <omp.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cuae/config.h"
#include "cuae/device.h"

namespace cuae::cli {

namespace {

void print_info() {
  std::printf("cuae %s\n", CUAE_VERSION);
  std::printf("backends: %s\n", backends_built().c_str());
  const CudaStatus cuda = cuda_status();
  if (cuda.usable) {
    for (const CudaDeviceInfo& d : cuda.devices) {
      std::printf("cuda:%d: %s, compute %d.%d, %.1f GiB\n", d.index, d.name.c_str(), d.compute_major, d.compute_minor,
                  static_cast<double>(d.total_memory) / (1024.0 * 1024.0 * 1024.0));
    }
  } else {
    std::printf("cuda devices: none (%s)\n", cuda.reason.c_str());
  }
  if (CUAE_HAS_CUDA) std::printf("cudnn: %s\n", cudnn_status().c_str());
  std::printf("blas: %s\n", openblas_get_config());
  std::printf("threads: %d (OpenMP), %d (OpenBLAS)\n", omp_get_max_threads(), openblas_get_num_threads());
}

}  // namespace

std::string backends_built() {
  return std::string("cpu") + (CUAE_HAS_CUDA ? ", cuda (archs " CUAE_CUDA_ARCHITECTURES ")" : "") +
         (CUAE_HAS_CUDNN ? ", cudnn" : "");
}

void add_info_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("info", "Print the version, backends, CUDA devices, BLAS and threads");
  sub->callback(print_info);
}

}  // namespace cuae::cli
