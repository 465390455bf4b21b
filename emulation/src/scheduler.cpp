// The fiber scheduler of the host SIMT emulation: runs a grid block by block, each block's threads as
// Boost.Context fibers that switch at __syncthreads() and warp collectives (see cuda_runtime.h).
#include <cxxabi.h>
#include <dlfcn.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace ctx = boost::context;

namespace cuae_simt {
namespace detail {
namespace {

// ---- fiber stacks --------------------------------------------------------------------------------
// ASan's redzones make frames several times larger.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kStackBytes = 512 * 1024;
#else
constexpr size_t kStackBytes = 128 * 1024;
#endif

// Guard-paged stacks, allocated once and reused by every block (a block needs one per thread).
class StackPool {
 public:
  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool() {
    ctx::protected_fixedsize_stack allocator(kStackBytes);
    for (ctx::stack_context& stack : stacks_) allocator.deallocate(stack);
  }
  // The first `count` stacks, allocating what is missing.
  const ctx::stack_context& at(size_t index) {
    while (stacks_.size() <= index) stacks_.push_back(ctx::protected_fixedsize_stack(kStackBytes).allocate());
    return stacks_[index];
  }

 private:
  std::vector<ctx::stack_context> stacks_;
};

// Hands a pooled stack to a fiber; the pool keeps ownership.
struct PooledStack {
  ctx::stack_context stack;
  ctx::stack_context allocate() const { return stack; }
  void deallocate(ctx::stack_context&) const noexcept {}
};

// ---- AddressSanitizer fiber annotations ----------------------------------------------------------
// ASan must know which stack is live, or exceptions and stack checks on a fiber stack misfire.
#if defined(__SANITIZE_ADDRESS__)
void asan_start_switch(void** fake_stack, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
}
void asan_finish_switch(void* fake_stack, const void** old_bottom, size_t* old_size) {
  __sanitizer_finish_switch_fiber(fake_stack, old_bottom, old_size);
}
void asan_unpoison(const void* bottom, size_t size) { ASAN_UNPOISON_MEMORY_REGION(bottom, size); }
#else
void asan_start_switch(void**, const void*, size_t) {}
void asan_finish_switch(void*, const void**, size_t*) {}
void asan_unpoison(const void*, size_t) {}
#endif

// ---- ThreadSanitizer fiber annotations (race mode, README) -----------------------------------------
// Each emulated thread is a TSan fiber; switches carry no synchronisation, so the only
// happens-before edges are the ones CUDA guarantees: barriers, warp collectives, kernel boundaries.
#if defined(__SANITIZE_THREAD__)
extern "C" {
void* __tsan_get_current_fiber();
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
void AnnotateBenignRaceSized(const char* file, int line, const volatile void* address, size_t size,
                             const char* description);
}
constexpr unsigned kTsanNoSync = 1;  // __tsan_switch_to_fiber_no_sync
void* tsan_current_fiber() { return __tsan_get_current_fiber(); }
void* tsan_create_fiber() { return __tsan_create_fiber(0); }
void tsan_destroy_fiber(void* fiber) { __tsan_destroy_fiber(fiber); }
void tsan_switch(void* fiber, bool sync) { __tsan_switch_to_fiber(fiber, sync ? 0 : kTsanNoSync); }
void tsan_release(void* object) { __tsan_release(object); }
void tsan_acquire(void* object) { __tsan_acquire(object); }
void tsan_benign(const volatile void* address, size_t size) {
  AnnotateBenignRaceSized(__FILE__, __LINE__, address, size, "cuae_simt scheduler hand-off");
}
#else
void* tsan_current_fiber() { return nullptr; }
void* tsan_create_fiber() { return nullptr; }
void tsan_destroy_fiber(void*) {}
void tsan_switch(void*, bool) {}
void tsan_release(void*) {}
void tsan_acquire(void*) {}
void tsan_benign(const volatile void*, size_t) {}
#endif

// ---- block state ---------------------------------------------------------------------------------
enum class State : uint8_t { runnable, block_barrier, warp_op, done };

struct WarpRequest {
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  uint64_t bits = 0;
  int source = -1;
  uint64_t result = 0;
};

struct Thread {
  ctx::fiber self;       // the suspended thread; empty before its first resumption and when done
  ctx::fiber scheduler;  // the scheduler, while this thread runs
  State state = State::runnable;
  uint3 index{0, 0, 0};
  unsigned linear = 0;
  std::source_location site;  // of the barrier or collective it waits at
  WarpRequest warp;
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* fake_stack = nullptr;  // ASan's per-fiber bookkeeping
  void* tsan_fiber = nullptr;  // TSan's, while the thread exists in this block
};

// Thrown into suspended threads to unwind them when the block has failed.
struct Abort {};

// One CUAE_SHARED declaration's storage for the current launch.
struct StaticShared {
  struct Free {
    size_t alignment;
    void operator()(std::byte* p) const { ::operator delete(p, std::align_val_t{alignment}); }
  };
  std::unique_ptr<std::byte, Free> bytes;
  size_t size = 0;
};

struct BlockRun {
  const LaunchSpec* spec = nullptr;
  std::vector<Thread> threads;
  Thread* current = nullptr;
  bool aborting = false;
  std::string fault;  // first failure, empty while all is well
  std::vector<std::byte> dynamic_shared;
  std::map<const SharedSlot*, StaticShared> static_shared;  // poisoned before every block
  size_t static_shared_bytes = 0;
  const void* scheduler_stack_bottom = nullptr;
  size_t scheduler_stack_size = 0;
  void* scheduler_fake_stack = nullptr;
  void* scheduler_tsan_fiber = nullptr;
  char barrier_sync = 0;               // TSan's synchronisation object of __syncthreads()
  char block_end_sync = 0;             // of the end of the block (what follows sees it all)
  std::vector<char> warp_sync;         // and of each warp's collectives
};

std::mutex g_launch_mutex;  // one launch at a time: shared memory and built-ins are process-wide
BlockRun* g_block = nullptr;
StackPool g_stacks;
ThreadOrder g_order = ThreadOrder::forward;
bool g_order_chosen = false;  // by set_thread_order or the environment
std::mt19937_64 g_rng;
ThreadOrder g_block_order = ThreadOrder::forward;
bool g_block_order_chosen = false;
std::mt19937_64 g_block_rng;
thread_local std::string g_last_fault;

std::string dim_str(uint3 d) {
  char text[48];
  std::snprintf(text, sizeof text, "(%u,%u,%u)", d.x, d.y, d.z);
  return text;
}

std::string site_str(const std::source_location& site) {
  return std::string(site.file_name()) + ":" + std::to_string(site.line());
}

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::sync: return "__syncwarp";
    case WarpOp::shfl: return "a warp shuffle";
    case WarpOp::ballot: return "__ballot_sync";
    case WarpOp::all: return "__all_sync";
    case WarpOp::any: return "__any_sync";
  }
  return "?";
}

std::string waiting_str(const Thread& t) {
  if (t.state == State::block_barrier) return "__syncthreads() at " + site_str(t.site);
  char mask[16];
  std::snprintf(mask, sizeof mask, "0x%08x", t.warp.mask);
  return std::string(op_name(t.warp.op)) + " (mask " + mask + ") at " + site_str(t.site);
}

void fail(BlockRun& block, const std::string& what) {
  if (block.fault.empty()) block.fault = what;
}

void fail_thread(BlockRun& block, const Thread& t, const std::string& what) {
  fail(block, "thread " + dim_str(t.index) + ": " + what);
}

// ---- switching -----------------------------------------------------------------------------------
// Thread side: back to the scheduler until released.
void suspend(Thread& t) {
  asan_start_switch(&t.fake_stack, g_block->scheduler_stack_bottom, g_block->scheduler_stack_size);
  tsan_switch(g_block->scheduler_tsan_fiber, false);
  t.scheduler = std::move(t.scheduler).resume();
  asan_finish_switch(t.fake_stack, nullptr, nullptr);
  if (g_block->aborting) throw Abort{};
}

ctx::fiber thread_main(Thread& t, ctx::fiber&& scheduler) {
  BlockRun& block = *g_block;
  t.scheduler = std::move(scheduler);
  asan_finish_switch(nullptr, &block.scheduler_stack_bottom, &block.scheduler_stack_size);
  try {
    block.spec->body();
  } catch (const Abort&) {
  } catch (const std::exception& e) {
    fail_thread(block, t, e.what());
  }
  t.state = State::done;
  asan_start_switch(nullptr, block.scheduler_stack_bottom, block.scheduler_stack_size);
  tsan_release(&block.block_end_sync);  // a finished thread's work happens before the block ends
  tsan_switch(block.scheduler_tsan_fiber, false);
  return std::move(t.scheduler);
}

// Scheduler side: run `t` until it suspends or finishes.
void resume(BlockRun& block, Thread& t) {
  block.current = &t;
  threadIdx = t.index;
  bool first = false;
  if (!t.self) {
    first = true;
    t.tsan_fiber = tsan_create_fiber();
    const ctx::stack_context& stack = g_stacks.at(t.linear);
    t.stack_size = stack.size;
    t.stack_bottom = static_cast<const char*>(stack.sp) - stack.size;
    t.self = ctx::fiber(std::allocator_arg, PooledStack{stack},
                        [&t](ctx::fiber&& caller) { return thread_main(t, std::move(caller)); });
  }
  asan_start_switch(&block.scheduler_fake_stack, t.stack_bottom, t.stack_size);
  tsan_switch(t.tsan_fiber, first);  // the first switch starts the thread: it sees the launch's set-up
  t.self = std::move(t.self).resume();
  asan_finish_switch(block.scheduler_fake_stack, nullptr, nullptr);
  block.current = nullptr;
}

// ---- barrier release -----------------------------------------------------------------------------
// Opens the warp collectives whose lanes have all arrived; true if any opened.
bool release_warps(BlockRun& block) {
  bool progress = false;
  const size_t count = block.threads.size();
  for (size_t warp = 0; warp * 32 < count; ++warp) {
    const size_t first = warp * 32, end = std::min(count, first + 32);
    for (size_t i = first; i < end; ++i) {
      Thread& lead = block.threads[i];
      if (lead.state != State::warp_op) continue;
      const unsigned mask = lead.warp.mask;
      if (((mask >> (i - first)) & 1u) == 0) {
        fail_thread(block, lead, waiting_str(lead) + ": the mask does not include the calling lane " +
                                     std::to_string(i - first));
        return false;
      }
      unsigned arrived = 0;
      bool ready = true;
      for (size_t j = first; j < end; ++j) {
        const Thread& lane = block.threads[j];
        if (((mask >> (j - first)) & 1u) == 0 || lane.state == State::done) continue;
        if (lane.state != State::warp_op || lane.warp.mask != mask) {
          ready = false;
          break;
        }
        if (lane.warp.op != lead.warp.op) {
          fail_thread(block, lane, waiting_str(lane) + " while lane " + std::to_string(i - first) + " waits at " +
                                       waiting_str(lead));
          return false;
        }
        arrived |= 1u << (j - first);
      }
      if (!ready) continue;
      unsigned votes = 0;
      for (size_t j = first; j < end; ++j) {
        if ((arrived >> (j - first)) & 1u) votes |= static_cast<unsigned>(block.threads[j].warp.bits != 0) << (j - first);
      }
      for (size_t j = first; j < end; ++j) {
        if (((arrived >> (j - first)) & 1u) == 0) continue;
        Thread& lane = block.threads[j];
        switch (lane.warp.op) {
          case WarpOp::shfl: {
            const int source = lane.warp.source;
            const bool present = source >= 0 && source < 32 && ((arrived >> source) & 1u);
            lane.warp.result = present ? block.threads[first + static_cast<size_t>(source)].warp.bits : ~uint64_t{0};
            break;
          }
          case WarpOp::ballot: lane.warp.result = votes; break;
          case WarpOp::all: lane.warp.result = votes == arrived; break;
          case WarpOp::any: lane.warp.result = votes != 0; break;
          case WarpOp::sync: lane.warp.result = 0; break;
        }
        lane.state = State::runnable;
      }
      progress = true;
    }
  }
  return progress;
}

// Opens __syncthreads() when every thread of the block waits at the same call site.
bool release_block_barrier(BlockRun& block) {
  const Thread* waiting = nullptr;
  for (const Thread& t : block.threads) {
    if (t.state == State::block_barrier) {
      waiting = &t;
      break;
    }
  }
  if (waiting == nullptr) return false;
  for (const Thread& t : block.threads) {
    if (t.state == State::done) {
      fail_thread(block, t, "exited while thread " + dim_str(waiting->index) + " waits at " + waiting_str(*waiting));
      return false;
    }
    if (t.state != State::block_barrier) return false;
    if (t.site.line() != waiting->site.line() || std::strcmp(t.site.file_name(), waiting->site.file_name()) != 0) {
      fail_thread(block, t, "divergent barriers: waits at " + waiting_str(t) + " while thread " + dim_str(waiting->index) +
                                " waits at " + waiting_str(*waiting));
      return false;
    }
  }
  for (Thread& t : block.threads) t.state = State::runnable;
  return true;
}

// ---- running a block -----------------------------------------------------------------------------
void poison(std::vector<std::byte>& bytes) {
  if (!bytes.empty()) std::memset(bytes.data(), 0xFF, bytes.size());
}

void abort_threads(BlockRun& block) {
  block.aborting = true;
  for (Thread& t : block.threads) {
    if (t.self) resume(block, t);  // suspend() throws Abort, which unwinds the thread's frames
  }
  block.aborting = false;
  // Unwinding skips the epilogues that clear ASan's stack redzones; the next block reuses the stacks.
  for (const Thread& t : block.threads) {
    if (t.stack_bottom != nullptr) asan_unpoison(t.stack_bottom, t.stack_size);
  }
}

void end_tsan_fibers(BlockRun& block) {
  for (Thread& t : block.threads) {
    if (t.tsan_fiber != nullptr) tsan_destroy_fiber(std::exchange(t.tsan_fiber, nullptr));
  }
}

void run_block_fibers(BlockRun& block);

void run_block(BlockRun& block) {
  run_block_fibers(block);
  tsan_acquire(&block.block_end_sync);  // later blocks and launches are ordered after this one
  end_tsan_fibers(block);
}

void run_block_fibers(BlockRun& block) {
  for (Thread& t : block.threads) t.state = State::runnable;
  poison(block.dynamic_shared);
  for (auto& [slot, storage] : block.static_shared) std::memset(storage.bytes.get(), 0xFF, storage.size);
  std::vector<Thread*> order;
  order.reserve(block.threads.size());
  for (;;) {
    order.clear();
    for (Thread& t : block.threads) {
      if (t.state == State::runnable) order.push_back(&t);
    }
    if (g_order == ThreadOrder::reverse) std::reverse(order.begin(), order.end());
    if (g_order == ThreadOrder::random) std::shuffle(order.begin(), order.end(), g_rng);
    for (Thread* t : order) {
      resume(block, *t);
      if (!block.fault.empty()) return abort_threads(block);
    }
    const bool warps = release_warps(block);
    const bool barrier = block.fault.empty() && release_block_barrier(block);
    if (!block.fault.empty()) return abort_threads(block);
    if (warps || barrier) continue;
    const auto stuck = std::find_if(block.threads.begin(), block.threads.end(),
                                    [](const Thread& t) { return t.state != State::done; });
    if (stuck == block.threads.end()) return;
    fail_thread(block, *stuck, "deadlock: waits at " + waiting_str(*stuck) + ", which can never open");
    return abort_threads(block);
  }
}

// Reads `variable` (forward|reverse|random:SEED) into `order` and seeds `rng`.
void order_from_environment(const char* variable, ThreadOrder& order, std::mt19937_64& rng) {
  const char* text = std::getenv(variable);
  if (text == nullptr || std::strcmp(text, "forward") == 0) return;
  if (std::strcmp(text, "reverse") == 0) {
    order = ThreadOrder::reverse;
  } else if (std::strncmp(text, "random:", 7) == 0) {
    order = ThreadOrder::random;
    rng.seed(std::strtoull(text + 7, nullptr, 10));
  } else {
    std::fprintf(stderr, "cuae_simt: %s=%s is not forward, reverse or random:SEED; using forward\n", variable, text);
  }
}

void choose_order_from_environment() {
  if (!g_order_chosen) order_from_environment("CUAE_SIMT_ORDER", g_order, g_rng);
  g_order_chosen = true;
  if (!g_block_order_chosen) order_from_environment("CUAE_SIMT_BLOCK_ORDER", g_block_order, g_block_rng);
  g_block_order_chosen = true;
}

// The grid's block indices in the chosen block order.
std::vector<uint3> block_sequence(dim3 grid) {
  std::vector<uint3> blocks;
  blocks.reserve(size_t{grid.x} * grid.y * grid.z);
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) blocks.push_back({x, y, z});
    }
  }
  if (g_block_order == ThreadOrder::reverse) std::reverse(blocks.begin(), blocks.end());
  if (g_block_order == ThreadOrder::random) std::shuffle(blocks.begin(), blocks.end(), g_block_rng);
  return blocks;
}

}  // namespace

