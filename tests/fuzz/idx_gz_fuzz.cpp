// libFuzzer target: gzip-compressed IDX files through load_idx. The first byte picks what the rest
// is: even, an IDX image that the harness gzips (so mutations reach the IDX parser behind zlib);
// odd, raw bytes given to zlib as they are (corrupt streams, truncated members, trailing garbage).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "fuzz_input.h"

namespace {

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip wrapper, as the .gz files MNIST ships in.
  if (deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<uint8_t> out(deflateBound(&stream, static_cast<uLong>(size)));
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(size);
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool raw = (data[0] & 1) != 0;
  std::vector<uint8_t> bytes = raw ? std::vector<uint8_t>(data + 1, data + size) : gzip(data + 1, size - 1);
  const auto path = cuae::fuzz::write_input(bytes.data(), bytes.size(), ".idx.gz");
  try {
    cuae::fuzz::touch_all(cuae::load_idx(path));
  } catch (const cuae::Error&) {
  }
  return 0;
}
