// libFuzzer target: NumPy .npy files through load_npy (header dict, versions 1.0/2.0, dtypes, shape).
#include <cstddef>
#include <cstdint>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = cuae::fuzz::write_input(data, size, ".npy");
  try {
    cuae::fuzz::touch_all(cuae::load_npy(path));
  } catch (const cuae::Error&) {
  }
  return 0;
}
