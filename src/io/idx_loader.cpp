// IDX files (MNIST, Fashion-MNIST): a 4-byte magic 00 00 <dtype> <ndims>, ndims big-endian uint32
// dimensions, then the payload. Only dtype 0x08 (uint8) is accepted: every known image set uses it.
// zlib's gzread reads plain and gzip-compressed files alike, so one path handles both. An [N, H, W]
// file becomes N rows of H*W features; a 1-D file (labels) becomes N rows of 1.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/io_checks.h"

namespace cuae {

namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const noexcept { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to `count` bytes; returns how many were read (short only at the end of the data).
size_t read_some(gzFile file, void* out, size_t count, const std::string& name) {
  size_t done = 0;
  while (done < count) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(count - done, 1u << 30));
    const int got = gzread(file, static_cast<char*>(out) + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      throw IoError(name + ": corrupt or unreadable (" + (message ? message : "zlib error") + ")");
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

std::string hex_byte(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", value & 0xFFu);
  return text;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string text;
  for (const int64_t d : dims) text += (text.empty() ? "[" : ", ") + std::to_string(d);
  return text + "]";
}

// Refuses dimensions that promise more bytes than the file can hold, before anything is allocated.
// A plain file holds the payload after the header (extra bytes are reported after reading). Deflate
// expands at most 1032:1 (a 258-byte match per 2 bits), so a gzip file can hold no more than that.
void check_payload_fits(const std::filesystem::path& path, gzFile file, const std::vector<int64_t>& dims,
                        int64_t total) {
  std::error_code ec;
  const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) return;  // the chunked reads in load_idx still bound the allocation
  const uintmax_t header_bytes = 4 + 4 * dims.size();
  const auto payload = static_cast<uintmax_t>(total);
  const std::string claim =
      ": truncated IDX payload: dimensions " + dims_text(dims) + " need " + std::to_string(payload) + " bytes, ";
  if (gzdirect(file) == 1) {
    const uintmax_t held = file_bytes > header_bytes ? file_bytes - header_bytes : 0;
    if (payload > held) throw IoError(path.string() + claim + "the file holds " + std::to_string(held));
  } else if (payload / 1032 > file_bytes) {
    throw IoError(path.string() + claim + "more than a " + std::to_string(file_bytes) +
                  "-byte gzip file can expand to");
  }
}

}  // namespace

Dataset load_idx(const std::filesystem::path& path) {
  const std::string name = path.string();
  data::require_regular_file(path);
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) throw IoError(name + ": cannot open IDX file");
  gzbuffer(file.get(), 1 << 20);

  std::array<unsigned char, 4> magic{};
  if (read_some(file.get(), magic.data(), 4, name) != 4) throw IoError(name + ": truncated IDX header");
  if (magic[0] != 0 || magic[1] != 0) {
    throw IoError(name + ": not an IDX file (magic starts " + hex_byte(magic[0]) + " " + hex_byte(magic[1]) +
                  ", expected 0x00 0x00)");
  }
  if (magic[2] != 0x08) {
    throw IoError(name + ": IDX dtype " + hex_byte(magic[2]) + " is not supported (only 0x08, uint8)");
  }
  const int ndims = magic[3];
  if (ndims < 1) throw IoError(name + ": IDX file has 0 dimensions");

  std::vector<int64_t> dims(static_cast<size_t>(ndims));
  for (auto& d : dims) {
    std::array<unsigned char, 4> be{};
    if (read_some(file.get(), be.data(), 4, name) != 4) throw IoError(name + ": truncated IDX header");
    d = (int64_t{be[0]} << 24) | (int64_t{be[1]} << 16) | (int64_t{be[2]} << 8) | int64_t{be[3]};
  }
  const int64_t rows = dims[0];
  int64_t cols = 1;
  for (size_t i = 1; i < dims.size(); ++i) cols = data::checked_mul(cols, dims[i], name, "IDX row size");
  const int64_t total = data::checked_mul(rows, cols, name, "IDX payload size");
  if (rows == 0 || cols == 0) throw IoError(name + ": IDX file holds no data (a dimension is 0)");
  check_payload_fits(path, file.get(), dims, total);

  // Grown chunk by chunk, so a header that lies about the size fails on the read, not the allocation.
  std::vector<uint8_t> values;
  constexpr size_t kChunk = size_t{16} << 20;
  while (values.size() < static_cast<size_t>(total)) {
    const size_t want = std::min(kChunk, static_cast<size_t>(total) - values.size());
    const size_t old = values.size();
    values.resize(old + want);
    const size_t got = read_some(file.get(), values.data() + old, want, name);
    if (got != want) {
      throw IoError(name + ": truncated IDX payload (" + std::to_string(old + got) + " of " + std::to_string(total) +
                    " bytes)");
    }
  }
  unsigned char extra = 0;
  if (read_some(file.get(), &extra, 1, name) != 0) {
    throw IoError(name + ": IDX file has bytes after the " + std::to_string(total) + "-byte payload");
  }
  return Dataset::from_bytes(std::move(values), rows, cols, name);
}

}  // namespace cuae
