// The CUDA backend against the CPU backend: a model trained on Device::cuda() must match the same
// model trained on Device::cpu(). Compiled twice:
//   CUAE_BACKEND_SUITE_PREFIX=EmulatedBackend  the real src/cuda sources on the host SIMT emulation
//                                              (tests/backends): checks the orchestration (buffer
//                                              offsets, leading dimensions, transposes, graphs, data
//                                              feeds) in every CI run;
//   CUAE_BACKEND_SUITE_PREFIX=GpuBackend       libcuae on a real GPU (tests/backends/CMakeLists.txt); every
//                                              test skips, with the runtime's reason, without one.
//
// Shapes are small and odd (emulation is ~1000x slower than a GPU). Device memory from the emulated
// cudaMalloc starts as NaN, so any buffer read before it is written poisons the comparison.
#include <gtest/gtest.h>

#if CUAE_SIMT_EMULATION
#include <cuda_runtime.h>
#endif

#include <atomic>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cuae/cuae.h"
#include "cuda/cudnn/cudnn_forward.h"
#include "support/reference.h"
#include "support/tolerances.h"

#ifndef CUAE_BACKEND_SUITE_PREFIX
#error "define CUAE_BACKEND_SUITE_PREFIX (EmulatedBackend or GpuBackend)"
#endif
#define CUAE_BACKEND_CAT_(a, b) a##b
#define CUAE_BACKEND_CAT(a, b) CUAE_BACKEND_CAT_(a, b)
#define BACKEND_SUITE(name) CUAE_BACKEND_CAT(CUAE_BACKEND_SUITE_PREFIX, name)

