// Training progress for `cuae train`. On a terminal: one line redrawn in place with the epoch, a bar,
// the step, the running loss, samples/s and the ETA, then a summary line per epoch. Elsewhere (logs,
// pipes, CI): only the summary line per epoch, so logs stay readable.
#pragma once

#include <cstdint>
#include <cstdio>

#include "cuae/fit.h"

namespace cuae::cli {

class ProgressPrinter {
 public:
  ProgressPrinter(std::FILE* out, bool terminal, int epochs, int64_t train_rows, int64_t batch);

  // How often the model should report inside an epoch: about 50 redraws per epoch on a terminal,
  // none otherwise.
  int64_t progress_every() const;
  void on_event(const FitEvent& event);

 private:
  void draw_bar(const FitEvent& event);

  std::FILE* out_;
  bool terminal_;
  int epochs_;
  int64_t rows_;
  int64_t batch_;
};

// True when stderr is a terminal that can redraw a line.
bool stderr_is_terminal();

}  // namespace cuae::cli
