// Dataset: shared, immutable row-major storage (float32 or uint8) and float32 views of its rows.
// The file loaders live in src/io/.
#include "cuae/dataset.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

#include "cuae/error.h"

namespace cuae {

// Shared by the copies of one Dataset (not by its slices, which cover other rows).
struct Dataset::RangeCache {
  std::once_flag once;
  ValueRange range;
};

namespace {

// Storage that owns its elements in a vector (from_floats, from_bytes, from_matrix).
template <typename T>
class VectorStorage final : public DatasetStorage {
 public:
  explicit VectorStorage(std::vector<T> values) : values_(std::move(values)) {}
  const void* data() const override { return values_.data(); }
  size_t size_bytes() const override { return values_.size() * sizeof(T); }

 private:
  std::vector<T> values_;
};

std::string shape(int64_t rows, int64_t cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

// uint8 pixels read as value / 255, like torchvision's ToTensor.
void convert_row(const void* src, DType dtype, int64_t cols, float* out) {
  if (dtype == DType::f32) {
    std::memcpy(out, src, static_cast<size_t>(cols) * sizeof(float));
    return;
  }
  const auto* bytes = static_cast<const uint8_t*>(src);
  for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<float>(bytes[c]) / 255.0f;
}

template <typename T>
Dataset from_vector(std::vector<T> values, int64_t rows, int64_t cols, std::string name, DType dtype,
                    const char* op) {
  if (rows < 0 || cols < 0 || static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) != values.size()) {
    throw ShapeError(std::string(op) + ": " + std::to_string(values.size()) + " values do not form " +
                     shape(rows, cols) + " (" + name + ")");
  }
  auto storage = std::make_shared<const VectorStorage<T>>(std::move(values));
  return Dataset(std::move(storage), 0, dtype, rows, cols, std::move(name));
}

// One pass, written so that it vectorises: the selects are minps/maxps (a NaN compares false and
// leaves the running value), and NaN/Inf are found by their all-ones exponent.
ValueRange float_range(const float* values, size_t n) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  uint32_t non_finite = 0;
  for (size_t i = 0; i < n; ++i) {
    const float v = values[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    non_finite |= static_cast<uint32_t>((std::bit_cast<uint32_t>(v) & 0x7F800000u) == 0x7F800000u);
  }
  if (lo > hi) return {0, 0, non_finite == 0};  // empty, or only NaN
  return {lo, hi, non_finite == 0};
}

ValueRange byte_range(const uint8_t* values, size_t n) {
  if (n == 0) return {};
  uint8_t lo = 255, hi = 0;
  for (size_t i = 0; i < n; ++i) {
    lo = values[i] < lo ? values[i] : lo;
    hi = values[i] > hi ? values[i] : hi;
  }
  return {static_cast<float>(lo) / 255.0f, static_cast<float>(hi) / 255.0f, true};
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.7g", v);
  return text;
}

}  // namespace

Dataset::Dataset(std::shared_ptr<const DatasetStorage> storage, size_t byte_offset, DType dtype, int64_t rows,
                 int64_t cols, std::string name)
    : storage_(std::move(storage)),
      byte_offset_(byte_offset),
      dtype_(dtype),
      rows_(rows),
      cols_(cols),
      name_(std::move(name)),
      range_cache_(std::make_shared<RangeCache>()) {
  if (rows_ < 0 || cols_ < 0) throw ShapeError("Dataset: negative shape " + shape(rows_, cols_) + " (" + name_ + ")");
  // Overflow-safe form of byte_offset + rows * cols * element_size <= storage size.
  const uint64_t row_bytes = static_cast<uint64_t>(cols_) * element_size();
  const size_t available = storage_ ? storage_->size_bytes() : 0;
  const bool fits = byte_offset_ <= available &&
                    (row_bytes == 0 || static_cast<uint64_t>(rows_) <= (available - byte_offset_) / row_bytes);
  if (!fits) {
    throw ShapeError("Dataset: " + shape(rows_, cols_) + " elements of " + std::to_string(element_size()) +
                     " bytes at offset " + std::to_string(byte_offset_) + " exceed the storage of " +
                     std::to_string(available) + " bytes (" + name_ + ")");
  }
}

Dataset Dataset::from_floats(std::vector<float> values, int64_t rows, int64_t cols, std::string name) {
  return from_vector(std::move(values), rows, cols, std::move(name), DType::f32, "Dataset::from_floats");
}

Dataset Dataset::from_bytes(std::vector<uint8_t> values, int64_t rows, int64_t cols, std::string name) {
  return from_vector(std::move(values), rows, cols, std::move(name), DType::u8, "Dataset::from_bytes");
}

Dataset Dataset::from_matrix(MatrixView view, std::string name) {
  if (view.rows < 0 || view.cols < 0 || (view.data == nullptr && view.rows * view.cols != 0)) {
    throw ShapeError("Dataset::from_matrix: invalid view " + shape(view.rows, view.cols) + " (" + name + ")");
  }
  std::vector<float> values(view.data, view.data + view.rows * view.cols);
  return from_floats(std::move(values), view.rows, view.cols, std::move(name));
}

const void* Dataset::raw() const {
  return storage_ ? static_cast<const std::byte*>(storage_->data()) + byte_offset_ : nullptr;
}

void Dataset::copy_rows(int64_t first, int64_t count, float* out) const {
  if (first < 0 || count < 0 || first > rows_ || count > rows_ - first) {
    throw ShapeError("Dataset::copy_rows: rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                     ") outside the " + std::to_string(rows_) + " rows of " + name_);
  }
  if (count == 0 || cols_ == 0) return;
  const auto* base = static_cast<const std::byte*>(raw());
  const size_t row_bytes = static_cast<size_t>(cols_) * element_size();
  if (dtype_ == DType::f32) {  // contiguous rows: one copy
    std::memcpy(out, base + static_cast<size_t>(first) * row_bytes, static_cast<size_t>(count) * row_bytes);
    return;
  }
  for (int64_t r = 0; r < count; ++r) {
    convert_row(base + static_cast<size_t>(first + r) * row_bytes, dtype_, cols_, out + r * cols_);
  }
}

void Dataset::gather_rows(std::span<const int64_t> indices, float* out) const {
  const auto* base = static_cast<const std::byte*>(raw());
  const size_t row_bytes = static_cast<size_t>(cols_) * element_size();
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t r = indices[i];
    if (r < 0 || r >= rows_) {
      throw ShapeError("Dataset::gather_rows: index " + std::to_string(r) + " at position " + std::to_string(i) +
                       " outside the " + std::to_string(rows_) + " rows of " + name_);
    }
    if (cols_ > 0) convert_row(base + static_cast<size_t>(r) * row_bytes, dtype_, cols_, out + static_cast<int64_t>(i) * cols_);
  }
}

