// Reliability of `cuae train`: periodic checkpoints (--checkpoint-every N --checkpoint-unit
// steps|epochs) and stopping on SIGINT/SIGTERM. Saves go through Model::save, which writes a
// temporary file, fsyncs it and renames it over the checkpoint, so a crash at any moment leaves the
// previous checkpoint whole.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "cuae/model.h"

namespace cuae::cli {

struct CheckpointPolicy {
  std::filesystem::path path;  // where checkpoints go
  int64_t every = 0;           // 0: only when interrupted
  bool by_epochs = false;      // count epochs instead of optimizer steps
};

// Saves `model` whenever a fit event completes a multiple of `every` steps or epochs.
class Checkpointer {
 public:
  Checkpointer(const Model& model, CheckpointPolicy policy);

  // The progress_every fit must use so that every step boundary is seen (1 when saving by steps).
  int64_t progress_every() const { return policy_.every > 0 && !policy_.by_epochs ? 1 : 0; }
  void on_event(const FitEvent& event);
  // Saves unless the parameters hold NaN/Inf (then the previous checkpoint stays; returns false).
  bool save_now();
  const std::filesystem::path& path() const { return policy_.path; }
  // For messages after a failure: which checkpoint is the last good one.
  std::string last_saved() const;

 private:
  const Model& model_;
  CheckpointPolicy policy_;
  int64_t saved_step_ = -1;
  std::string saved_position_;
};

// "step 120 (epoch 3, 40 rows into it)" or "step 130 (after epoch 3)".
std::string training_position(const Model& model);

// SIGINT and SIGTERM set stop() while installed and remember the signal; the previous handlers come
// back on destruction. A second signal of the same kind acts as if no handler were installed.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  const std::atomic<bool>* stop() const;
  int received() const;  // 0, SIGINT or SIGTERM

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

}  // namespace cuae::cli
