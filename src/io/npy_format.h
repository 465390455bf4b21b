// The .npy format (versions 1.0, 2.0 and 3.0): magic "\x93NUMPY", version, a little-endian header
// length (uint16 for 1.0, uint32 for 2.0/3.0), then a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (N, 28, 28), }
// and the payload. Shared by load_npy (a mapped file) and load_npz (a zip member), which is why it
// reads from bytes held by a DatasetStorage rather than from a path.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cuae/dataset.h"
#include "io/element_types.h"

namespace cuae::data {

// An array image in storage: bytes [offset, offset + size) of storage hold a complete .npy file.
struct NpyImage {
  std::shared_ptr<const DatasetStorage> storage;
  size_t offset = 0;
  size_t size = 0;
};

// Parses and validates the header, converts what needs converting (see load_npy in cuae/dataset.h)
// and returns the data set; float32 and uint8 payloads in C order stay in `image.storage`.
Dataset npy_dataset(const NpyImage& image, const std::string& name, const LoadOptions& options);

// DatasetStorage over an owned byte buffer (an inflated zip member, a reordered array).
class BufferStorage final : public DatasetStorage {
 public:
  explicit BufferStorage(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {}
  const void* data() const override { return bytes_.data(); }
  size_t size_bytes() const override { return bytes_.size(); }

 private:
  std::vector<std::byte> bytes_;
};

}  // namespace cuae::data
