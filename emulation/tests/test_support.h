// Helpers shared by the SIMT emulation's self tests: a launch shortcut and an RAII device array.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace cuae_simt::test {

template <typename... KernelArgs, typename... Args>
cudaError_t launch(dim3 grid, dim3 block, size_t shared_bytes, void (*kernel)(KernelArgs...), Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

// Device memory holding `count` elements, NaN-poisoned by cudaMalloc; move-only.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count) : count_(count) {
    if (cudaMalloc(&data_, count * sizeof(T)) != cudaSuccess) throw std::bad_alloc();
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  DeviceArray(DeviceArray&& other) noexcept : data_(std::exchange(other.data_, nullptr)), count_(other.count_) {}
  DeviceArray& operator=(DeviceArray&&) = delete;
  ~DeviceArray() { cudaFree(data_); }

  T* get() const { return data_; }
  std::vector<T> to_host() const {
    std::vector<T> host(count_);
    cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost);
    return host;
  }

 private:
  T* data_ = nullptr;
  size_t count_;
};

// Restores the thread order the test found (the environment's, or forward).
class ScopedOrder {
 public:
  explicit ScopedOrder(ThreadOrder order, uint64_t seed = 1) : previous_(thread_order()) { set_thread_order(order, seed); }
  ScopedOrder(const ScopedOrder&) = delete;
  ScopedOrder& operator=(const ScopedOrder&) = delete;
  ~ScopedOrder() { set_thread_order(previous_, 1); }

 private:
  ThreadOrder previous_;
};

inline const char* order_name(ThreadOrder order) {
  return order == ThreadOrder::forward ? "forward" : order == ThreadOrder::reverse ? "reverse" : "random";
}

}  // namespace cuae_simt::test