// ---- interface -----------------------------------------------------------------------------------
std::string kernel_name(KernelId kernel) {
  Dl_info info{};
  void* address = nullptr;
  std::memcpy(&address, &kernel, sizeof address);
  if (dladdr(address, &info) != 0 && info.dli_sname != nullptr && info.dli_saddr == address) {  // exact only
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> demangled(abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status),
                                                          &std::free);
    return status == 0 ? demangled.get() : info.dli_sname;
  }
  char text[32];
  std::snprintf(text, sizeof text, "kernel@%p", address);
  return text;
}

void set_last_fault(std::string text) { g_last_fault = std::move(text); }

int run_grid(const LaunchSpec& spec) {
  std::lock_guard lock(g_launch_mutex);
  choose_order_from_environment();
  g_last_fault.clear();
  BlockRun block;
  block.spec = &spec;
  block.dynamic_shared.resize(spec.dynamic_shared_bytes);
  const unsigned threads = spec.block.x * spec.block.y * spec.block.z;
  block.threads.resize(threads);
  for (unsigned i = 0; i < threads; ++i) {
    block.threads[i].linear = i;
    block.threads[i].index = {i % spec.block.x, (i / spec.block.x) % spec.block.y, i / (spec.block.x * spec.block.y)};
  }
  blockDim = spec.block;
  gridDim = spec.grid;
  block.warp_sync.resize((threads + 31) / 32);
  block.scheduler_tsan_fiber = tsan_current_fiber();
  for (Thread& t : block.threads) tsan_benign(&t, sizeof t);  // written by the scheduler and its thread
  tsan_benign(&block, sizeof block);
  tsan_benign(&blockIdx, sizeof blockIdx);
  tsan_benign(&threadIdx, sizeof threadIdx);
  g_block = &block;
  for (const uint3 index : block_sequence(spec.grid)) {
    blockIdx = index;
    run_block(block);
    if (!block.fault.empty()) break;
  }
  g_block = nullptr;
  if (block.fault.empty()) return cudaSuccess;
  g_last_fault = "cuae_simt: " + kernel_name(spec.kernel) + ", block " + dim_str(blockIdx) + ", " + block.fault;
  return cudaErrorLaunchFailure;
}

