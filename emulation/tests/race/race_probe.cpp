// Race mode's own proof (ctest EmulatedSimtRace*): a block reverses an array through shared memory.
// `race_probe barrier` synchronises between the stores and the loads and must run clean under
// ThreadSanitizer; `race_probe none` leaves the barrier out, and TSan must report the race between
// one thread's store and another's load even though every thread's result may still come out right.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <vector>

template <bool kBarrier>
__global__ void reverse_kernel(const float* in, float* out) {
  CUAE_SHARED(float, tile, [64]);
  tile[threadIdx.x] = in[threadIdx.x];
  if (kBarrier) __syncthreads();
  out[threadIdx.x] = tile[blockDim.x - 1 - threadIdx.x];
}

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "barrier") != 0 && std::strcmp(argv[1], "none") != 0)) {
    std::fprintf(stderr, "usage: race_probe barrier|none\n");
    return 2;
  }
  const bool barrier = std::strcmp(argv[1], "barrier") == 0;
  constexpr unsigned kThreads = 64;
  std::vector<float> host(kThreads);
  for (unsigned i = 0; i < kThreads; ++i) host[i] = static_cast<float>(i);
  float *in = nullptr, *out = nullptr;
  if (cudaMalloc(&in, kThreads * sizeof(float)) != cudaSuccess || cudaMalloc(&out, kThreads * sizeof(float)) != cudaSuccess) {
    return 1;
  }
  cudaMemcpy(in, host.data(), kThreads * sizeof(float), cudaMemcpyHostToDevice);
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(2);
  config.blockDim = dim3(kThreads);
  const cudaError_t error = barrier ? cudaLaunchKernelEx(&config, reverse_kernel<true>, in, out)
                                    : cudaLaunchKernelEx(&config, reverse_kernel<false>, in, out);
  if (error != cudaSuccess) {
    std::fprintf(stderr, "launch failed: %s\n", cudaGetErrorString(error));
    return 1;
  }
  cudaMemcpy(host.data(), out, kThreads * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(in);
  cudaFree(out);
  std::printf("race_probe %s: out[0] = %g\n", argv[1], static_cast<double>(host[0]));
  return 0;
}
