#include "engine/schedule.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace cuae {

double decimal_double(float value) {
  char text[32];
  const auto written = std::to_chars(text, text + sizeof text, value);
  double out = value;
  std::from_chars(text, written.ptr, out);
  return out;
}

// cosine: a linear warm-up to lr over the first W steps (step t gets lr·t/W), then
// lr·½(1 + cos(π·k/(T − W))) for the k-th step after it (k = 0, 1, ...), so the first step after the
// warm-up runs at lr and the rate falls towards 0 at the end of the fit (torch CosineAnnealingLR with
// T_max = T − W, stepped per optimizer step).
double learning_rate(const LrSchedule& s, double lr, int64_t t, int64_t total_steps, double plateau_factor) {
  switch (s.kind) {
    case LrSchedule::Kind::constant: return lr;
    case LrSchedule::Kind::step: return lr * std::pow(s.factor, static_cast<double>((t - 1) / s.every));
    case LrSchedule::Kind::exponential: return lr * std::pow(s.factor, static_cast<double>(t - 1));
    case LrSchedule::Kind::cosine: {
      if (t <= s.every) return lr * static_cast<double>(t) / static_cast<double>(s.every);
      const double span = static_cast<double>(std::max<int64_t>(total_steps - s.every, 1));
      const double k = static_cast<double>(t - s.every - 1);
      return lr * 0.5 * (1 + std::cos(3.14159265358979323846 * std::min(k, span) / span));
    }
    case LrSchedule::Kind::plateau: return lr * plateau_factor;
  }
  return lr;
}

}  // namespace cuae
