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

#include "cuae/read_options.h"
#include "cuae/tensor.h"

namespace cuae {

enum class DType { f32, u8 };

// The range of a data set's values as read (uint8 already divided by 255). min and max ignore NaN
// (an Inf is included); finite is false when any value is NaN or Inf. An empty set is {0, 0, true}.
struct ValueRange {
  float min = 0;
  float max = 0;
  bool finite = true;
};

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

  // Computed on first use with one pass over the values, then cached in state that copies of this
  // Dataset share (load_dataset's non-finite check makes that first pass, so a memory-mapped file
  // is not read twice). Thread-safe. A slice computes its own range.
  ValueRange value_range() const;

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
  struct RangeCache;  // dataset.cpp
  std::shared_ptr<RangeCache> range_cache_;
};

// Throws cuae::DataError unless every value of `data` lies in [0, 1] (binary cross-entropy is defined
// only there) and is finite. The message starts with `op`, names the data set, the observed minimum
// and maximum, and the fixes (divide by 255 with LoadOptions::scale / --value-scale, or use --loss mse).
// A uint8 set always passes without reading its values. A slack of 1e-6 admits rounding from a
// scale such as 1/255.
void check_bce_targets(const Dataset& data, std::string_view op);

// ---- Loaders (src/io/). All throw cuae::IoError naming the file and the problem. ----

struct LoadOptions {
  uint64_t seed = 0;              // synthetic data
  int64_t raw_cols = 0;           // raw float32 files: features per row (rows follow from the size)
  bool csv_header = false;        // CSV: the first line is a header (a text header is also detected)
  bool drop_non_finite = false;   // drop rows holding NaN/Inf instead of refusing the file
  // CSV: drop this many leading columns (labels, ids). 0 drops only a pandas index column, which is
  // recognised by its unnamed header cell ("" or "Unnamed: 0"); N > 0 drops exactly N columns.
  int64_t csv_skip_cols = 0;
  char csv_delimiter = ',';       // CSV: the field separator (e.g. ';' or '\t')
  // .npz archives: the array to read (its name without ".npy"). Empty: the archive's only array.
  std::string npz_key;
  // Every value as loaded (uint8 already / 255) is multiplied by this, e.g. 1.0 / 255 for pixels in
  // 0..255 stored as float. 1 keeps memory-mapped files mapped; another value makes a float copy.
  double scale = 1.0;
  // Receives the loaders' notes (conversions, dropped index columns); see cuae/read_options.h.
  NoteSink note;
};

// A CSV field separator as users write it: one character (not a quote or a line break), or "tab" or
// "\\t" for a tab. Throws cuae::Error naming the text.
char parse_csv_delimiter(std::string_view text);

// SRC is one of: a path ending .idx/.idx3-ubyte/-ubyte(.gz), .npy, .npz, .csv, .raw/.f32/.bin;
// "fashion-mnist" (train split; "fashion-mnist:test" for t10k); "random:N,D"; "structured:N,D,K".
// Files of float values are checked for NaN/Inf (refused, or their rows dropped with
// drop_non_finite); that pass also computes the set's value_range().
Dataset load_dataset(std::string_view source, const LoadOptions& options = {});

// The loaders below read one file and do not check for NaN/Inf (load_dataset does).
// IDX: uint8 of any rank; [N, d1, d2, ...] becomes N rows of d1*d2*... features.
Dataset load_idx(const std::filesystem::path& path);
// .npy of shape (N, d1, ...) with N rows of d1*...: float32 and uint8 in C order are memory-mapped;
// float16/float64, integers and bool are converted to float32 (integers keep their values; only
// uint8 reads as value / 255), big-endian data is byte-swapped and Fortran order reordered (a note).
// Object, string, structured, complex and 0-/1-D arrays are refused with the reason.
Dataset load_npy(const std::filesystem::path& path, const LoadOptions& options = {});
// .npz (np.savez, stored; np.savez_compressed, deflate; zip64 as numpy writes it): the array named
// options.npz_key, or the only one. Stored float32/uint8 arrays are memory-mapped where aligned.
Dataset load_npz(const std::filesystem::path& path, const LoadOptions& options = {});
// CSV as spreadsheets and pandas write it: quoted fields, a text header, a pandas index column.
Dataset load_csv(const std::filesystem::path& path, const LoadOptions& options = {});
Dataset load_raw_f32(const std::filesystem::path& path, int64_t cols);
Dataset make_random(int64_t rows, int64_t cols, uint64_t seed);
Dataset make_structured(int64_t rows, int64_t cols, int64_t latent, uint64_t seed);

// Writers used by `cuae encode` / `reconstruct` (atomic: temporary file, then rename).
void save_npy(const std::filesystem::path& path, MatrixView matrix);

}  // namespace cuae
