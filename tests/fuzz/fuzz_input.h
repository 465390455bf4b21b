// Shared by the fuzz harnesses: the loaders take paths, so each input is written to a per-process
// file (in /dev/shm when it exists, so no disk I/O per execution) and the harness parses that file.
// Only cuae::Error may leave a parser; any other exception escapes the harness and libFuzzer reports
// it as a crash, which is what we want: std::bad_alloc or nlohmann::json errors are bugs here.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "cuae/dataset.h"

namespace cuae::fuzz {

// The file a harness writes its input to, ending in `extension` so load_dataset picks the loader.
inline std::filesystem::path input_path(std::string_view extension) {
  const std::filesystem::path dir = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  return dir / ("cuae-fuzz-" + std::to_string(::getpid()) + std::string(extension));
}

inline std::filesystem::path write_input(const uint8_t* data, size_t size, std::string_view extension) {
  const std::filesystem::path path = input_path(extension);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();  // the harness itself failed, not the parser
  return path;
}

// Reads every element of a parsed data set, so that a size the parser got wrong shows up as an
// out-of-bounds read here, and checks the shape the loader promised.
inline void touch_all(const Dataset& data) {
  if (data.rows() <= 0 || data.cols() <= 0) std::abort();  // loaders refuse empty sets
  volatile float sink = 0;
  const Matrix m = data.to_matrix();
  if (m.rows != data.rows() || m.cols != data.cols()) std::abort();
  for (float v : m.data) sink = sink + v;
  (void)sink;
}

// Reads every character of a note, so a view into freed memory shows up under ASan.
inline void touch_text(std::string_view text) {
  volatile char sink = 0;
  for (const char c : text) sink = static_cast<char>(sink ^ c);
  (void)sink;
}

}  // namespace cuae::fuzz
