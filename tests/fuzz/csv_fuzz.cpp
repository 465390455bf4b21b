// libFuzzer target: CSV through load_dataset, so the non-finite check and the row dropping run too.
// The first byte picks the options: bit 0 csv_header, bit 1 drop_non_finite, bit 2 csv_skip_cols = 1,
// bit 3 the delimiter ';' instead of ','.
#include <cstddef>
#include <cstdint>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  cuae::LoadOptions options;
  options.csv_header = (data[0] & 1) != 0;
  options.drop_non_finite = (data[0] & 2) != 0;
  options.csv_skip_cols = (data[0] & 4) != 0 ? 1 : 0;
  options.csv_delimiter = (data[0] & 8) != 0 ? ';' : ',';
  options.note = [](std::string_view text) { cuae::fuzz::touch_text(text); };
  const auto path = cuae::fuzz::write_input(data + 1, size - 1, ".csv");
  try {
    cuae::fuzz::touch_all(cuae::load_dataset(path.string(), options));
  } catch (const cuae::Error&) {
  }
  return 0;
}
