#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

namespace cuae::cli {

namespace {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (s >= 3600) std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                               static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return text;
}

}  // namespace

bool stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDERR_FILENO) == 1 && !(term != nullptr && std::string(term) == "dumb");
}

ProgressPrinter::ProgressPrinter(std::FILE* out, bool terminal, int epochs, int64_t train_rows, int64_t batch)
    : out_(out), terminal_(terminal), epochs_(epochs), rows_(train_rows), batch_(std::max<int64_t>(batch, 1)) {}

int64_t ProgressPrinter::progress_every() const {
  if (!terminal_) return 0;
  const int64_t steps = (rows_ + batch_ - 1) / batch_;
  return std::max<int64_t>(1, steps / 50);
}

void ProgressPrinter::draw_bar(const FitEvent& e) {
  constexpr int kWidth = 24;
  const double done = e.steps_per_epoch > 0 ? static_cast<double>(e.step_in_epoch) / e.steps_per_epoch : 0;
  const int filled = std::clamp(static_cast<int>(done * kWidth), 0, kWidth);
  const int64_t samples_left =
      std::max<int64_t>(0, rows_ - e.step_in_epoch * batch_) + static_cast<int64_t>(epochs_ - e.epoch) * rows_;
  const double eta = e.samples_per_second > 0 ? static_cast<double>(samples_left) / e.samples_per_second : NAN;
  // \r returns to the line start, \x1b[K clears what a longer previous line left behind.
  std::fprintf(out_, "\repoch %d/%d [%s%s] step %lld/%lld  loss %.5f  %.0f samples/s  ETA %s\x1b[K", e.epoch, epochs_,
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), static_cast<long long>(e.step_in_epoch),
               static_cast<long long>(e.steps_per_epoch), e.running_loss, e.samples_per_second,
               format_duration(eta).c_str());
  std::fflush(out_);
}

void ProgressPrinter::on_event(const FitEvent& e) {
  if (e.kind == FitEvent::Kind::progress) {
    if (terminal_) draw_bar(e);
    return;
  }
  const EpochStats& s = e.stats;
  if (terminal_) std::fputs("\r\x1b[K", out_);
  std::fprintf(out_, "epoch %d/%d  train_loss %.6f", s.epoch, epochs_, s.train_loss);
  if (!std::isnan(s.val_loss)) std::fprintf(out_, "  val_loss %.6f", s.val_loss);
  std::fprintf(out_, "  %.2f s  %.0f samples/s\n", s.seconds, s.samples_per_second);
  std::fflush(out_);
}

}  // namespace cuae::cli