Dataset Dataset::slice(int64_t first, int64_t count) const {
  if (first < 0 || count < 0 || first > rows_ || count > rows_ - first) {
    throw ShapeError("Dataset::slice: rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                     ") outside the " + std::to_string(rows_) + " rows of " + name_);
  }
  const size_t offset = byte_offset_ + static_cast<size_t>(first) * static_cast<size_t>(cols_) * element_size();
  return Dataset(storage_, offset, dtype_, count, cols_, name_);
}

ValueRange Dataset::value_range() const {
  const auto compute = [this] {
    const size_t n = static_cast<size_t>(rows_ * cols_);
    if (n == 0) return ValueRange{};
    return dtype_ == DType::f32 ? float_range(static_cast<const float*>(raw()), n)
                                : byte_range(static_cast<const uint8_t*>(raw()), n);
  };
  if (!range_cache_) return compute();  // a default-constructed (empty) Dataset
  std::call_once(range_cache_->once, [&] { range_cache_->range = compute(); });
  return range_cache_->range;
}

void check_bce_targets(const Dataset& data, std::string_view op) {
  if (data.dtype() == DType::u8 || data.rows() == 0 || data.cols() == 0) return;  // u8 / 255 is in [0, 1]
  constexpr float kSlack = 1e-6f;
  const ValueRange r = data.value_range();
  const std::string start = std::string(op) + ": binary cross-entropy needs targets in [0, 1], but " + data.name();
  if (!r.finite) {
    throw DataError(start + " holds NaN or Inf (finite values from " + number(r.min) + " to " + number(r.max) +
                    "); fix the data or drop such rows (--drop-non-finite)");
  }
  if (r.min >= -kSlack && r.max <= 1 + kSlack) return;
  std::string fix;
  if (r.min >= 0 && r.max <= 255) {
    fix = "they look like 8-bit pixels: divide them by 255 (--value-scale 1/255)";
  } else {
    fix = "rescale them into [0, 1] (--value-scale, or (x - min) / (max - min) before saving)";
  }
  throw DataError(start + " holds values from " + number(r.min) + " to " + number(r.max) + "; " + fix +
                  ", or train with a loss defined for any value (--loss mse)");
}

char parse_csv_delimiter(std::string_view text) {
  const std::string_view one = text == "\\t" || text == "tab" ? std::string_view("\t") : text;
  if (one.size() != 1 || one == "\"" || one == "\n" || one == "\r") {
    throw Error("CSV delimiter '" + std::string(text) + "': give one character other than a quote or a line break, or tab");
  }
  return one[0];
}

Matrix Dataset::to_matrix() const {
  Matrix m(rows_, cols_);
  copy_rows(0, rows_, m.data.data());
  return m;
}

}  // namespace cuae