Thread& current_thread(const char* what) {
  if (g_block == nullptr || g_block->current == nullptr) {
    std::fprintf(stderr, "cuae_simt: %s called outside a kernel\n", what);
    std::abort();
  }
  return *g_block->current;
}

void block_barrier(const std::source_location& site) {
  Thread& t = current_thread("__syncthreads");
  t.state = State::block_barrier;
  t.site = site;
  tsan_release(&g_block->barrier_sync);  // every arrival happens before every departure
  suspend(t);
  tsan_acquire(&g_block->barrier_sync);
}

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t bits, int source_lane, const std::source_location& site) {
  Thread& t = current_thread("a warp collective");
  t.state = State::warp_op;
  t.site = site;
  t.warp = {op, mask, bits, source_lane, 0};
  char* warp = &g_block->warp_sync[t.linear / 32];
  tsan_release(warp);
  suspend(t);
  tsan_acquire(warp);
  return t.warp.result;
}

unsigned lane_id() { return current_thread("a warp shuffle").linear % 32; }

void* dynamic_shared_memory() {
  current_thread("CUAE_DYNAMIC_SHARED");
  return g_block->dynamic_shared.empty() ? nullptr : g_block->dynamic_shared.data();
}

void* static_shared_memory(SharedSlot& slot, size_t bytes, size_t alignment) {
  Thread& t = current_thread("CUAE_SHARED");
  BlockRun& block = *g_block;
  tsan_acquire(&block.static_shared);  // the map is the scheduler's state, not the kernel's memory
  auto it = block.static_shared.find(&slot);
  if (it == block.static_shared.end()) {  // first use in this launch: the rest of the block sees it too
    constexpr size_t kStaticSharedLimit = 48 * 1024;  // nvcc refuses more static shared memory
    if (block.static_shared_bytes + bytes > kStaticSharedLimit) {
      throw Fault("static shared memory of " + std::to_string(block.static_shared_bytes + bytes) +
                  " bytes exceeds 48 KiB");
    }
    (void)t;
    alignment = std::max(alignment, alignof(std::max_align_t));
    StaticShared storage{{static_cast<std::byte*>(::operator new(bytes, std::align_val_t{alignment})),
                          StaticShared::Free{alignment}},
                         bytes};
    std::memset(storage.bytes.get(), 0xFF, bytes);
    block.static_shared_bytes += bytes;
    it = block.static_shared.emplace(&slot, std::move(storage)).first;
    tsan_release(&block.static_shared);
  }
  return it->second.bytes.get();
}

}  // namespace detail

void set_thread_order(ThreadOrder order, uint64_t seed) {
  std::lock_guard lock(detail::g_launch_mutex);
  detail::g_order = order;
  detail::g_order_chosen = true;
  detail::g_rng.seed(seed);
}

ThreadOrder thread_order() {
  std::lock_guard lock(detail::g_launch_mutex);
  detail::choose_order_from_environment();
  return detail::g_order;
}

void set_block_order(ThreadOrder order, uint64_t seed) {
  std::lock_guard lock(detail::g_launch_mutex);
  detail::g_block_order = order;
  detail::g_block_order_chosen = true;
  detail::g_block_rng.seed(seed);
}

ThreadOrder block_order() {
  std::lock_guard lock(detail::g_launch_mutex);
  detail::choose_order_from_environment();
  return detail::g_block_order;
}

const std::string& last_fault() { return detail::g_last_fault; }

}  // namespace cuae_simt
