// libFuzzer target: safetensors checkpoints through read_checkpoint (header length, JSON, metadata,
// dtypes and their conversion, PyTorch name mapping, shapes, offsets). A checkpoint that loads must
// hold exactly what its config's layout needs. Not strict, so the ignored-tensor path runs too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "cuae/error.h"
#include "cuae/layout.h"
#include "fuzz_input.h"
#include "io/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = cuae::fuzz::write_input(data, size, ".safetensors");
  try {
    cuae::CheckpointReadOptions options;
    options.note = [](std::string_view text) { cuae::fuzz::touch_text(text); };
    const cuae::Checkpoint ckpt = cuae::read_checkpoint(path, options);
    const auto total = static_cast<size_t>(cuae::make_layout(ckpt.run.model).total_floats);
    if (ckpt.parameters.size() != total) std::abort();
    if (ckpt.has_optimizer_state && ckpt.optimizer.m.size() != total) std::abort();
    if (!ckpt.optimizer.v.empty() && ckpt.optimizer.v.size() != total) std::abort();
  } catch (const cuae::Error&) {
  }
  return 0;
}
