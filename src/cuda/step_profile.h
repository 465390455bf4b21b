// The CUDA half of Backend::profile_steps: whole steps timed with CUDA events exactly as the backend
// runs them (graph replay when enabled), then a phase breakdown from events recorded between the
// phases of eager steps (a graph hides its inner boundaries, so graphs are off for that part).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>

#include "engine/backend.h"
#include "cuda/cuda_network.h"

namespace cuae::cuda {

// The input batch is already in net.input() and net has room for rows and for warmup + 2 * steps
// losses; the batch counter is reset. run_step enqueues one step as train_step does.
StepProfile profile_network_steps(const CudaNetwork& net, cudaStream_t stream, int64_t rows, int warmup, int steps,
                                  const std::function<void()>& run_step);

}  // namespace cuae::cuda
