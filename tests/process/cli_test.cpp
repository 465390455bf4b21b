// The `cuae` program end to end, run as a child process on small synthetic and hand-written data:
// train, eval, encode, reconstruct, plot and info, the JSON config, and malformed inputs, each of which
// must exit non-zero with one line "cuae <command>: ..." naming the file and the problem, and leave an
// existing output file untouched.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/device.h"
#include "support/reference.h"

namespace cuae {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Result {
  int status = -1;
  std::string out, err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef CUAE_CLI_PATH
    GTEST_SKIP() << "the cuae_cli target is not built";
#endif
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("cuae_cli_") + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path file(const std::string& name) const { return dir_ / name; }
  std::string path(const std::string& name) const { return file(name).string(); }

  // Runs `cuae <args>` in the test's directory (so relative paths land there) with a plain (non-tty)
  // stderr, and --threads is left to the caller.
  Result run(const std::string& args) const {
#ifdef CUAE_CLI_PATH
    const std::string command = "cd '" + dir_.string() + "' && '" + std::string(CUAE_CLI_PATH) + "' " + args +
                                " >'" + path("stdout.txt") + "' 2>'" + path("stderr.txt") + "'";
    const int raw = std::system(command.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    r.out = slurp(file("stdout.txt"));
    r.err = slurp(file("stderr.txt"));
    return r;
#else
    (void)args;
    return {};
#endif
  }

  // A failing run: non-zero exit, exactly one line on stderr, starting with "cuae <command>: ". In
  // builds with the CUDA backend but no usable GPU, `--device auto` first prints its one-line CPU
  // fallback notice; that line is informational and not counted.
  std::string expect_failure(const std::string& args, const std::string& command) const {
    Result r = run(args);
    const std::string notice_marker = "; using the CPU\n";
    if (const size_t at = r.err.find(notice_marker); at != std::string::npos && r.err.rfind('\n', at) == std::string::npos)
      r.err.erase(0, at + notice_marker.size());
    EXPECT_NE(r.status, 0) << args;
    EXPECT_LT(r.status, 128) << "crashed: " << args;
    EXPECT_THAT(r.err, StartsWith("cuae " + command + ": ")) << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    return r.err;
  }

  static constexpr const char* kSmallTrain =
      "train --data structured:240,36,3 --layers 36,5 --epochs 3 --batch 32 --lr 0.01 --seed 7 --device cpu "
      "--threads 1 ";

  fs::path dir_;
};

TEST_F(Cli, TrainEvalEncodeReconstructAndPlotEndToEnd) {
  const Result train = run(std::string(kSmallTrain) + "--val structured:50,36,3 --out m.safetensors --metrics m.csv");
  ASSERT_EQ(train.status, 0) << train.err;
  EXPECT_THAT(train.err, HasSubstr("epoch 3/3"));  // one line per epoch without a terminal
  EXPECT_THAT(train.out, HasSubstr("saved m.safetensors"));
  const std::string metrics = slurp(file("m.csv"));
  EXPECT_THAT(metrics, StartsWith("epoch,train_loss,val_loss,seconds,samples_per_s\n1,"));
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 4);

  const Result eval = run("eval --model m.safetensors --data structured:50,36,3 --device cpu");
  ASSERT_EQ(eval.status, 0) << eval.err;
  const double loss = std::stod(eval.out.substr(eval.out.find(": ") + 2));
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 0.0);

  ASSERT_EQ(run("encode --model m.safetensors --data structured:50,36,3 --out codes.npy").status, 0);
  const Dataset codes = load_npy(file("codes.npy"));
  EXPECT_EQ(codes.rows(), 50);
  EXPECT_EQ(codes.cols(), 5);

  ASSERT_EQ(run("reconstruct --model m.safetensors --data structured:50,36,3 --out recon.npy").status, 0);
  const Dataset recon = load_npy(file("recon.npy"));
  EXPECT_EQ(recon.rows(), 50);
  EXPECT_EQ(recon.cols(), 36);

