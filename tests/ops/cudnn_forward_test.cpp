// The cuDNN forward baseline (src/cuda/cudnn/cudnn_forward.h) against the double-precision reference of
// tests/support/reference.h, on a real GPU. Every test skips with the reason where there is no device, where the
// baseline is not built, where libcudnn.so.9 cannot be loaded, or where cuDNN has no engine for the
// layer (the skip then names the layer and what the heuristics offered).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cuda/cudnn/cudnn_forward.h"
#include "support/device_array.h"
#include "support/reference.h"
#include "support/tolerances.h"

namespace {

using cuae::cuda::CudnnDenseForward;
using cuae::cuda::CudnnNoEngineError;
using cuae::cuda::CudnnUnavailableError;
using cuae::test::DeviceArray;
using cuae::Activation;
using cuae::Loss;
namespace k = cuae::kernels;
namespace ref = cuae::ref;
namespace tol = cuae::tol;

constexpr float kSlope = 0.05f;
constexpr size_t kGuard = 8;  // NaN floats after y and pre: a write past the end shows up

constexpr Activation kAllActs[] = {Activation::relu,   Activation::sigmoid,    Activation::tanh,
                               Activation::linear, Activation::leaky_relu, Activation::gelu};

struct Shape {
  int64_t m;
  int n, k;
};
std::string text(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) + " (m x n x k)";
}

const Shape kShapes[] = {{0, 17, 9}, {1, 1, 1}, {37, 61, 29}, {256, 64, 784}, {255, 784, 64}, {1000, 129, 257}};

// One stream and one baseline object per precision for the whole suite: loading cuDNN and creating a
// handle costs far more than a test. skip_reason is set when the suite cannot run here, failure when
// cuDNN loaded but the baseline could not be created.
struct Suite {
  cudaStream_t stream = nullptr;
  std::unique_ptr<CudnnDenseForward> fp32, tf32;
  std::string skip_reason, failure;
};
Suite* suite = nullptr;

class GpuCudnnForward : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    suite = new Suite;
    int count = 0;
    const cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess) {
      suite->skip_reason =
          std::string("no CUDA device: ") + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) + ")";
      return;
    }
    if (count == 0) {
      suite->skip_reason = "no CUDA device: cudaGetDeviceCount found 0 devices";
      return;
    }
    if (!cuae::cuda::cudnn_forward_built()) {
      suite->skip_reason = "the cuDNN baseline is not built in this configuration (no cuDNN headers)";
      return;
    }
    if (cudaStreamCreateWithFlags(&suite->stream, cudaStreamNonBlocking) != cudaSuccess) {
      suite->skip_reason = "cudaStreamCreateWithFlags failed";
      return;
    }
    try {
      suite->fp32 = std::make_unique<CudnnDenseForward>(suite->stream, false);
      suite->tf32 = std::make_unique<CudnnDenseForward>(suite->stream, true);
    } catch (const CudnnUnavailableError& e) {
      suite->skip_reason = e.what();
    } catch (const cuae::Error& e) {  // cuDNN loaded but unusable here (e.g. cudnnCreate failed): a failure
      suite->failure = e.what();
    }
  }
  static void TearDownTestSuite() {
    suite->fp32.reset();
    suite->tf32.reset();
    if (suite->stream != nullptr) cudaStreamDestroy(suite->stream);
    delete suite;
    suite = nullptr;
  }

 protected:
  void SetUp() override {
    if (!suite->skip_reason.empty()) GTEST_SKIP() << suite->skip_reason;
    if (!suite->failure.empty()) FAIL() << "creating CudnnDenseForward: " << suite->failure;
  }
};