namespace cuae {
namespace {

// Why no CUDA device is usable ("" when one is): on a real-GPU build without one, tests skip with it.
std::string missing_device_reason() {
  const CudaStatus status = cuda_status();
  return status.usable ? std::string() : "no CUDA device: " + status.reason;
}

#define SKIP_WITHOUT_DEVICE()                                     \
  do {                                                            \
    const std::string cuae_reason_ = missing_device_reason();     \
    if (!cuae_reason_.empty()) GTEST_SKIP() << cuae_reason_;      \
  } while (0)

constexpr int64_t kFeatures = 37;
constexpr int64_t kBatch = 19;
constexpr int kSteps = 20;
constexpr uint64_t kSeed = 20240611;

struct Case {
  std::string name;
  std::vector<int64_t> layers;
  Loss loss = Loss::bce;
  BackendOptions::Forward forward = BackendOptions::Forward::fused;
  bool graphs = true;
  Activation hidden = Activation::relu;
  OptimizerKind optimizer = OptimizerKind::adam;
  float clip_norm = 0;  // optimizer.global_clipnorm; 0 = off
  float weight_decay = 0;
  bool decoupled = false;  // AdamW
};

ModelConfig config_for(const Case& c) {
  ModelConfig config;
  config.layers = c.layers;
  config.loss = c.loss;
  config.hidden_activation = c.hidden;
  config.output_activation = c.loss == Loss::bce ? Activation::sigmoid : Activation::linear;
  config.optimizer.kind = c.optimizer;
  config.optimizer.lr = c.optimizer == OptimizerKind::adam ? 1e-2f : 5e-2f;
  config.optimizer.global_clipnorm = c.clip_norm;
  config.optimizer.weight_decay = c.weight_decay;
  config.optimizer.decoupled_weight_decay = c.decoupled;
  config.seed = kSeed;
  return config;
}

BackendOptions options_for(const Case& c) {
  BackendOptions options;
  options.forward = c.forward;
  options.cuda_graphs = c.graphs;
  return options;
}

struct Trajectory {
  std::vector<float> losses;
  std::vector<float> parameters;
  OptimizerState optimizer;
};

// kSteps train_step calls on successive 19-row windows of a 3-window data set, in [0, 1) so BCE applies.
Trajectory train_steps(const Case& c, Device device) {
  const std::vector<float> data = ref::random_floats(static_cast<size_t>(3 * kBatch * kFeatures), kSeed, 0, 1);
  Model model(config_for(c), device, options_for(c));
  Trajectory t;
  for (int s = 0; s < kSteps; ++s) {
    const float* rows = data.data() + (s % 3) * kBatch * kFeatures;
    t.losses.push_back(model.train_step({rows, kBatch, kFeatures}));
  }
  t.parameters = model.parameters();
  t.optimizer = model.optimizer_state();
  return t;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Whether a CudaError says that cuDNN is not usable here (src/cuda/cudnn/cudnn_forward.h): the baseline
// is not built or libcudnn.so.9 does not load (CudnnUnavailableError), or cuDNN has no engine for a
// layer on this GPU (CudnnNoEngineError).
bool cudnn_absent(const CudaError& e) {
  return dynamic_cast<const cuda::CudnnUnavailableError*>(&e) != nullptr ||
         dynamic_cast<const cuda::CudnnNoEngineError*>(&e) != nullptr;
}

class BACKEND_SUITE(Steps) : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { SKIP_WITHOUT_DEVICE(); }
};

TEST_P(BACKEND_SUITE(Steps), TrainStepsMatchCpuBackend) {
  const Case& c = GetParam();
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  const Trajectory cpu = train_steps(c, Device::cpu());
  Trajectory cuda;
  try {
    cuda = train_steps(c, Device::cuda(0));
  } catch (const CudaError& e) {
    // Only the two answers that mean "no cuDNN here" skip: the baseline missing from the build or the
    // machine, or no engine for a layer. Any other CUDA error of a cuDNN case is a failure.
    if (c.forward == BackendOptions::Forward::cudnn && cudnn_absent(e)) GTEST_SKIP() << e.what();
    throw;
  }
  ASSERT_EQ(cuda.losses.size(), cpu.losses.size());
  for (float loss : cuda.losses) ASSERT_TRUE(std::isfinite(loss));
  EXPECT_LE(ref::relative_error(cuda.losses, cpu.losses), tol::kLossTrajectory);
  EXPECT_LE(ref::relative_error(cuda.parameters, cpu.parameters), tol::kTrainedWeights);
  EXPECT_EQ(cuda.optimizer.step, kSteps);
  EXPECT_LE(ref::relative_error(cuda.optimizer.m, cpu.optimizer.m), tol::kTrainedWeights);
  EXPECT_LE(ref::relative_error(cuda.optimizer.v, cpu.optimizer.v), tol::kTrainedWeights);
  // Training must have moved the model, or the comparison proves nothing.
  EXPECT_LT(cuda.losses.back(), cuda.losses.front());
  if (c.weight_decay > 0) {  // and the decay must have changed the weights, or it was not exercised
    Case undecayed = c;
    undecayed.weight_decay = 0;
    EXPECT_GT(ref::relative_error(train_steps(undecayed, Device::cpu()).parameters, cpu.parameters),
              10 * tol::kTrainedWeights);
  }
  if (c.clip_norm > 0) {  // and clipping must have changed the steps, or it was not exercised
    Case unclipped = c;
    unclipped.clip_norm = 0;
    EXPECT_GT(ref::relative_error(train_steps(unclipped, Device::cpu()).parameters, cpu.parameters),
              10 * tol::kTrainedWeights);
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  using F = BackendOptions::Forward;
  for (const auto& layers : {std::vector<int64_t>{kFeatures, 13}, std::vector<int64_t>{kFeatures, 13, 6}}) {
    for (Loss loss : {Loss::bce, Loss::mse}) {
      for (F forward : {F::fused, F::cublas}) {
        Case c;
        c.layers = layers;
        c.loss = loss;
        c.forward = forward;
        c.graphs = forward == F::fused;  // graphs on and off, each with both losses and stacks
        c.name = std::string(layers.size() == 2 ? "OneHidden" : "TwoHidden") + (loss == Loss::bce ? "Bce" : "Mse") +
                 (forward == F::fused ? "FusedGraph" : "CublasEager");
        out.push_back(c);
      }
    }
  }
  Case gelu{"GeluPreactivationSgdCublasGraph", {kFeatures, 15, 6}, Loss::mse, F::cublas, true, Activation::gelu,
            OptimizerKind::sgd};
  Case tanh{"TanhFusedEager", {kFeatures, 11}, Loss::bce, F::fused, false, Activation::tanh, OptimizerKind::adam};
  Case leaky{"LeakyReluFusedGraph", {kFeatures, 9, 5}, Loss::bce, F::fused, true, Activation::leaky_relu,
             OptimizerKind::adam};
  // Gradient norms along these runs (measured on the CPU backend): 0.03 to 0.06 for one hidden layer
  // with BCE and SGD, 0.07 to 0.25 for two with MSE and Adam. So 0.045 clips about half of the SGD
  // steps (both branches run) and 0.02 every Adam step.
  Case clipped_sgd{"ClippedSgdCublasGraph", {kFeatures, 13}, Loss::bce, F::cublas, true, Activation::relu,
                   OptimizerKind::sgd, 0.045f};
  Case clipped_adam{"ClippedAdamFusedEager", {kFeatures, 13, 6}, Loss::mse, F::fused, false, Activation::relu,
                    OptimizerKind::adam, 0.02f};
  // Weight decay reaches the update kernels through the backend: L2 on Adam and SGD, and AdamW. A decay
  // of 0.05 moves these short runs' weights by far more than the comparison's tolerance.
  Case decayed_adam{"WeightDecayAdamFusedGraph", {kFeatures, 13}, Loss::bce, F::fused, true, Activation::relu,
                    OptimizerKind::adam, 0, 0.05f};
  Case decayed_adamw{"DecoupledWeightDecayAdamCublasEager", {kFeatures, 13, 6}, Loss::mse, F::cublas, false,
                     Activation::relu, OptimizerKind::adam, 0, 0.05f, true};
  Case decayed_sgd{"WeightDecaySgdFusedEager", {kFeatures, 13}, Loss::mse, F::fused, false, Activation::tanh,
                   OptimizerKind::sgd, 0, 0.05f};
  out.insert(out.end(), {gelu, tanh, leaky, clipped_sgd, clipped_adam, decayed_adam, decayed_adamw, decayed_sgd});
#if !CUAE_SIMT_EMULATION
  // The cuDNN baseline (real GPUs only: the emulation has no cuDNN), one cuDNN graph per layer;
  // skipped with the reason where the build or the machine lacks cuDNN or it has no engine.
  Case cudnn_graph{"TwoHiddenBceCudnnGraph", {kFeatures, 13, 6}, Loss::bce, F::cudnn, true};
  Case cudnn_gelu{"GeluMseCudnnEager", {kFeatures, 15, 6}, Loss::mse, F::cudnn, false, Activation::gelu};
  out.insert(out.end(), {cudnn_graph, cudnn_gelu});
#endif
  return out;
}

// One more macro level, so BACKEND_SUITE(...) expands before gtest pastes the suite name.
#define INSTANTIATE_BACKEND_SUITE(prefix, suite, ...) INSTANTIATE_TEST_SUITE_P(prefix, suite, __VA_ARGS__)
INSTANTIATE_BACKEND_SUITE(Stacks, BACKEND_SUITE(Steps), ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// ---- fit(): resident and streamed data on the device --------------------------------------------

Case base() { return {"fit", {kFeatures, 13}, Loss::bce, BackendOptions::Forward::fused, true}; }

class BACKEND_SUITE(Fit) : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_DEVICE(); }

  static constexpr int64_t kRows = 3 * kBatch + 5;  // a final partial batch

  static Dataset float_data(int64_t rows = kRows) {
    return Dataset::from_floats(ref::random_floats(static_cast<size_t>(rows * kFeatures), kSeed + 1, 0, 1), rows,
                                kFeatures, "random floats");
  }
  static Dataset byte_data(int64_t rows = kRows) {
    std::vector<uint8_t> bytes(static_cast<size_t>(rows * kFeatures));
    const std::vector<float> u = ref::random_floats(bytes.size(), kSeed + 2, 0, 1);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(u[i] * 255.0f);
    return Dataset::from_bytes(std::move(bytes), rows, kFeatures, "random bytes");
  }

  struct Run {
    std::vector<double> losses;
    std::vector<float> parameters;
  };
  static Run fit(Device device, const Dataset& data, BackendOptions options, int epochs = 2) {
    Model model(config_for(base()), device, options);
    FitOptions fit;
    fit.epochs = epochs;
    fit.batch_size = kBatch;
    fit.shuffle = true;
    const History history = model.fit(data, fit);
    Run run;
    for (const EpochStats& e : history.epochs) run.losses.push_back(e.train_loss);
    run.parameters = model.parameters();
    return run;
  }
};

TEST_F(BACKEND_SUITE(Fit), EpochLossesMatchCpuBackendForFloatAndByteData) {
  for (const Dataset& data : {float_data(), byte_data()}) {
    SCOPED_TRACE(data.name() + ", seed " + std::to_string(kSeed));
    const Run cpu = fit(Device::cpu(), data, options_for(base()));
    const Run cuda = fit(Device::cuda(0), data, options_for(base()));
    ASSERT_EQ(cuda.losses.size(), 2u);
    EXPECT_LE(ref::relative_error(cuda.losses, cpu.losses), tol::kLossTrajectory);
    EXPECT_LE(ref::relative_error(cuda.parameters, cpu.parameters), tol::kTrainedWeights);
  }
}

TEST_F(BACKEND_SUITE(Fit), StreamedDataGivesTheSameLossesAsResidentData) {
  constexpr int64_t kStreamRows = 7 * kBatch + 5;  // 8 batches: 4 chunks of 2, the last one short
  for (const Dataset& data : {float_data(kStreamRows), byte_data(kStreamRows)}) {
    SCOPED_TRACE(data.name());
    const Run resident = fit(Device::cuda(0), data, options_for(base()));
    const int64_t batch_bytes = kBatch * kFeatures * static_cast<int64_t>(data.element_size());
    ASSERT_LT(4 * batch_bytes + 1, static_cast<int64_t>(data.size_bytes()));  // so it cannot stay resident
    // One batch per chunk, then two batches per chunk (each of the two chunk buffers gets half).
    for (int64_t budget : {int64_t{1}, 4 * batch_bytes + 1}) {
      BackendOptions options = options_for(base());
      options.device_memory_budget = budget;
      const Run streamed = fit(Device::cuda(0), data, options);
      EXPECT_EQ(streamed.losses, resident.losses) << "budget " << budget;
      EXPECT_EQ(streamed.parameters, resident.parameters) << "budget " << budget;
    }
  }
}

TEST_F(BACKEND_SUITE(Fit), GraphReplayIsBitIdenticalToEagerLaunches) {
  BackendOptions eager = options_for(base());
  eager.cuda_graphs = false;
  const Run graphs = fit(Device::cuda(0), float_data(), options_for(base()));
  const Run plain = fit(Device::cuda(0), float_data(), eager);
  EXPECT_EQ(graphs.losses, plain.losses);
  EXPECT_EQ(graphs.parameters, plain.parameters);
}

TEST_F(BACKEND_SUITE(Fit), SameSeedGivesTheSameLosses) {
  const Run first = fit(Device::cuda(0), float_data(), options_for(base()));
  const Run second = fit(Device::cuda(0), float_data(), options_for(base()));
  EXPECT_EQ(first.losses, second.losses);
}

TEST_F(BACKEND_SUITE(Fit), ProgressAndEvaluationMatchCpuBackend) {
  const Dataset data = float_data();
  std::vector<double> running[2];
  double evaluated[2] = {0, 0};
  Matrix codes[2];
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int d = 0; d < 2; ++d) {
    Model model(config_for(base()), devices[d], options_for(base()));
    FitOptions fit;
    fit.batch_size = kBatch;
    fit.progress_every = 2;
    model.fit(data, fit, [&](const FitEvent& e) {
      if (e.kind == FitEvent::Kind::progress) running[d].push_back(e.running_loss);
    });
    evaluated[d] = model.evaluate(data, 7);
    codes[d] = model.encode(data);
  }
  ASSERT_EQ(running[1].size(), 2u);  // after steps 2 and 4 of 4
  EXPECT_LE(ref::relative_error(running[1], running[0]), tol::kLossTrajectory);
  EXPECT_NEAR(evaluated[1], evaluated[0], tol::kLossTrajectory * evaluated[0]);
  EXPECT_LE(ref::relative_error(codes[1].data, codes[0].data), tol::kTrainedWeights);
}

// evaluate() keeps the data set on the device and gathers its batches there; with a memory budget too
// small for it, it copies host rows instead. Both must give the CPU backend's loss: for byte and float
// data, a last partial batch (7 rows), more rows than one 4096-row launch, and a data set evaluated
// again after another one replaced it in the cache.
TEST_F(BACKEND_SUITE(Fit), EvaluationOnTheDeviceMatchesHostRowsAndCpu) {
  const Dataset bytes = byte_data();
  const Dataset floats = float_data(4100);
  BackendOptions host_rows = options_for(base());
  host_rows.device_memory_budget = 1;
  Model cpu(config_for(base()), Device::cpu());
  Model resident(config_for(base()), Device::cuda(0), options_for(base()));
  Model streamed(config_for(base()), Device::cuda(0), host_rows);
  for (const Dataset* data : {&bytes, &floats, &bytes}) {
    for (const int64_t batch : {int64_t{7}, int64_t{5000}}) {
      SCOPED_TRACE(data->name() + ", batch " + std::to_string(batch));
      const double expected = cpu.evaluate(*data, batch);
      ASSERT_GT(expected, 0);
      EXPECT_NEAR(resident.evaluate(*data, batch), expected, tol::kLossSum * expected);
      EXPECT_NEAR(streamed.evaluate(*data, batch), expected, tol::kLossSum * expected);
    }
  }
}

TEST_F(BACKEND_SUITE(Fit), StopFlagEndsTheEpochAfterAWholeStep) {
  std::atomic<bool> stop{false};
  Model model(config_for(base()), Device::cuda(0), options_for(base()));
  FitOptions fit;
  fit.batch_size = kBatch;
  fit.epochs = 3;
  fit.progress_every = 1;
  fit.stop = &stop;
  const History history = model.fit(float_data(), fit, [&](const FitEvent& e) {
    if (e.kind == FitEvent::Kind::progress && e.step_in_epoch == 2) stop = true;
  });
  EXPECT_TRUE(history.stopped_early);
  EXPECT_EQ(history.epochs.size(), 1u);
  EXPECT_EQ(model.step(), 2);
  EXPECT_EQ(model.optimizer_state().step, 2);
}

TEST_F(BACKEND_SUITE(Fit), StoppingMidEpochAndResumingIsBitIdenticalToOneRun) {
  const Dataset data = float_data();  // 4 batches per epoch
  for (const int64_t budget : {int64_t{0}, int64_t{1}}) {  // resident, then streamed one batch per chunk
    SCOPED_TRACE("device memory budget " + std::to_string(budget));
    BackendOptions options = options_for(base());
    options.device_memory_budget = budget;
    const Run straight = fit(Device::cuda(0), data, options);

    Model model(config_for(base()), Device::cuda(0), options);
    std::atomic<bool> stop{false};
    FitOptions first;
    first.batch_size = kBatch;
    first.epochs = 2;
    first.progress_every = 1;
    first.stop = &stop;
    model.fit(data, first, [&](const FitEvent& e) {
      if (e.kind == FitEvent::Kind::progress && e.step_in_epoch == 2) stop = true;
    });
    ASSERT_EQ(model.step(), 2);
    ASSERT_EQ(model.samples_into_epoch(), 2 * kBatch);
    FitOptions rest;
    rest.batch_size = kBatch;
    rest.epochs = 2;  // the rest of epoch 1, then epoch 2
    model.fit(data, rest);
    EXPECT_EQ(model.step(), 8);
    EXPECT_EQ(model.parameters(), straight.parameters);
  }
}

// ---- errors -------------------------------------------------------------------------------------

class BACKEND_SUITE(Errors) : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_DEVICE(); }
};

