// NumPy .npy files (format versions 1.0 and 2.0): magic "\x93NUMPY", version, a little-endian header
// length (uint16 for 1.0, uint32 for 2.0), then a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }
// and the C-order payload. float32 and uint8 files are memory-mapped; float64 is converted to float32
// (the engine computes in float32). Anything else is refused with the dtype, order or ndim named.
#include <cctype>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/atomic_file.h"
#include "io/io_checks.h"
#include "io/mapped_file.h"

namespace cuae {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  size_t data_offset = 0;
};

// A recursive-descent reader for the header dict: just the literal forms numpy writes.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!consume('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        header.descr = quoted();
        seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        header.shape = tuple();
        seen_shape = true;
      } else {
        fail("unknown header key '" + key + "'");
      }
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    if (!seen_descr || !seen_order || !seen_shape) fail("header lacks 'descr', 'fortran_order' or 'shape'");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(file_ + ": malformed .npy header: " + what + " at offset " + std::to_string(pos_));
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  std::string quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a quoted string");
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> values;
    expect('(');
    while (!consume(')')) {
      skip_space();
      if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) fail("expected a dimension");
      int64_t value = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        // checked_mul alone lets value * 10 + digit overflow by the digit (e.g. 9223372036854775809).
        const int digit = text_[pos_++] - '0';
        value = data::checked_mul(value, 10, file_, "shape dimension");
        if (value > std::numeric_limits<int64_t>::max() - digit) fail("shape dimension overflows 64 bits");
        value += digit;
      }
      values.push_back(value);
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return values;
  }

  std::string_view text_;
  std::string file_;
  size_t pos_ = 0;
};

uint32_t read_le(const std::byte* p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | std::to_integer<uint32_t>(p[i]);
  return value;
}

NpyHeader read_header(const data::MappedFile& file, const std::string& name) {
  const std::byte* p = file.data();
  if (file.size() < 10 || std::memcmp(p, kMagic.data(), kMagic.size()) != 0) {
    throw IoError(name + ": not a .npy file (missing the \\x93NUMPY magic)");
  }
  const int major = std::to_integer<int>(p[6]), minor = std::to_integer<int>(p[7]);
  if ((major != 1 && major != 2) || minor != 0) {
    throw IoError(name + ": .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                  " is not supported (1.0 and 2.0 are)");
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  if (file.size() < 8 + length_bytes) throw IoError(name + ": truncated .npy header");
  const size_t header_len = read_le(p + 8, static_cast<int>(length_bytes));
  const size_t data_offset = 8 + length_bytes + header_len;
  if (data_offset > file.size()) throw IoError(name + ": truncated .npy header");
  const std::string_view text(reinterpret_cast<const char*>(p) + 8 + length_bytes, header_len);
  NpyHeader header = HeaderParser(text, name).parse();
  header.data_offset = data_offset;
  return header;
}

}  // namespace

Dataset load_npy(const std::filesystem::path& path) {
  const std::string name = path.string();
  data::require_regular_file(path);
  data::MappedFile file(path);
  const NpyHeader header = read_header(file, name);

  size_t item = 0;
  if (header.descr == "<f4") item = 4;
  else if (header.descr == "<f8") item = 8;
  else if (header.descr == "|u1") item = 1;
  else throw IoError(name + ": .npy dtype '" + header.descr + "' is not supported (use '<f4', '<f8' or '|u1')");
  if (header.fortran_order) throw IoError(name + ": .npy array is in Fortran order; save it in C order");
  if (header.shape.size() != 2) {
    throw IoError(name + ": .npy array has " + std::to_string(header.shape.size()) +
                  " dimensions; expected 2 (rows, features)");
  }
  const int64_t rows = header.shape[0], cols = header.shape[1];
  if (rows == 0 || cols == 0) throw IoError(name + ": .npy array is empty (shape has a 0)");
  const int64_t payload = data::checked_mul(data::checked_mul(rows, cols, name, "shape"), static_cast<int64_t>(item),
                                            name, "payload size");
  if (static_cast<uint64_t>(payload) != file.size() - header.data_offset) {
    throw IoError(name + ": .npy payload is " + std::to_string(file.size() - header.data_offset) + " bytes, shape (" +
                  std::to_string(rows) + ", " + std::to_string(cols) + ") of " + header.descr + " needs " +
                  std::to_string(payload));
  }

  const std::byte* payload_ptr = file.data() + header.data_offset;
  if (header.descr == "<f8") {
    std::vector<float> values(static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < values.size(); ++i) {
      double v;
      std::memcpy(&v, payload_ptr + i * 8, 8);  // the payload need not be 8-byte aligned
      values[i] = static_cast<float>(v);
    }
    return Dataset::from_floats(std::move(values), rows, cols, name);
  }
  if (header.descr == "<f4" && header.data_offset % alignof(float) != 0) {
    // numpy pads headers to 64 bytes; another writer may not, and float loads need alignment.
    std::vector<float> values(static_cast<size_t>(rows * cols));
    std::memcpy(values.data(), payload_ptr, static_cast<size_t>(payload));
    return Dataset::from_floats(std::move(values), rows, cols, name);
  }
  const size_t offset = header.data_offset;
  const DType dtype = item == 1 ? DType::u8 : DType::f32;
  return Dataset(std::make_shared<data::MappedStorage>(std::move(file)), offset, dtype, rows, cols, name);
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
