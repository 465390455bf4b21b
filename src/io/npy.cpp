// NumPy .npy files: load_npy maps the file and hands it to npy_dataset (npy_format.cpp), which
// parses the header, memory-maps float32/uint8 C-order payloads and converts everything else;
// save_npy writes float32 matrices as numpy does.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/atomic_file.h"
#include "io/io_checks.h"
#include "io/mapped_file.h"
#include "io/npy_format.h"

namespace cuae {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

}  // namespace

Dataset load_npy(const std::filesystem::path& path, const LoadOptions& options) {
  const std::string name = path.string();
  data::require_regular_file(path);
  auto storage = std::make_shared<data::MappedStorage>(data::MappedFile(path));
  const size_t size = storage->size_bytes();
  return data::npy_dataset({std::move(storage), 0, size}, name, options);
}

void save_npy(const std::filesystem::path& path, MatrixView matrix) {
  if (matrix.rows < 0 || matrix.cols < 0 || (matrix.data == nullptr && matrix.rows * matrix.cols > 0)) {
    throw Error("save_npy: invalid matrix " + std::to_string(matrix.rows) + " x " + std::to_string(matrix.cols) +
                " for " + path.string());
  }
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(matrix.rows) + ", " +
                     std::to_string(matrix.cols) + "), }";
  // Pad with spaces and a final newline so the payload starts on a 64-byte boundary, as numpy does.
  const size_t unpadded = kMagic.size() + 2 + 2 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  if (dict.size() > 0xFFFF) throw Error("save_npy: header too long for " + path.string());

  std::string preamble(kMagic);
  preamble += '\x01';
  preamble += '\x00';
  preamble += static_cast<char>(dict.size() & 0xFF);
  preamble += static_cast<char>(dict.size() >> 8);
  data::AtomicFile out(path);
  out.write(preamble);
  out.write(dict);
  out.write(matrix.data, static_cast<size_t>(matrix.rows * matrix.cols) * sizeof(float));
  out.commit();
}

}  // namespace cuae
