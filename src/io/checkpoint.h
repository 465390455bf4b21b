// Checkpoints as safetensors files (https://github.com/huggingface/safetensors):
//   u64 little-endian header length N | N bytes of JSON (padded with spaces to 8 bytes) | tensor data.
// Tensors are F32, named like a PyTorch module holding `encoder` and `decoder` nn.ModuleLists of
// nn.Linear: encoder.{i}.weight [out, in], encoder.{i}.bias [out], decoder.{i}.*. Optimizer state is
// stored as optimizer.m.<name> and optimizer.v.<name>, early stopping's best weights (restore_best) as
// early_stopping.best.<name>. "__metadata__" holds the run configuration as
// JSON ("cuae.config", the grammar of cuae/run_config.h), the optimizer step, the completed epochs and the cuae version. A file saved by
// PyTorch has no cuae metadata: the layer widths come from the weight shapes, the rest is default.
// Reading also accepts what PyTorch users have (checkpoint_import.h): F16, BF16 and F64 tensors
// (converted to float32), a `module.` prefix, nn.Sequential indices, and tensors that are not the
// model's parameters (ignored with a note unless strict).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "cuae/fit.h"
#include "cuae/layout.h"
#include "cuae/optimizer_state.h"
#include "cuae/read_options.h"
#include "cuae/run_config.h"

namespace cuae {

struct Checkpoint {
  RunConfig run;                  // run.model: the model's configuration
  std::vector<float> parameters;  // flat, in make_layout(config)'s order, padding 0
  bool has_optimizer_state = false;
  OptimizerState optimizer;       // m and v flat like parameters (v empty for SGD)
  TrainingState state;            // where training stands (position, schedule and early-stopping memory)
};

// Written atomically (temporary file, fsync, rename). Empty m/v are left out.
void write_checkpoint(const std::filesystem::path& path, const RunConfig& run, const ParameterLayout& layout,
                      std::span<const float> parameters, const OptimizerState& optimizer,
                      const TrainingState& state = {});

// Validates the header completely (length, JSON, dtypes, shapes against the config, offsets) before
// reading any tensor. Throws cuae::IoError naming the file and the field (the tensor that is wrong);
// a file of another format (a torch.save archive or pickle) is named as such, with the line of
// Python that converts it. Notes (conversions, renamed or ignored tensors) go to options.note.
Checkpoint read_checkpoint(const std::filesystem::path& path, const CheckpointReadOptions& options = {});

}  // namespace cuae
