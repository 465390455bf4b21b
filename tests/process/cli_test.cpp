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
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cuae/dataset.h"
#include "cuae/device.h"
#include "cuae/model.h"
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
  EXPECT_THAT(metrics, StartsWith("epoch,train_loss,val_loss,seconds,samples_per_s,lr,recon_loss,l1_activity,kl_sparsity,l2,kl,complete\n1,"));
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
  write_text(file("c.json"),
             R"({"layers": [16, 3], "fit": {"data": "structured:120,16,2", "epochs": 4, "batch_size_typo": 1}})");
  EXPECT_THAT(expect_failure("train --config c.json --out m.safetensors", "train"),
              AllOf(HasSubstr("c.json"), HasSubstr("batch_size_typo")));
  write_text(file("c.json"),
             R"({"layers": [16, 3], "fit": {"data": "structured:120,16,2", "epochs": 4, "shuffle": false}, "device": "cpu"})");
  const Result r = run("train --config c.json --epochs 2 --out m.safetensors --metrics m.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string metrics = slurp(file("m.csv"));
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 3);  // header + the 2 epochs of the flag
  ASSERT_EQ(run("encode --model m.safetensors --data structured:10,16,2 --out c.npy").status, 0);
  EXPECT_EQ(load_npy(file("c.npy")).cols(), 3);  // --layers came from the file
}

// --print-config prints the effective configuration (flags over the grammar's defaults); given back
// as --config on its own it reruns the same training, bit for bit. So does a checkpoint's metadata.
TEST_F(Cli, PrintedConfigAndCheckpointMetadataRerunTheSameTraining) {
  const std::string flags = std::string(kSmallTrain) + "--val structured:40,36,3 --adam-eps 1e-7 --no-shuffle ";
  const Result printed = run(flags + "--out a.safetensors --print-config");
  ASSERT_EQ(printed.status, 0) << printed.err;
  EXPECT_FALSE(fs::exists(file("a.safetensors"))) << "--print-config must not train";
  const nlohmann::json config = nlohmann::json::parse(printed.out);
  EXPECT_EQ(config["fit"]["epochs"], 3);
  EXPECT_EQ(config["fit"]["shuffle"], false);
  EXPECT_EQ(config["optimizer"]["eps"], 1e-7);
  EXPECT_EQ(config["backend"]["cpu_threads"], 1);
  write_text(file("printed.json"), printed.out);

  ASSERT_EQ(run(flags + "--out a.safetensors").status, 0);
  ASSERT_EQ(run("train --config printed.json").status, 0);  // its fit.out is a.safetensors again
  fs::rename(file("a.safetensors"), file("b.safetensors"));
  ASSERT_EQ(run(flags + "--out a.safetensors").status, 0);
  const Model a = Model::load(file("a.safetensors")), b = Model::load(file("b.safetensors"));
  EXPECT_EQ(a.parameters(), b.parameters());
  EXPECT_EQ(a.optimizer_state().v, b.optimizer_state().v);

  // The checkpoint's metadata, written to a file, is a valid --config for the same run.
  const std::string bytes = slurp(file("a.safetensors"));
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), sizeof header_bytes);
  const auto header = nlohmann::json::parse(bytes.substr(sizeof header_bytes, header_bytes));
  write_text(file("metadata.json"), header["__metadata__"]["cuae.config"].get<std::string>());
  const Result again = run("train --config metadata.json --out c.safetensors --print-config");
  ASSERT_EQ(again.status, 0) << again.err;
  nlohmann::json expected = config;
  expected["fit"]["out"] = "c.safetensors";
  EXPECT_EQ(nlohmann::json::parse(again.out), expected);
}

// Exit status 2 for a command line that cannot mean anything, 1 for errors in what it names.
TEST_F(Cli, UsageErrorsExitWithTwoAndOtherErrorsWithOne) {
  EXPECT_EQ(run("train --data random:5,4 --layers 4,2 --epochs x --out m.safetensors").status, 2);
  EXPECT_EQ(run("train --data random:5,4 --layers 4,2 --loss huber --out m.safetensors").status, 2);
  EXPECT_EQ(run("train --data random:5,4 --layers 4,2 --lr -1 --out m.safetensors").status, 2);
  EXPECT_THAT(run("train --data random:5,4 --layers 4,2 --lr -1 --out m.safetensors").err, HasSubstr("--lr -1"));
  EXPECT_EQ(run("train --data random:5,4 --layers 4,2 --no-such-flag --out m.safetensors").status, 2);
  EXPECT_EQ(run("train --data absent.npy --layers 4,2 --out m.safetensors").status, 1);
  EXPECT_THAT(run("--help").out, HasSubstr("Exit status: 0 on success; 1 for an error"));
}

TEST_F(Cli, VersionNamesTheBackendsBuilt) {
  const Result r = run("--version");
  ASSERT_EQ(r.status, 0);
  EXPECT_THAT(r.out, AllOf(StartsWith("cuae "), HasSubstr("backends: cpu")));
}

