// libFuzzer target: NumPy .npz archives through load_npz (zip end records, zip64, the central
// directory, stored and deflated members, then the member's .npy header). The first byte picks the
// key (none, "x", "a", "x_train"), so archives of several arrays reach their members too.
#include <cstddef>
#include <cstdint>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kKeys[] = {"", "x", "a", "x_train"};
  cuae::LoadOptions options;
  options.npz_key = kKeys[data[0] % 4];
  options.note = [](std::string_view text) { cuae::fuzz::touch_text(text); };
  const auto path = cuae::fuzz::write_input(data + 1, size - 1, ".npz");
  try {
    cuae::fuzz::touch_all(cuae::load_npz(path, options));
  } catch (const cuae::Error&) {
  }
  return 0;
}
