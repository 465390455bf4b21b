// Raw little-endian float32 files, row-major with a given number of features per row (the file has
// no header, so the width must come from the user). Memory-mapped, not copied. Nothing in the file
// says its element type, so the size check here and load_dataset's NaN/Inf check are what catch a
// file of another type (float64 or integers read as float32 give sizes or values that do not fit).
#include <cstdint>
#include <memory>
#include <string>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/io_checks.h"
#include "io/mapped_file.h"

namespace cuae {

Dataset load_raw_f32(const std::filesystem::path& path, int64_t cols) {
  const std::string name = path.string();
  if (cols <= 0) {
    throw IoError(name + ": a raw float32 file needs its feature count (--raw-cols D); got " + std::to_string(cols));
  }
  data::require_regular_file(path);
  data::MappedFile file(path);
  const uint64_t row_bytes = static_cast<uint64_t>(data::checked_mul(cols, 4, name, "row size"));
  if (file.size() == 0) throw IoError(name + ": raw float32 file is empty");
  if (file.size() % row_bytes != 0) {
    throw IoError(name + ": size " + std::to_string(file.size()) + " bytes is not a multiple of " +
                  std::to_string(row_bytes) + " (" + std::to_string(cols) +
                  " float32 features per row); if the file holds " +
                  "another type, write it as float32: numpy.asarray(x, numpy.float32).tofile(path)");
  }
  const auto rows = static_cast<int64_t>(file.size() / row_bytes);
  return Dataset(std::make_shared<data::MappedStorage>(std::move(file)), 0, DType::f32, rows, cols, name);
}

}  // namespace cuae
