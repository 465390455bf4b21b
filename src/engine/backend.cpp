// Backend's default profile_steps: whole train_step calls timed with a steady clock.
#include "engine/backend.h"

#include <algorithm>
#include <chrono>

namespace cuae {

StepProfile Backend::profile_steps(MatrixView batch, int warmup, int steps) {
  for (int i = 0; i < warmup; ++i) train_step(batch);
  StepProfile profile;
  profile.step.reserve(static_cast<size_t>(std::max(steps, 0)));
  for (int i = 0; i < steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    profile.last_loss = train_step(batch);
    profile.step.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  profile.steps_trained = static_cast<int64_t>(warmup) + steps;
  return profile;
}

}  // namespace cuae
