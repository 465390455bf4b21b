// One training run as a single value, and its JSON form: the one configuration grammar of cuae.
// `cuae train --config FILE` reads it, `cuae train --print-config` prints the effective one (after
// flags), and every checkpoint stores it as metadata, so a checkpoint's metadata written to a file is
// itself a valid --config. Command-line flags override it through one table (src/cli/train_flags.cpp).
//
//   {
//     <every ModelConfig key: "layers", "hidden_activation", ..., "optimizer": {...}, "seed">,
//     "fit":     {"data", "validation", "epochs", "batch_size", "shuffle", "eval_batch_size",
//                 "validation_split", "early_stopping", "min_delta", "monitor", "restore_best", "lr_schedule",
//                 "load": {"raw_cols", "csv_header", "drop_non_finite", "csv_skip_cols", "csv_delimiter",
//                          "npz_key", "scale"},
//                 "out", "metrics", "init_from", "init_strict", "checkpoint", "checkpoint_every",
//                 "checkpoint_unit"},
//     "device":  "auto" | "cpu" | "cuda" | "cuda:N",
//     "backend": {"forward", "cuda_graphs", "allow_tf32", "cpu_threads", "device_memory_budget"}
//   }
// Missing keys keep their defaults (so a file may hold only what it changes, and the ModelConfig-only
// metadata of older checkpoints still reads); unknown keys are errors naming the key and the source.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cuae/backend_options.h"
#include "cuae/dataset.h"
#include "cuae/fit.h"
#include "cuae/model_config.h"

namespace cuae {

struct RunConfig {
  ModelConfig model;
  // epochs, batch_size, shuffle and eval_batch_size belong to the grammar; the pointers and
  // progress_every are run-time wiring and are never stored.
  FitOptions fit;
  std::string data;            // training data source (see load_dataset)
  std::string validation;      // validation data source; empty: none
  LoadOptions load;            // how files are read (its seed is the model's seed, never stored)
  std::string out;             // where `cuae train` saves the trained model
  std::string metrics;         // per-epoch CSV; empty: none
  std::string init_from;       // start from this checkpoint's weights; empty: initialise from the seed
  bool init_strict = false;    // refuse init_from tensors that are not parameters (CheckpointReadOptions::strict)
  std::string checkpoint;      // periodic and interrupt checkpoints; empty: `out`
  int64_t checkpoint_every = 0;
  bool checkpoint_by_epochs = false;  // "checkpoint_unit": "steps" (false) or "epochs"
  std::string device = "auto";
  BackendOptions backend;
};

// Compact JSON, or pretty-printed with `indent` spaces.
std::string to_json(const RunConfig& run, int indent = -1);
// Throws cuae::Error "config <source_name>: <key path>: <why>" for invalid JSON, unknown keys, wrong
// types and invalid values (ModelConfig::validate included).
RunConfig run_config_from_json(std::string_view json, std::string_view source_name = "config");

std::string_view to_string(BackendOptions::Forward);
BackendOptions::Forward parse_forward(std::string_view);  // throws cuae::Error listing the names

}  // namespace cuae
