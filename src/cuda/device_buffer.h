// RAII, move-only owners of device memory (DeviceBuffer<T>) and page-locked host memory
// (PinnedBuffer<T>). Sizes are in elements. Allocation failure throws cuae::OutOfMemoryError giving
// the bytes asked for and the bytes free; copies check their sizes.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <span>
#include <string>
#include <utility>

#include "cuae/error.h"
#include "cuda/cuda_check.h"

namespace cuae::cuda {

// Free and total device memory of the current device, in bytes.
inline std::pair<size_t, size_t> memory_info() {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {free_bytes, total_bytes};
}

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // `what` names the buffer in the out-of-memory message, e.g. "parameters".
  explicit DeviceBuffer(size_t count, const char* what = "buffer") : count_(count) {
    if (count == 0) return;
    void* raw = nullptr;
    const cudaError_t error = cudaMalloc(&raw, bytes());
    if (error == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // reset the last-error state so later checks are not blamed
      size_t free_bytes = 0, total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      throw OutOfMemoryError("cudaMalloc(" + std::string(what) + "): out of device memory: needs " +
                             std::to_string(bytes()) + " bytes, " + std::to_string(free_bytes) + " bytes free of " +
                             std::to_string(total_bytes));
    }
    if (error != cudaSuccess) throw_cuda_error(error, "cudaMalloc", __FILE__, __LINE__);
    data_ = static_cast<T*>(raw);
  }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() const { return data_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

  // Stream-ordered copies of whole host spans; the span must match the buffer's size.
  void upload(std::span<const T> host, cudaStream_t stream) {
    check_size(host.size(), "upload");
    if (!host.empty()) CUDA_CHECK(cudaMemcpyAsync(data_, host.data(), bytes(), cudaMemcpyHostToDevice, stream));
  }
  void download(std::span<T> host, cudaStream_t stream) const {
    check_size(host.size(), "download");
    if (!host.empty()) CUDA_CHECK(cudaMemcpyAsync(host.data(), data_, bytes(), cudaMemcpyDeviceToHost, stream));
  }
  void zero(cudaStream_t stream) {
    if (count_ != 0) CUDA_CHECK(cudaMemsetAsync(data_, 0, bytes(), stream));
  }

 private:
  void check_size(size_t host_count, const char* op) const {
    if (host_count != count_) {
      throw ShapeError("DeviceBuffer::" + std::string(op) + ": host span has " + std::to_string(host_count) +
                       " elements, device buffer has " + std::to_string(count_));
    }
  }
  void release() noexcept {
    if (data_ != nullptr) CUDA_CHECK_NOTHROW(cudaFree(data_));
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  size_t count_ = 0;
};

template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t count) : count_(count) {
    if (count == 0) return;
    void* raw = nullptr;
    const cudaError_t error = cudaMallocHost(&raw, count * sizeof(T));
    if (error == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      throw OutOfMemoryError("cudaMallocHost: cannot pin " + std::to_string(count * sizeof(T)) +
                             " bytes of host memory");
    }
    if (error != cudaSuccess) throw_cuda_error(error, "cudaMallocHost", __FILE__, __LINE__);
    data_ = static_cast<T*>(raw);
  }
  ~PinnedBuffer() { release(); }
  PinnedBuffer(PinnedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  T* data() const { return data_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }
  std::span<T> span() const { return {data_, count_}; }

 private:
  void release() noexcept {
    if (data_ != nullptr) CUDA_CHECK_NOTHROW(cudaFreeHost(data_));
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace cuae::cuda