  ASSERT_EQ(run("reconstruct --model m.safetensors --data structured:50,36,3 --out grid.png --count 4").status, 0);
  EXPECT_THAT(slurp(file("grid.png")), StartsWith("\x89PNG\r\n"));
  ASSERT_EQ(run("plot --metrics m.csv --out loss.png").status, 0);
  EXPECT_THAT(slurp(file("loss.png")), StartsWith("\x89PNG\r\n"));
}

TEST_F(Cli, StructuredDataLossFallsDuringTraining) {
  const Result r = run(std::string(kSmallTrain) + "--epochs 6 --out m.safetensors --metrics m.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(slurp(file("m.csv")));
  std::string line;
  std::vector<double> losses;
  std::getline(lines, line);
  while (std::getline(lines, line)) losses.push_back(std::stod(line.substr(line.find(',') + 1)));
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_LT(losses.back(), losses.front());
}

// The first-epoch train loss in a metrics CSV.
double first_train_loss(const std::string& csv) {
  const size_t row = csv.find('\n') + 1;
  return std::stod(csv.substr(csv.find(',', row) + 1));
}

TEST_F(Cli, InitStartsFromTheGivenWeights) {
  ASSERT_EQ(run(std::string(kSmallTrain) + "--epochs 6 --out trained.safetensors").status, 0);
  ASSERT_EQ(run(std::string(kSmallTrain) + "--epochs 1 --out fresh.safetensors --metrics fresh.csv").status, 0);
  const Result r = run(std::string(kSmallTrain) + "--epochs 1 --init trained.safetensors --out warm.safetensors "
                       "--metrics warm.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(first_train_loss(slurp(file("warm.csv"))), first_train_loss(slurp(file("fresh.csv"))));
  EXPECT_THAT(expect_failure("train --data structured:240,36,3 --layers 36,4 --init trained.safetensors "
                             "--out x.safetensors", "train"),
              AllOf(HasSubstr("trained.safetensors"), HasSubstr("36,5")));
}

TEST_F(Cli, ConfigFileGivesOptionsAndFlagsOverrideIt) {
  write_text(file("c.json"), R"({"data": "structured:120,16,2", "layers": [16, 3], "epochs": 4, "batch_size_typo": 1})");
  EXPECT_THAT(expect_failure("train --config c.json --out m.safetensors", "train"),
              AllOf(HasSubstr("c.json"), HasSubstr("batch_size_typo")));
  write_text(file("c.json"),
             R"({"data": "structured:120,16,2", "layers": [16, 3], "epochs": 4, "no_shuffle": true, "device": "cpu"})");
  const Result r = run("train --config c.json --epochs 2 --out m.safetensors --metrics m.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string metrics = slurp(file("m.csv"));
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 3);  // header + the 2 epochs of the flag
  ASSERT_EQ(run("encode --model m.safetensors --data structured:10,16,2 --out c.npy").status, 0);
  EXPECT_EQ(load_npy(file("c.npy")).cols(), 3);  // --layers came from the file
}

TEST_F(Cli, InfoNamesVersionBackendsBlasAndThreads) {
  const Result r = run("info");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("cuae "), HasSubstr("backends: cpu"), HasSubstr("cuda"), HasSubstr("OpenBLAS"),
                           HasSubstr("threads: ")));
  // Builds with CUDA also say which cuDNN `--forward cudnn` would use, or why there is none.
  if (cuda_status().built) {
    EXPECT_THAT(r.out, HasSubstr("\ncudnn: " + cudnn_status() + "\n"));
  }
}

