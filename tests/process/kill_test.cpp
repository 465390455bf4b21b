// SIGKILL during a checkpoint save must never cost the previous checkpoint. A child process saves
// checkpoints in a loop (generation g: every parameter and moment equals g); the parent kills it at
// a random moment, then the file under the checkpoint's name must load and hold one whole
// generation, never a mix and never less than the last generation known to be complete. Kills that
// land inside a save leave the save's temporary file behind, which is how the test counts them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cuae/cuae.h"
#include "io/checkpoint.h"

namespace cuae {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSeed = 0x6b696c6c;  // "kill"
constexpr int kKills = 120;

ModelConfig kill_config() {
  ModelConfig c;
  c.layers = {301, 157, 33};  // about 0.1 M floats x 3 (Adam): a save takes a few milliseconds
  c.seed = kSeed;
  return c;
}

// The generation a checkpoint holds, or -1 when its tensors disagree (a torn write).
int64_t generation_of(const Checkpoint& ckpt, const ParameterLayout& layout) {
  const float g = ckpt.parameters.at(static_cast<size_t>(layout.layers[0].weight_offset));
  for (const LayerLayout& layer : layout.layers) {
    for (const auto* buffer : {&ckpt.parameters, &ckpt.optimizer.m, &ckpt.optimizer.v}) {
      for (int64_t i = 0; i < layer.in * layer.out; ++i)
        if ((*buffer)[static_cast<size_t>(layer.weight_offset + i)] != g) return -1;
      for (int64_t i = 0; i < layer.out; ++i)
        if ((*buffer)[static_cast<size_t>(layer.bias_offset + i)] != g) return -1;
    }
  }
  return ckpt.optimizer.step == static_cast<int64_t>(g) ? ckpt.optimizer.step : -1;
}

void save_generation(const fs::path& path, const ModelConfig& config, const ParameterLayout& layout, int64_t g) {
  const auto total = static_cast<size_t>(layout.total_floats);
  std::vector<float> values(total, 0.0f);
  for (const LayerLayout& layer : layout.layers) {
    std::fill_n(values.begin() + layer.weight_offset, layer.in * layer.out, static_cast<float>(g));
    std::fill_n(values.begin() + layer.bias_offset, layer.out, static_cast<float>(g));
  }
  RunConfig run;
  run.model = config;
  write_checkpoint(path, run, layout, values, OptimizerState{g, values, values});
}

size_t leftover_temporaries(const fs::path& dir) {
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
      ++count;
      fs::remove(entry.path());
    }
  }
  return count;
}

TEST(KillDuringSave, PreviousCheckpointSurvivesSigkillAtRandomPointsOfManySaves) {
  const fs::path dir = fs::temp_directory_path() / ("cuae_kill_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "ckpt.safetensors";
  const ModelConfig config = kill_config();
  const ParameterLayout layout = make_layout(config);
  save_generation(path, config, layout, 1);

  // Shared with the child: [0] the last generation whose save returned, so the parent knows the
  // minimum the file must hold after the kill; [1] set once the child runs, so the random delay
  // measures time spent saving rather than fork and start-up.
  void* shared = ::mmap(nullptr, 2 * sizeof(std::atomic<int64_t>), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  auto* completed = new (shared) std::atomic<int64_t>(1);
  auto* running = new (completed + 1) std::atomic<int64_t>(0);

  std::mt19937_64 rng(kSeed);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  int killed_mid_save = 0, min_generation_seen = 1 << 30, max_generation_seen = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    const int64_t start = completed->load();
    running->store(0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Only write_checkpoint runs here: no OpenMP or BLAS threads, which do not survive fork.
      running->store(1);
      try {
        for (int64_t g = start + 1;; ++g) {
          save_generation(path, config, layout, g);
          completed->store(g);
        }
      } catch (...) {
        ::_exit(3);  // never return into the test framework's copy in the child
      }
    }
    for (int spin = 0; running->load() == 0 && spin < 100000; ++spin) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "kill " << kill << ": status " << status;

    killed_mid_save += leftover_temporaries(dir) > 0;
    const int64_t done = completed->load();
    Checkpoint ckpt;
    ASSERT_NO_THROW(ckpt = read_checkpoint(path)) << "kill " << kill << " (seed " << kSeed << ")";
    const int64_t g = generation_of(ckpt, layout);
    // The rename of generation done + 1 may have happened just before the kill, after its save
    // returned to the loop but before `completed` was stored.
    ASSERT_TRUE(g == done || g == done + 1) << "kill " << kill << ": file holds generation " << g << ", last completed "
                                            << done << " (seed " << kSeed << ")";
    completed->store(g);
    min_generation_seen = std::min<int>(min_generation_seen, static_cast<int>(g - start));
    max_generation_seen = std::max<int>(max_generation_seen, static_cast<int>(g - start));
  }
  ::munmap(shared, 2 * sizeof(std::atomic<int64_t>));
  fs::remove_all(dir);
  // The kills must actually have landed inside saves, or the test would prove nothing.
  EXPECT_GE(killed_mid_save, kKills / 4) << "only " << killed_mid_save << " of " << kKills << " kills hit a save";
  RecordProperty("kills", kKills);
  RecordProperty("kills_inside_a_save", killed_mid_save);
  std::printf("[ kill ] %d SIGKILLs, %d inside a save (temporary left behind), saves completed per run %d..%d; "
              "checkpoint intact every time\n",
              kKills, killed_mid_save, min_generation_seen, max_generation_seen);
}

}  // namespace
}  // namespace cuae
