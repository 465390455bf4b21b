// FitOptions: the one check of its values (Model::fit and the configuration grammar both ask it), and
// the text form of learning-rate schedules.
#include <cmath>
#include <string>

#include "api/spec_text.h"
#include "cuae/error.h"
#include "cuae/fit.h"

namespace cuae {

using spec_text::number;
using spec_text::parse_number;
using spec_text::split;

void check_fit_options(const FitOptions& o) {
  const auto require = [](bool ok, const std::string& message) {
    if (!ok) throw Error("fit: " + message);
  };
  require(o.batch_size >= 1, "batch size must be >= 1, got " + std::to_string(o.batch_size));
  require(o.epochs >= 0, "epochs must be >= 0, got " + std::to_string(o.epochs));
  require(o.eval_batch_size >= 1, "eval batch size must be >= 1, got " + std::to_string(o.eval_batch_size));
  require(o.progress_every >= 0, "progress_every must be >= 0, got " + std::to_string(o.progress_every));
  require(o.validation_split >= 0 && o.validation_split < 1,
          "validation_split must be in [0, 1), got " + number(o.validation_split));
  const EarlyStopping& e = o.early_stopping;
  require(e.patience >= 0, "early_stopping patience must be >= 0, got " + std::to_string(e.patience));
  require(std::isfinite(e.min_delta) && e.min_delta >= 0, "min_delta must be >= 0, got " + number(e.min_delta));
  const LrSchedule& s = o.lr_schedule;
  switch (s.kind) {
    case LrSchedule::Kind::constant: break;
    case LrSchedule::Kind::step:
    case LrSchedule::Kind::plateau:
      require(s.every >= 1, "lr_schedule " + to_string(s) + " needs a count >= 1");
      require(s.factor > 0 && s.factor <= 1, "lr_schedule " + to_string(s) + " needs a FACTOR in (0, 1]");
      break;
    case LrSchedule::Kind::exponential:
      require(s.factor > 0 && s.factor <= 1, "lr_schedule " + to_string(s) + " needs GAMMA in (0, 1]");
      break;
    case LrSchedule::Kind::cosine:
      require(s.every >= 0, "lr_schedule " + to_string(s) + " needs WARMUP_STEPS >= 0");
      break;
  }
}

std::string to_string(const LrSchedule& s) {
  switch (s.kind) {
    case LrSchedule::Kind::constant: return "constant";
    case LrSchedule::Kind::step: return "step:" + std::to_string(s.every) + ":" + number(s.factor);
    case LrSchedule::Kind::exponential: return "exp:" + number(s.factor);
    case LrSchedule::Kind::cosine: return "cosine:" + std::to_string(s.every);
    case LrSchedule::Kind::plateau: return "plateau:" + std::to_string(s.every) + ":" + number(s.factor);
  }
  return "constant";
}

LrSchedule parse_lr_schedule(std::string_view spec) {
  const Error bad("config: lr_schedule '" + std::string(spec) +
                  "' is not constant, step:EVERY:FACTOR, exp:GAMMA, cosine:WARMUP_STEPS or plateau:PATIENCE:FACTOR");
  const std::vector<std::string_view> parts = split(spec, ':');
  LrSchedule s;
  const auto counted = [&](LrSchedule::Kind kind, bool with_factor) {
    s.kind = kind;
    if (parts.size() != (with_factor ? 3u : 2u) || !parse_number(parts[1], s.every)) throw bad;
    if (with_factor && !parse_number(parts[2], s.factor)) throw bad;
  };
  if (spec == "constant" || spec.empty()) {
    return s;
  } else if (parts[0] == "step") {
    counted(LrSchedule::Kind::step, true);
  } else if (parts[0] == "cosine") {
    counted(LrSchedule::Kind::cosine, false);
  } else if (parts[0] == "plateau") {
    counted(LrSchedule::Kind::plateau, true);
  } else if (parts[0] == "exp") {
    s.kind = LrSchedule::Kind::exponential;
    if (parts.size() != 2 || !parse_number(parts[1], s.factor)) throw bad;
  } else {
    throw bad;
  }
  return s;
}

}  // namespace cuae
