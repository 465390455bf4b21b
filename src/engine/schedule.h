// Learning rates per optimizer step (cuae::LrSchedule, include/cuae/fit.h), computed on the host in
// double precision as PyTorch's schedulers do, once for every backend.
#pragma once

#include <cstdint>

#include "cuae/fit.h"

namespace cuae {

// The double a user meant by a float config field: 0.9f is 0.89999997615814, but PyTorch holds the
// Python float 0.9. Going through the shortest decimal form recovers it.
double decimal_double(float value);

// The rate of optimizer step t (1-based) of a fit of `total_steps` steps, from the base rate `lr`;
// `plateau_factor` is the product of the reductions on plateaus so far (1 for other schedules).
double learning_rate(const LrSchedule& schedule, double lr, int64_t t, int64_t total_steps, double plateau_factor);

}  // namespace cuae