#if CUAE_SIMT_EMULATION
// The emulated backend has no cuDNN: asking for its forward fails at construction, saying why.
TEST_F(BACKEND_SUITE(Errors), CudnnForwardIsReportedAsNotBuilt) {
  BackendOptions options;
  options.forward = BackendOptions::Forward::cudnn;
  try {
    Model model(config_for(base()), Device::cuda(0), options);
    FAIL() << "expected cuae::CudaError";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("cuDNN forward baseline is not built"), std::string::npos) << e.what();
  }
  EXPECT_NE(cudnn_status().find("cuDNN forward baseline is not built"), std::string::npos) << cudnn_status();
}
#endif

TEST_F(BACKEND_SUITE(Errors), ProbeReportsTheDevice) {
  const CudaStatus status = cuda_status();
  EXPECT_TRUE(status.built);
  ASSERT_FALSE(status.devices.empty());
  EXPECT_GT(status.devices[0].total_memory, 0u);
}

TEST_F(BACKEND_SUITE(Errors), DeviceIndexOutOfRangeIsNamed) {
  try {
    Model model(config_for(base()), Device::cuda(99));
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:99"), std::string::npos) << e.what();
  }
}

#if !CUAE_SIMT_EMULATION
// The other side of the skip: on a machine without a usable device, the message is one clear line.
TEST(BACKEND_SUITE(NoDevice), ModelOnCudaFailsWithTheRuntimeReason) {
  const CudaStatus status = cuda_status();
  if (status.usable) GTEST_SKIP() << "a CUDA device is usable here";
  try {
    Model model(config_for(base()), Device::cuda(0));
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("no CUDA device: ", 0), 0u) << message;
    EXPECT_NE(message.find("; use --device cpu"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}
#endif

#if CUAE_SIMT_EMULATION

// Shrinks the emulated device for one test.
class DeviceMemoryLimit {
 public:
  explicit DeviceMemoryLimit(size_t bytes) : saved_(cuae_simt::device_memory_bytes()) {
    cuae_simt::set_device_memory_bytes(bytes);
  }
  ~DeviceMemoryLimit() { cuae_simt::set_device_memory_bytes(saved_); }
  DeviceMemoryLimit(const DeviceMemoryLimit&) = delete;
  DeviceMemoryLimit& operator=(const DeviceMemoryLimit&) = delete;

 private:
  size_t saved_;
};

TEST_F(BACKEND_SUITE(Errors), TooLittleDeviceMemoryNamesNeededAndFreeBytes) {
  const DeviceMemoryLimit limit(1 << 20);  // 1 MiB: less than the cuBLAS workspace alone
  try {
    Model model(config_for(base()), Device::cuda(0));
    FAIL() << "expected OutOfMemoryError";
  } catch (const OutOfMemoryError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("needs "), std::string::npos) << message;
    EXPECT_NE(message.find(" free of "), std::string::npos) << message;
    EXPECT_NE(message.find("cuda:0"), std::string::npos) << message;
  }
}

TEST_F(BACKEND_SUITE(Errors), ActivationsThatDoNotFitFailBeforeTraining) {
  const size_t model_bytes = 40u << 20;  // workspace + parameters fit, a 200000-row batch does not
  const DeviceMemoryLimit limit(model_bytes);
  Model model(config_for(base()), Device::cuda(0));
  std::vector<float> rows(static_cast<size_t>(200000 * kFeatures), 0.5f);
  EXPECT_THROW(model.train_step({rows.data(), 200000, kFeatures}), OutOfMemoryError);
}

#endif  // CUAE_SIMT_EMULATION

}  // namespace
}  // namespace cuae