// Random layer inputs with a fixed seed, device copies, and outputs poisoned with NaN (plus a guard).
struct Layer {
  Layer(const Shape& s, uint64_t seed, size_t x_offset = 0)
      : x(ref::random_floats(static_cast<size_t>(s.m) * s.k, seed)),
        w(ref::random_floats(static_cast<size_t>(s.n) * s.k, seed + 1, -0.3f, 0.3f)),
        b(ref::random_floats(static_cast<size_t>(s.n), seed + 2)),
        dx(x, x_offset), dw(w), db(b),
        dy(static_cast<size_t>(s.m) * s.n + kGuard), dpre(dy.size()) {
    dy.poison();
    dpre.poison();
  }
  k::DenseForwardParams params(const Shape& s, Activation act, bool with_pre) const {
    k::DenseForwardParams p;
    p.x = dx.get(), p.w = dw.get(), p.bias = db.get(), p.y = dy.get(), p.pre = with_pre ? dpre.get() : nullptr;
    p.m = s.m, p.n = s.n, p.k = s.k, p.act = act, p.slope = kSlope;
    return p;
  }
  std::vector<float> x, w, b;
  DeviceArray<float> dx, dw, db, dy, dpre;
};

// Compares out[0, count) with the reference and checks that the guard after it is still NaN.
void expect_close(const std::vector<float>& out, const std::vector<double>& expected, double tolerance,
                  const char* what) {
  const std::vector<float> body(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(expected.size()));
  EXPECT_LE(ref::relative_error(body, expected), tolerance) << what;
  for (size_t i = expected.size(); i < out.size(); ++i) {
    EXPECT_TRUE(std::isnan(out[i])) << what << " written past the end";
  }
  for (size_t i = 0; i < body.size(); ++i) {
    if (std::isnan(body[i])) {
      ADD_FAILURE() << what << "[" << i << "] not written (still NaN)";
      break;
    }
  }
}

// Prepares, runs and checks one layer. Returns why it could not run when cuDNN has no engine for it
// (the caller skips with that message once its other layers are checked), else an empty string.
std::string check_layer(CudnnDenseForward& cudnn, const Shape& s, Activation act, bool with_pre, double tolerance,
                        uint64_t seed, size_t x_offset = 0) {
  SCOPED_TRACE("layer " + text(s) + " act=" + ref::act_name(act) + " seed=" + std::to_string(seed) +
               " x_offset=" + std::to_string(x_offset));
  const Layer layer(s, seed, x_offset);
  const k::DenseForwardParams p = layer.params(s, act, with_pre);
  try {
    cudnn.prepare(p);
  } catch (const CudnnNoEngineError& e) {
    return "no cuDNN engine for " + text(s) + " " + ref::act_name(act) + ": " + e.what() + "\n";
  }
  cudnn.forward(p);
  const cudaError_t error = cudaStreamSynchronize(suite->stream);
  if (error != cudaSuccess) {
    ADD_FAILURE() << "the cuDNN forward failed on the device: " << cudaGetErrorString(error);
    return {};
  }
  if (s.m > 0) std::printf("  %s %s: %s\n", text(s).c_str(), ref::act_name(act).c_str(), cudnn.describe(p).c_str());
  std::vector<double> y_ref, pre_ref;
  ref::dense_forward(layer.x.data(), layer.w.data(), layer.b.data(), s.m, s.n, s.k,
                     act, kSlope, y_ref, &pre_ref);
  expect_close(layer.dy.download(), y_ref, tolerance, "y");
  if (with_pre) expect_close(layer.dpre.download(), pre_ref, tolerance, "pre");
  return {};
}

// One parameterised test per activation and shape, so a missing engine skips just that layer.
struct LayerCase {
  Activation act;
  Shape shape;
};
std::string case_name(const LayerCase& c) {
  return std::string(ref::act_name(c.act)) + "_" + std::to_string(c.shape.m) + "x" + std::to_string(c.shape.n) + "x" +
         std::to_string(c.shape.k);
}
void PrintTo(const LayerCase& c, std::ostream* out) { *out << case_name(c); }  // short ctest names
std::vector<LayerCase> every_activation_and_shape() {
  std::vector<LayerCase> cases;
  for (const Activation act : kAllActs)
    for (const Shape& shape : kShapes) cases.push_back({act, shape});
  return cases;
}

class GpuCudnnForwardLayers : public GpuCudnnForward, public ::testing::WithParamInterface<LayerCase> {};