TEST_F(Cli, MalformedDataFailsWithOneLineNamingFileAndProblem) {
  write_text(file("magic-idx3-ubyte"), std::string("\x12\x34\x08\x02\0\0\0\1\0\0\0\x24", 12) + std::string(36, 'a'));
  EXPECT_THAT(expect_failure(std::string(kSmallTrain) + "--data magic-idx3-ubyte --out m.safetensors", "train"),
              AllOf(HasSubstr("magic-idx3-ubyte"), HasSubstr("not an IDX file")));

  save_npy(file("ok.npy"), Matrix(10, 36).view());
  const std::string npy = slurp(file("ok.npy"));
  write_text(file("trunc.npy"), npy.substr(0, npy.size() - 5));
  EXPECT_THAT(expect_failure(std::string(kSmallTrain) + "--data trunc.npy --out m.safetensors", "train"),
              AllOf(HasSubstr("trunc.npy"), HasSubstr("payload")));

  std::string complex_npy = npy;  // integers are converted since issue 19; complex numbers have no meaning
  complex_npy.replace(complex_npy.find("<f4"), 3, "<c8");
  write_text(file("complex.npy"), complex_npy);
  EXPECT_THAT(expect_failure(std::string(kSmallTrain) + "--data complex.npy --out m.safetensors", "train"),
              AllOf(HasSubstr("complex.npy"), HasSubstr("'<c8'")));

  write_text(file("bad.csv"), "1,2,3\n4,five,6\n");
  EXPECT_THAT(expect_failure(std::string(kSmallTrain) + "--data bad.csv --out m.safetensors", "train"),
              HasSubstr("bad.csv:2:3"));

  EXPECT_THAT(expect_failure(std::string(kSmallTrain) + "--data absent.npy --out m.safetensors", "train"),
              AllOf(HasSubstr("absent.npy"), HasSubstr("no such file")));
}

TEST_F(Cli, FeatureCountMismatchWithLayersOrModelIsRefused) {
  save_npy(file("x16.npy"), Matrix(8, 16).view());
  EXPECT_THAT(expect_failure("train --data x16.npy --layers 20,4 --out m.safetensors", "train"),
              AllOf(HasSubstr("x16.npy"), HasSubstr("16 features"), HasSubstr("expects 20")));
  ASSERT_EQ(run(std::string(kSmallTrain) + "--out m.safetensors").status, 0);
  EXPECT_THAT(expect_failure("eval --model m.safetensors --data x16.npy", "eval"),
              AllOf(HasSubstr("x16.npy"), HasSubstr("16 features"), HasSubstr("expects 36")));
}

TEST_F(Cli, FailuresLeaveExistingOutputsUntouched) {
  write_text(file("keep.safetensors"), "precious model");
  write_text(file("keep.npy"), "precious codes");
  write_text(file("bad.csv"), "1,2\nx,y,z\n");
  expect_failure(std::string(kSmallTrain) + "--data bad.csv --out keep.safetensors", "train");
  EXPECT_EQ(slurp(file("keep.safetensors")), "precious model");
  expect_failure("encode --model keep.safetensors --data structured:5,36,3 --out keep.npy", "encode");
  EXPECT_EQ(slurp(file("keep.npy")), "precious codes");
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp."))) << "stray temporary file";
  }
}

TEST_F(Cli, UsageErrorsAreOneLine) {
  EXPECT_THAT(expect_failure("train --data random:5,4 --layers 4,2 --epochs x --out m.safetensors", "train"),
              HasSubstr("--epochs"));
  EXPECT_THAT(expect_failure("train --data random:5,4 --layers 4,2", "train"), HasSubstr("--out"));
  EXPECT_THAT(expect_failure("train --data random:5,4 --layers 4,2 --out no_dir/m.safetensors", "train"),
              HasSubstr("does not exist"));
  EXPECT_THAT(expect_failure("encode --model m.safetensors --data random:5,4 --out codes.txt", "encode"),
              HasSubstr(".npy"));
  EXPECT_THAT(expect_failure("plot --metrics absent.csv --out p.png", "plot"), HasSubstr("absent.csv"));
  const Result none = run("");
  EXPECT_NE(none.status, 0);
}

TEST_F(Cli, TrainRejectsAnUnknownForwardImplementation) {
  const std::string err = expect_failure(std::string(kSmallTrain) + "--forward bogus --out m.safetensors", "train");
  EXPECT_THAT(err, HasSubstr("--forward must be fused, cublas or cudnn, got 'bogus'"));
  EXPECT_FALSE(fs::exists(file("m.safetensors")));
}

}  // namespace
}  // namespace cuae
