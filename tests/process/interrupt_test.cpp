// `cuae train` as a process: SIGINT / SIGTERM during training end it after the current step with a
// checkpoint and exit status 130 / 143; --resume from a periodic checkpoint finishes bit-identical
// to the uninterrupted run; a checkpoint of other layers is refused naming both; a non-finite loss
// stops training naming the step and keeps the last good checkpoint.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cuae/cuae.h"

namespace cuae {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class TrainProcess : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef CUAE_CLI_PATH
    GTEST_SKIP() << "the cuae_cli target is not built";
#endif
    dir_ = fs::temp_directory_path() / ("cuae_train_process_" +
                                        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                                        "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Starts `cuae train <args>` with stdout/stderr in the test directory.
  pid_t spawn(const std::vector<std::string>& args) const {
#ifdef CUAE_CLI_PATH
    std::vector<std::string> argv{CUAE_CLI_PATH, "train"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string out = path("stdout.txt"), err = path("stderr.txt");
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) ::_exit(126);
      std::vector<char*> raw;
      for (std::string& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      ::execv(raw[0], raw.data());
      ::_exit(127);
    }
    return pid;
#else
    (void)args;
    return -1;
#endif
  }

  // The exit status, or 1000 + signal when it died of one; kills it after `timeout`.
  static int wait_for(pid_t pid, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  }

  int run(const std::vector<std::string>& args) const { return wait_for(spawn(args)); }
  std::string err() const { return slurp(path("stderr.txt")); }

  // Long enough that only a signal ends it: 200 epochs of 3000 rows in batches of 8.
  std::vector<std::string> long_run(const std::string& ckpt) const {
    return {"--data", "random:3000,61", "--layers", "61,17", "--epochs", "200", "--batch", "8",
            "--device", "cpu", "--threads", "1", "--seed", "5", "--out", path("final.safetensors"),
            "--checkpoint", ckpt, "--checkpoint-every", "25"};
  }

  // Sends `signal` once training is under way (the first periodic checkpoint exists).
  void interrupt_and_check(int signal, int expected_status) {
    const std::string ckpt = path("ckpt.safetensors");
    const pid_t pid = spawn(long_run(ckpt));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!fs::exists(ckpt) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(fs::exists(ckpt)) << "no periodic checkpoint within 30 s: " << err();
    ASSERT_EQ(::kill(pid, signal), 0);
    EXPECT_EQ(wait_for(pid), expected_status) << err();
    EXPECT_THAT(err(), AllOf(HasSubstr(signal == SIGINT ? "stopped by SIGINT at step" : "stopped by SIGTERM at step"),
                             HasSubstr("checkpoint saved to " + ckpt), HasSubstr("--resume " + ckpt)));
    EXPECT_FALSE(fs::exists(path("final.safetensors"))) << "an interrupted run is not a finished model";
    const Model saved = Model::load(ckpt);
    EXPECT_GE(saved.step(), 25);  // the signal came after the first periodic save
    EXPECT_THAT(err(), HasSubstr("at step " + std::to_string(saved.step()) + " "));
  }

  fs::path dir_;
};

TEST_F(TrainProcess, SigintFinishesTheStepSavesACheckpointAndExits130) { interrupt_and_check(SIGINT, 130); }

TEST_F(TrainProcess, SigtermFinishesTheStepSavesACheckpointAndExits143) { interrupt_and_check(SIGTERM, 143); }

// A resumed run continues the metrics file of the run it resumes: the interrupted epoch's row stays,
// marked partial (complete = 0), and the epochs go on being numbered from there.
TEST_F(TrainProcess, ResumingAppendsToTheMetricsAndMarksTheInterruptedEpochPartial) {
  const std::string ckpt = path("ckpt.safetensors"), metrics = path("m.csv");
  std::vector<std::string> args = long_run(ckpt);
  args.insert(args.end(), {"--metrics", metrics});
  const pid_t pid = spawn(args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(ckpt) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(fs::exists(ckpt)) << err();
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  ASSERT_EQ(wait_for(pid), 130) << err();
  ASSERT_EQ(Model::load(ckpt).epochs_completed(), 0) << "the signal must land inside the first epoch";
  EXPECT_THAT(slurp(metrics), HasSubstr(",0\n"));

  ASSERT_EQ(run({"--resume", ckpt, "--epochs", "2", "--metrics", metrics, "--out", path("final.safetensors")}), 0)
      << err();
  EXPECT_THAT(err(), AllOf(HasSubstr("epoch 1/2"), HasSubstr("epoch 2/2")));
  std::vector<std::string> rows;
  std::stringstream lines(slurp(metrics));
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 4u) << slurp(metrics);
  EXPECT_EQ(rows[0], "epoch,train_loss,val_loss,seconds,samples_per_s,lr,recon_loss,l1_activity,kl_sparsity,l2,kl,complete");
  EXPECT_THAT(rows[1], AllOf(::testing::StartsWith("1,"), ::testing::EndsWith(",0")));
  EXPECT_THAT(rows[2], AllOf(::testing::StartsWith("1,"), ::testing::EndsWith(",1")));
  EXPECT_THAT(rows[3], AllOf(::testing::StartsWith("2,"), ::testing::EndsWith(",1")));
}

TEST_F(TrainProcess, ResumingFromAMidEpochCheckpointIsBitIdenticalToTheUninterruptedRun) {
  // 211 rows in batches of 16: 14 steps per epoch; checkpoints every 9 steps land mid-epoch, the
  // last one at step 36 (epoch 3, 4 batches in).
  const std::vector<std::string> common{"--data", "random:211,29", "--layers", "29,13,6", "--epochs", "3",
                                        "--batch", "16", "--device", "cpu", "--seed", "11"};
  std::vector<std::string> straight = common;
  straight.insert(straight.end(), {"--out", path("straight.safetensors"), "--checkpoint", path("ckpt.safetensors"),
                                   "--checkpoint-every", "9"});
  ASSERT_EQ(run(straight), 0) << err();
  const Model mid = Model::load(path("ckpt.safetensors"));
  ASSERT_EQ(mid.step(), 36);
  ASSERT_EQ(mid.epochs_completed(), 2);
  ASSERT_EQ(mid.samples_into_epoch(), 8 * 16);

  std::vector<std::string> resumed = common;
  resumed.insert(resumed.end(), {"--resume", path("ckpt.safetensors"), "--out", path("resumed.safetensors")});
  ASSERT_EQ(run(resumed), 0) << err();
  EXPECT_THAT(err(), HasSubstr("resuming at step 36 (epoch 3, 128 rows into it)"));
  const Model a = Model::load(path("straight.safetensors")), b = Model::load(path("resumed.safetensors"));
  EXPECT_EQ(b.step(), a.step());
  EXPECT_TRUE(bitwise_equal(a.parameters(), b.parameters()));
  EXPECT_TRUE(bitwise_equal(a.optimizer_state().m, b.optimizer_state().m));
  EXPECT_TRUE(bitwise_equal(a.optimizer_state().v, b.optimizer_state().v));
}

TEST_F(TrainProcess, ResumingWithOtherLayersIsRefusedNamingBothShapes) {
  ASSERT_EQ(run({"--data", "random:50,29", "--layers", "29,13", "--epochs", "1", "--device", "cpu", "--out",
                 path("a.safetensors")}),
            0)
      << err();
  EXPECT_EQ(run({"--data", "random:50,29", "--layers", "29,12", "--epochs", "2", "--device", "cpu", "--resume",
                 path("a.safetensors"), "--out", path("b.safetensors")}),
            1);
  EXPECT_THAT(err(), AllOf(HasSubstr("checkpoint has layers 29,13"), HasSubstr("--layers asks for 29,12")));
}

// Optimizer and model flags come from the checkpoint on --resume: the same value is accepted, another
// one is refused naming both, so a resumed run never trains with settings other than those asked for.
TEST_F(TrainProcess, ResumingWithAnotherLearningRateIsRefusedNamingBothValues) {
  ASSERT_EQ(run({"--data", "random:50,29", "--layers", "29,13", "--epochs", "1", "--lr", "0.002", "--device", "cpu",
                 "--out", path("a.safetensors")}),
            0)
      << err();
  EXPECT_EQ(run({"--data", "random:50,29", "--epochs", "2", "--lr", "0.5", "--device", "cpu", "--resume",
                 path("a.safetensors"), "--out", path("b.safetensors")}),
            1);
  EXPECT_THAT(err(), AllOf(HasSubstr("--lr 0.002"), HasSubstr("--lr 0.5 was given")));
  EXPECT_FALSE(fs::exists(path("b.safetensors")));
  EXPECT_EQ(run({"--data", "random:50,29", "--epochs", "2", "--lr", "0.002", "--layers", "29,13", "--device", "cpu",
                 "--resume", path("a.safetensors"), "--out", path("b.safetensors")}),
            0)
      << err();
}

TEST_F(TrainProcess, NonFiniteLossStopsNamingTheStepAndKeepsTheLastGoodCheckpoint) {
  // Plain SGD with a huge learning rate on a linear MSE model overflows float within a few steps.
  const int status = run({"--data", "random:400,31", "--layers", "31,7", "--loss", "mse", "--output-activation",
                          "linear", "--optimizer", "sgd", "--lr", "1e4", "--batch", "4", "--epochs", "5",
                          "--device", "cpu", "--out", path("out.safetensors"), "--checkpoint-every", "1"});
  EXPECT_EQ(status, 1) << err();
  EXPECT_THAT(err(), AllOf(HasSubstr("non-finite"), HasSubstr("at step"), HasSubstr("the last good checkpoint is")));
  const Model kept = Model::load(path("out.safetensors"));
  EXPECT_GE(kept.step(), 1);
  for (const float p : kept.parameters()) ASSERT_TRUE(std::isfinite(p));
}

}  // namespace
}  // namespace cuae