TEST_P(GpuCudnnForwardLayers, MatchesDoubleReferenceInExactFp32) {
  const LayerCase& c = GetParam();
  const std::string no_engine = check_layer(*suite->fp32, c.shape, c.act, c.act == Activation::gelu, tol::kDense, 101);
  if (!no_engine.empty()) GTEST_SKIP() << no_engine;
}

INSTANTIATE_TEST_SUITE_P(EveryActivationAndShape, GpuCudnnForwardLayers,
                         ::testing::ValuesIn(every_activation_and_shape()),
                         [](const ::testing::TestParamInfo<LayerCase>& info) { return case_name(info.param); });

TEST_F(GpuCudnnForward, MatchesDoubleReferenceWithTf32Allowed) {
  std::string no_engine;
  for (const Activation act : kAllActs) {
    no_engine += check_layer(*suite->tf32, {255, 784, 64}, act, act == Activation::gelu, tol::kDenseTf32, 202);
  }
  if (!no_engine.empty()) GTEST_SKIP() << no_engine;
}

TEST_F(GpuCudnnForward, StoresThePreActivationForEveryActivation) {
  std::string no_engine;
  for (const Activation act : kAllActs) no_engine += check_layer(*suite->fp32, {37, 61, 29}, act, true, tol::kDense, 303);
  if (!no_engine.empty()) GTEST_SKIP() << no_engine;
}

TEST_F(GpuCudnnForward, MisalignedInputGetsItsOwnFourByteAlignedPlan) {
  std::string no_engine = check_layer(*suite->fp32, {37, 61, 32}, Activation::relu, false, tol::kDense, 404, 0);
  no_engine += check_layer(*suite->fp32, {37, 61, 32}, Activation::relu, false, tol::kDense, 405, 1);  // x 1 float off
  if (!no_engine.empty()) GTEST_SKIP() << no_engine;
}

TEST_F(GpuCudnnForward, CapturedGraphGivesTheSameBitsAsTheEagerCall) {
  const Shape s{256, 64, 784};
  Layer layer(s, 505);
  const k::DenseForwardParams p = layer.params(s, Activation::gelu, true);
  CudnnDenseForward& cudnn = *suite->fp32;
  try {
    cudnn.prepare(p);
  } catch (const CudnnNoEngineError& e) {
    GTEST_SKIP() << "no cuDNN engine for " << text(s) << " gelu: " << e.what();
  }
  EXPECT_FALSE(cudnn.prepare(p)) << "a second prepare of the same shape reallocated the workspace";
  cudnn.forward(p);
  ASSERT_EQ(cudaStreamSynchronize(suite->stream), cudaSuccess);
  const std::vector<float> eager_y = layer.dy.download(), eager_pre = layer.dpre.download();

  layer.dy.poison();
  layer.dpre.poison();
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(suite->stream, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  try {
    cudnn.forward(p);
  } catch (const cuae::Error& e) {
    (void)cudaStreamEndCapture(suite->stream, &graph);
    if (graph != nullptr) cudaGraphDestroy(graph);
    FAIL() << "forward() inside stream capture threw: " << e.what();
  }
  ASSERT_EQ(cudaStreamEndCapture(suite->stream, &graph), cudaSuccess);
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, suite->stream), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(suite->stream), cudaSuccess);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  const std::vector<float> graph_y = layer.dy.download(), graph_pre = layer.dpre.download();
  const size_t count = static_cast<size_t>(s.m) * s.n;
  // Bitwise on purpose: a replayed graph must run the same kernels on the same data.
  EXPECT_EQ(std::memcmp(eager_y.data(), graph_y.data(), count * sizeof(float)), 0) << "y differs from the eager call";
  EXPECT_EQ(std::memcmp(eager_pre.data(), graph_pre.data(), count * sizeof(float)), 0)
      << "pre differs from the eager call";
}

TEST_F(GpuCudnnForward, ForwardOfAnUnpreparedShapeThrows) {
  const Shape s{3, 5, 7};  // prepared by no other test
  const Layer layer(s, 606);
  EXPECT_THROW(suite->fp32->forward(layer.params(s, Activation::tanh, false)), cuae::CudaError);
}

}  // namespace
