// A data set: N rows of D features, row-major, stored as float32 or uint8. uint8 values read as
// value / 255. Storage is shared and immutable, so copies of a Dataset are cheap; large files are
// memory-mapped rather than copied.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cuae/tensor.h"

namespace cuae {

enum class DType { f32, u8 };

// Backing bytes of a data set. Implementations: an owned vector, or a read-only memory map.
class DatasetStorage {
 public:
  virtual ~DatasetStorage() = default;
  virtual const void* data() const = 0;
  virtual size_t size_bytes() const = 0;
};

class Dataset {
 public:
  Dataset() = default;
  Dataset(std::shared_ptr<const DatasetStorage> storage, size_t byte_offset, DType dtype, int64_t rows,
          int64_t cols, std::string name);

  static Dataset from_floats(std::vector<float> values, int64_t rows, int64_t cols, std::string name);
  static Dataset from_bytes(std::vector<uint8_t> values, int64_t rows, int64_t cols, std::string name);
  // Copies the view.
  static Dataset from_matrix(MatrixView view, std::string name);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  DType dtype() const { return dtype_; }
  size_t element_size() const { return dtype_ == DType::u8 ? 1 : 4; }
  size_t size_bytes() const { return static_cast<size_t>(rows_ * cols_) * element_size(); }
  // Where the data came from, for messages: a path or a synthetic spec.
  const std::string& name() const { return name_; }
  // The raw row-major elements (float or uint8 per dtype()), e.g. for upload to a device.
  const void* raw() const;
  // The backing storage, shared by copies and slices: an identity for caches of uploaded sets.
  const DatasetStorage* storage() const { return storage_.get(); }

  // Rows [first, first + count) as float32 into out (count * cols floats).
  void copy_rows(int64_t first, int64_t count, float* out) const;
  // Rows indices[i] as float32 into out (indices.size() * cols floats).
  void gather_rows(std::span<const int64_t> indices, float* out) const;
  // Rows [first, first + count), sharing storage.
  Dataset slice(int64_t first, int64_t count) const;
  // The whole set as a float matrix (a copy).
  Matrix to_matrix() const;

 private:
  std::shared_ptr<const DatasetStorage> storage_;
  size_t byte_offset_ = 0;
  DType dtype_ = DType::f32;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  std::string name_;
};

// ---- Loaders (src/io/). All throw cuae::IoError naming the file and the problem. ----

struct LoadOptions {
  uint64_t seed = 0;              // synthetic data
  int64_t raw_cols = 0;           // raw float32 files: features per row (rows follow from the size)
  bool csv_header = false;        // CSV: skip the first line
  bool drop_non_finite = false;   // drop rows holding NaN/Inf instead of refusing the file
};

// SRC is one of: a path ending .idx/.idx3-ubyte/-ubyte(.gz), .npy, .csv, .raw/.f32/.bin;
// "fashion-mnist" (train split; "fashion-mnist:test" for t10k); "random:N,D"; "structured:N,D,K".
Dataset load_dataset(std::string_view source, const LoadOptions& options = {});

Dataset load_idx(const std::filesystem::path& path);
Dataset load_npy(const std::filesystem::path& path);
Dataset load_csv(const std::filesystem::path& path, bool header);
Dataset load_raw_f32(const std::filesystem::path& path, int64_t cols);
Dataset make_random(int64_t rows, int64_t cols, uint64_t seed);
Dataset make_structured(int64_t rows, int64_t cols, int64_t latent, uint64_t seed);

// Writers used by `cuae encode` / `reconstruct` (atomic: temporary file, then rename).
void save_npy(const std::filesystem::path& path, MatrixView matrix);

}  // namespace cuae
