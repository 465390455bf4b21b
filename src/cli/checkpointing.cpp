#include "cli/checkpointing.h"

#include <cmath>
#include <csignal>
#include <string>
#include <utility>

namespace cuae::cli {

namespace {

// A signal handler may only touch lock-free atomics; these are the CLI's only global state.
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal) {
  g_signal.store(signal);
  g_stop.store(true);
  std::signal(signal, SIG_DFL);  // a second Ctrl-C kills as usual
}

}  // namespace

std::string training_position(const Model& model) {
  const std::string step = "step " + std::to_string(model.step());
  if (model.samples_into_epoch() == 0) return step + " (after epoch " + std::to_string(model.epochs_completed()) + ")";
  return step + " (epoch " + std::to_string(model.epochs_completed() + 1) + ", " +
         std::to_string(model.samples_into_epoch()) + " rows into it)";
}

Checkpointer::Checkpointer(const Model& model, CheckpointPolicy policy) : model_(model), policy_(std::move(policy)) {}

void Checkpointer::on_event(const FitEvent& event) {
  if (policy_.every <= 0) return;
  if (policy_.by_epochs) {
    // An epoch_end event also closes an epoch cut short by a stop: only whole epochs count.
    if (event.kind == FitEvent::Kind::epoch_end && model_.samples_into_epoch() == 0 &&
        model_.epochs_completed() % policy_.every == 0) {
      save_now();
    }
  } else if (event.kind == FitEvent::Kind::progress && model_.step() % policy_.every == 0) {
    save_now();
  }
}

bool Checkpointer::save_now() {
  if (model_.step() == saved_step_) return true;  // e.g. a periodic save just before the interrupt
  // A step can leave Inf/NaN weights while its loss was still finite; such a model must not replace
  // the last good checkpoint (the next step's loss check will end training).
  for (const float p : model_.parameters())
    if (!std::isfinite(p)) return false;
  model_.save(policy_.path);
  saved_step_ = model_.step();
  saved_position_ = training_position(model_);
  return true;
}

std::string Checkpointer::last_saved() const {
  if (saved_step_ < 0) return "no checkpoint was written by this run";
  return "the last good checkpoint is " + policy_.path.string() + " at " + saved_position_;
}

StopSignals::StopSignals() {
  g_stop.store(false);
  g_signal.store(0);
  previous_int_ = std::signal(SIGINT, on_stop_signal);
  previous_term_ = std::signal(SIGTERM, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

const std::atomic<bool>* StopSignals::stop() const { return &g_stop; }
int StopSignals::received() const { return g_signal.load(); }

}  // namespace cuae::cli
