// Test helpers for the kernel tests: an RAII device array over the CUDA runtime API (real, or the
// host SIMT emulation's), and the fixture that skips when no device answers.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <limits>
#include <cstddef>
#include <string>
#include <vector>

#include "cuae/error.h"

namespace cuae::test {

inline void cuda_check(cudaError_t error, const char* what, size_t bytes) {
  if (error != cudaSuccess)
    throw CudaError(std::string(what) + " of " + std::to_string(bytes) + " B failed: " + cudaGetErrorString(error));
}

// Move-only device array of T. `extra` leading elements let a test offset the pointer it hands to a
// kernel (e.g. by one float) to force the scalar, unaligned path.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t size, size_t offset = 0) : size_(size), offset_(offset) {
    const size_t bytes = (size + offset) * sizeof(T);
    if (bytes > 0) cuda_check(cudaMalloc(reinterpret_cast<void**>(&base_), bytes), "cudaMalloc", bytes);
  }
  explicit DeviceArray(const std::vector<T>& host, size_t offset = 0) : DeviceArray(host.size(), offset) {
    upload(host);
  }
  DeviceArray(DeviceArray&& other) noexcept : base_(other.base_), size_(other.size_), offset_(other.offset_) {
    other.base_ = nullptr;
  }
  DeviceArray& operator=(DeviceArray&&) = delete;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (base_ != nullptr) cudaFree(base_);
  }

  T* get() const { return base_ == nullptr ? nullptr : base_ + offset_; }
  size_t size() const { return size_; }

  void upload(const std::vector<T>& host) {
    ASSERT_EQ(host.size(), size_);
    if (size_ > 0) cuda_check(cudaMemcpy(get(), host.data(), size_ * sizeof(T), cudaMemcpyHostToDevice), "upload", size_ * sizeof(T));
  }
  // Waits for the device, then copies back.
  std::vector<T> download() const {
    std::vector<T> host(size_);
    cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize before download", size_ * sizeof(T));
    if (size_ > 0) cuda_check(cudaMemcpy(host.data(), get(), size_ * sizeof(T), cudaMemcpyDeviceToHost), "download", size_ * sizeof(T));
    return host;
  }
  // Fills with NaN (floats) so that any element a kernel fails to write shows up in the comparison.
  void poison() { upload(std::vector<T>(size_, std::numeric_limits<T>::quiet_NaN())); }

 private:
  T* base_ = nullptr;
  size_t size_ = 0;
  size_t offset_ = 0;
};

// Every kernel test derives from this: without a device the test is skipped with the runtime's reason.
class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess) {
      GTEST_SKIP() << "no CUDA device: " << cudaGetErrorName(error) << " (" << cudaGetErrorString(error) << ")";
    }
    if (count == 0) GTEST_SKIP() << "no CUDA device: cudaGetDeviceCount found 0 devices";
  }
};

}  // namespace cuae::test
