// libFuzzer target: NumPy .npy files through load_npy (header dict, versions 1.0-3.0, every dtype it
// converts, byte order, Fortran order, shapes of any rank).
#include <cstddef>
#include <cstdint>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = cuae::fuzz::write_input(data, size, ".npy");
  try {
    cuae::LoadOptions options;
    options.note = [](std::string_view text) { cuae::fuzz::touch_text(text); };
    cuae::fuzz::touch_all(cuae::load_npy(path, options));
  } catch (const cuae::Error&) {
  }
  return 0;
}
