// libFuzzer target: the JSON model config (--config files, checkpoint metadata). A config that
// parses must survive a round trip through to_json unchanged, and must yield a layout.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cuae/error.h"
#include "cuae/layout.h"
#include "cuae/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const cuae::ModelConfig config = cuae::model_config_from_json(text, "fuzz");
    const std::string json = cuae::to_json(config);
    if (cuae::to_json(cuae::model_config_from_json(json, "fuzz round trip")) != json) std::abort();
    (void)cuae::make_layout(config);
  } catch (const cuae::Error&) {
  }
  return 0;
}
