// The interface between the emulated CUDA headers and the fiber scheduler (scheduler.cpp).
// Nothing here is CUDA API; kernels and backends use cuda_runtime.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>
#include <stdexcept>
#include <string>

#include "types.h"

namespace cuae_simt {

// The order in which the scheduler resumes the runnable threads of a block, chosen again at every
// resumption round. Races that a missing __syncthreads() leaves open give different results under
// different orders.
enum class ThreadOrder { forward, reverse, random };

// Overrides CUAE_SIMT_ORDER=forward|reverse|random:SEED (read at the first launch otherwise).
void set_thread_order(ThreadOrder order, uint64_t seed = 0);
ThreadOrder thread_order();

// The order in which a grid's blocks run, one after another (the same three orders; a random order
// is drawn again for every launch). A kernel whose blocks depend on each other's writes, or whose
// stray stores a later block happens to overwrite, gives different results under different orders.
// Overrides CUAE_SIMT_BLOCK_ORDER=forward|reverse|random:SEED (read at the first launch otherwise).
void set_block_order(ThreadOrder order, uint64_t seed = 0);
ThreadOrder block_order();

// The detailed text of the last launch failure (kernel, block, thread, barrier site); empty if none.
const std::string& last_fault();

namespace detail {

using KernelId = void (*)();

// One kernel launch: `body` runs the kernel with its arguments for the current thread.
struct LaunchSpec {
  KernelId kernel = nullptr;
  dim3 grid;
  dim3 block;
  size_t dynamic_shared_bytes = 0;
  std::function<void()> body;
};

// Runs every block of the grid; returns cudaErrorLaunchFailure's code (719) with last_fault() set,
// or 0. The launch configuration is already validated.
int run_grid(const LaunchSpec& spec);
// The kernel's name (demangled symbol, or its address), for fault messages.
std::string kernel_name(KernelId kernel);
// Replaces last_fault() (the runtime's checks after a launch, such as guard zones, use it).
void set_last_fault(std::string text);

// A kernel-side error (bad shuffle width, ...): thrown inside a thread, it fails the launch.
class Fault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class WarpOp : uint8_t { sync, shfl, ballot, all, any };

void block_barrier(const std::source_location& site);
// Waits until every live lane of `mask` arrives with the same op and mask, then returns: for shfl
// the bits that lane `source_lane` posted (own bits when source_lane is the caller; all ones, i.e.
// NaN, when the source lane does not take part); for ballot/all/any the vote over `bits != 0`.
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t bits, int source_lane, const std::source_location& site);
unsigned lane_id();
void* dynamic_shared_memory();

}  // namespace detail
}  // namespace cuae_simt
