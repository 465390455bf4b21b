// Checks shared by the loaders: a malformed header must produce a clear error naming the file, never
// an overflowed size, a huge allocation or an out-of-bounds read.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "cuae/error.h"

namespace cuae::data {

// a * b, throwing IoError("<file>: <what> ... overflows") when it exceeds int64.
inline int64_t checked_mul(int64_t a, int64_t b, const std::string& file, const char* what) {
  if (a < 0 || b < 0) throw IoError(file + ": negative " + what);
  if (b != 0 && a > std::numeric_limits<int64_t>::max() / b) {
    throw IoError(file + ": " + what + " " + std::to_string(a) + " x " + std::to_string(b) + " overflows 64 bits");
  }
  return a * b;
}

// Throws IoError("<file>: no such file" / "is not a regular file") before any parser sees it.
inline void require_regular_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw IoError(path.string() + ": no such file");
  if (!std::filesystem::is_regular_file(status)) throw IoError(path.string() + ": not a regular file");
}

}  // namespace cuae::data