// CUDA-only options are refused on an explicit CPU run rather than silently ignored; a checkpoint
// named .pt is written as safetensors all the same, which the run says.
TEST_F(Cli, CudaOptionsOnTheCpuAreRefusedAndAPtNameIsNoted) {
  EXPECT_THAT(expect_failure(std::string(kSmallTrain) + "--forward cudnn --out m.safetensors", "train"),
              AllOf(HasSubstr("--forward cudnn"), HasSubstr("CUDA backend only")));
  const Result r = run(std::string(kSmallTrain) + "--out m.pt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("m.pt is written as safetensors"));
  EXPECT_EQ(Model::load(file("m.pt")).config().layers, (std::vector<int64_t>{36, 5}));
}

// The PNG's size from its IHDR chunk: the grid is `columns` wide and two tile rows per row of images.
std::pair<uint32_t, uint32_t> png_size(const std::string& png) {
  const auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  return {be32(16), be32(20)};
}

TEST_F(Cli, ReconstructionGridHasRowsOfColumnsEachAboveItsReconstructions) {
  ASSERT_EQ(run(std::string(kSmallTrain) + "--out m.safetensors").status, 0);
  ASSERT_EQ(run("reconstruct --model m.safetensors --data structured:50,36,3 --out g.png --count 11 --columns 4 "
                "--scale 5").status, 0);
  // 6x6 images at scale 5 are 30-pixel tiles with 2-pixel gaps; 11 images in rows of 4 are 3 rows,
  // each an original row and a reconstruction row (2 tiles + a gap) plus 8 pixels between rows.
  EXPECT_EQ(png_size(slurp(file("g.png"))), (std::pair<uint32_t, uint32_t>{4 * 32 + 2, 3 * (2 * 30 + 2 + 8) + 2}));
  // --noise: a third row per group (corrupted, restored, original), and other reconstructions.
  ASSERT_EQ(run("reconstruct --model m.safetensors --data structured:50,36,3 --out n.png --count 11 --columns 4 "
                "--scale 5 --noise mask:0.5").status, 0);
  EXPECT_EQ(png_size(slurp(file("n.png"))), (std::pair<uint32_t, uint32_t>{4 * 32 + 2, 3 * (3 * 30 + 2 * 2 + 8) + 2}));
  ASSERT_EQ(run("reconstruct --model m.safetensors --data structured:50,36,3 --out clean.npy").status, 0);
  ASSERT_EQ(run("reconstruct --model m.safetensors --data structured:50,36,3 --out noisy.npy --noise mask:0.5").status, 0);
  EXPECT_NE(slurp(file("clean.npy")), slurp(file("noisy.npy")));
  EXPECT_EQ(run("reconstruct --model m.safetensors --data structured:50,36,3 --out x.npy --noise blur:1").status, 2);
}

// The loaders' options reach every command (train through the one flag table, eval/encode/reconstruct
// through theirs), the readers' notes are printed as "cuae <command>: note: ...", and BCE refuses
// 0..255 pixels with the range and the fix, in train and in eval.
TEST_F(Cli, DataOptionsNotesAndTheBceRangeCheck) {
  const auto data = [](const std::string& name) { return (fs::path(CUAE_SOURCE_DIR) / "tests/data" / name).string(); };
  const std::string base = "train --epochs 1 --batch 2 --device cpu --threads 1 --out m.safetensors ";
  // (Each of these also prints the note that the CSV's first line holds pandas' column names.)
  Result r = run(base + "--layers 3,2 --data " + data("csv/pixels_0_255.csv"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("cuae train: fit: binary cross-entropy"), HasSubstr("pixels_0_255.csv"),
                           HasSubstr("from 0 to 253"), HasSubstr("--value-scale 1/255"), HasSubstr("--loss mse")));
  r = run(base + "--layers 3,2 --value-scale 1/255 --data " + data("csv/pixels_0_255.csv"));
  ASSERT_EQ(r.status, 0) << r.err;
  r = run("eval --model m.safetensors --device cpu --data " + data("csv/pixels_0_255.csv"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("cuae eval: evaluate: binary cross-entropy"));
  r = run("eval --model m.safetensors --device cpu --value-scale 1/255 --data " + data("csv/pixels_0_255.csv"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(run("eval --model m.safetensors --device cpu --value-scale 1/0 --data x.csv").status, 2);

  r = run(base + "--layers 3,2 --loss mse --data " + data("csv/pandas_index.csv"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, AllOf(HasSubstr("cuae train: note: "), HasSubstr("pandas_index.csv")));
  EXPECT_THAT(expect_failure(base + "--layers 3,2 --loss mse --data " + data("csv/pandas_label_column.csv"), "train"),
              HasSubstr("4 features"));
  r = run(base + "--layers 3,2 --loss mse --csv-skip-cols 1 --data " + data("csv/pandas_label_column.csv"));
  EXPECT_EQ(r.status, 0) << r.err;
  r = run(base + "--layers 3,2 --loss mse --csv-delimiter ';' --data " + data("csv/pandas_semicolon.csv"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(run(base + "--layers 3,2 --csv-delimiter ab --data " + data("csv/pandas_semicolon.csv")).status, 2);

  EXPECT_THAT(expect_failure(base + "--layers 6,2 --data " + data("npz/mnist_like.npz"), "train"),
              AllOf(HasSubstr("x_train"), HasSubstr("x_test")));
  r = run(base + "--layers 6,2 --key x_train --data " + data("npz/mnist_like.npz"));
  EXPECT_EQ(r.status, 0) << r.err;

  const std::string init = base + "--layers 11,5,3 --data random:8,11 --init " +
                           data("safetensors/torch_with_extras_11_5_3.safetensors");
  r = run(init);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cuae train: note: "));
  EXPECT_THAT(expect_failure(init + " --strict", "train"), HasSubstr("torch_with_extras_11_5_3.safetensors"));
}

// Early stopping says why it stopped and which epoch's weights were saved: a min_delta no epoch can
// meet stops the run after patience epochs, with epoch 1 restored.
TEST_F(Cli, EarlyStoppingReportsTheReasonAndTheRestoredEpoch) {
  const Result r = run(std::string(kSmallTrain) + "--epochs 10 --validation-split 0.25 --early-stopping 2 "
                       "--min-delta 1 --restore-best --out m.safetensors");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cuae train: early stopping after epoch 3: "));
  EXPECT_THAT(r.out, HasSubstr("the weights of epoch 1, restored as the best"));
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
