// libFuzzer target: IDX files (uncompressed) through load_idx.
#include <cstddef>
#include <cstdint>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = cuae::fuzz::write_input(data, size, ".idx");
  try {
    cuae::fuzz::touch_all(cuae::load_idx(path));
  } catch (const cuae::Error&) {
    // A refused file is the expected outcome for most inputs.
  }
  return 0;
}
