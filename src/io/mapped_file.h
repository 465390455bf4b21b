// Read-only memory maps of data files, so that large .npy and raw float32 sets are paged in by the
// kernel on demand instead of being copied into the heap.
#pragma once

#include <cstddef>
#include <filesystem>

#include "cuae/dataset.h"

namespace cuae::data {

// The whole file mapped read-only (PROT_READ, MAP_PRIVATE). Move-only; unmaps in the destructor.
// An empty file maps to data() == nullptr, size() == 0.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release() noexcept;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// DatasetStorage over a MappedFile: a Dataset built on it shares the map with all its slices.
class MappedStorage final : public DatasetStorage {
 public:
  explicit MappedStorage(MappedFile file) : file_(std::move(file)) {}
  const void* data() const override { return file_.data(); }
  size_t size_bytes() const override { return file_.size(); }

 private:
  MappedFile file_;
};

}  // namespace cuae::data
