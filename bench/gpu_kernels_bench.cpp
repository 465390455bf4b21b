// One benchmark per hand-written kernel family on the shapes of the three models, timed with CUDA
// events (UseManualTime), with FLOP/s and bytes/s counters (bytes: compulsory traffic, each tensor
// read or written once). The fused dense forward runs next to its library baselines, cuBLAS SGEMM +
// the bias/activation epilogue and a cuDNN fused graph, in the same process, so their ratios are
// read off one table.
// Without a device every benchmark skips with the runtime's reason.
#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "bench/gpu_bench_util.h"
#include "cuda/cublas_handle.h"
#include "cuda/cudnn/cudnn_forward.h"
#include "kernels/kernels.h"

namespace {

using cuae::bench::have_device;
using cuae::bench::random_buffer;
using cuae::bench::run_timed;
using cuae::bench::set_rates;
using cuae::cuda::DeviceBuffer;
using cuae::Activation;
using cuae::Loss;
namespace k = cuae::kernels;

constexpr double kF = sizeof(float);

struct Gemm {
  const char* name;
  int64_t m;
  int n, k;
};
// Layers of the three models: classic encoder/decoder, wide layer, deep first layer.
const std::vector<Gemm> kGemms = {{"classic_enc_256x784x64", 256, 64, 784},
                                  {"classic_dec_256x64x784", 256, 784, 64},
                                  {"wide_4096x1024x1024", 4096, 1024, 1024},
                                  {"deep_1024x784x512", 1024, 512, 784}};

struct Elementwise {
  const char* name;
  int64_t rows;
  int cols;
};
// Output-layer sized tensors (where the loss and the widest activations live).
const std::vector<Elementwise> kElementwise = {{"classic_256x784", 256, 784}, {"wide_4096x1024", 4096, 1024},
                                              {"deep_1024x784", 1024, 784}};

// Parameter counts of the models (padding aside): the optimizer's problem sizes.
const std::vector<std::pair<const char*, int64_t>> kParams = {
    {"classic_101200", 2 * 784 * 64 + 64 + 784},
    {"wide_2099200", 2 * 1024 * 1024 + 2 * 1024},
    {"deep_1384976", 2 * (784 * 512 + 512 * 256 + 256 * 64) + (512 + 256 + 64) + (256 + 512 + 784)}};

// One dense layer of shape g on the device, x·wᵀ + bias -> relu -> y, with fixed random contents.
struct DenseLayer {
  explicit DenseLayer(const Gemm& g)
      : x(random_buffer(static_cast<size_t>(g.m * g.k), 0, 1, 1, "x")),
        w(random_buffer(static_cast<size_t>(g.n) * g.k, -0.1f, 0.1f, 2, "w")),
        b(random_buffer(static_cast<size_t>(g.n), -0.1f, 0.1f, 3, "bias")),
        y(static_cast<size_t>(g.m * g.n), "y") {
    params.x = x.data();
    params.w = w.data();
    params.bias = b.data();
    params.y = y.data();
    params.m = g.m;
    params.n = g.n;
    params.k = g.k;
    params.act = Activation::relu;
  }
  DeviceBuffer<float> x, w, b, y;
  k::DenseForwardParams params;
};

// FLOPs of the layer and its compulsory bytes, plus `extra_outputs` more passes over y.
void set_dense_rates(benchmark::State& state, const Gemm& g, int extra_outputs = 0) {
  const double m = static_cast<double>(g.m), n = g.n, kk = g.k;
  set_rates(state, 2 * m * n * kk + 2 * m * n, kF * (m * kk + n * kk + n + (1 + extra_outputs) * m * n));
}

void dense_fused(benchmark::State& state, Gemm g, int tile) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  DenseLayer layer(g);
  layer.params.tile = tile;
  run_timed(state, stream.get(), [&] { k::dense_forward(layer.params, stream.get()); });
  set_dense_rates(state, g);
}

void dense_cublas(benchmark::State& state, Gemm g) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  cuae::cuda::CublasHandle cublas(stream.get(), /*tf32=*/false);
  DenseLayer layer(g);
  k::BiasActParams p;
  p.z = layer.y.data();
  p.bias = layer.b.data();
  p.y = layer.y.data();
  p.m = g.m;
  p.n = g.n;
  p.act = Activation::relu;
  run_timed(state, stream.get(), [&] {
    cublas.forward(layer.x.data(), layer.w.data(), layer.y.data(), g.m, g.n, g.k);
    k::bias_act_forward(p, stream.get());
  });
  // The epilogue reads and writes Y once more: count it, it is the price of the unfused baseline.
  set_dense_rates(state, g, 2);
}

// NVIDIA's own fusion of the same layer: one cuDNN graph (matmul -> bias add -> activation). Where
// cuDNN is missing or has no engine for the shape, the benchmark ends with that message.
void dense_cudnn(benchmark::State& state, Gemm g) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  cuae::cuda::CudnnDenseForward cudnn(stream.get(), /*allow_tf32=*/false);
  DenseLayer layer(g);
  cudnn.prepare(layer.params);
  state.SetLabel(cudnn.describe(layer.params));
  run_timed(state, stream.get(), [&] { cudnn.forward(layer.params); });
  set_dense_rates(state, g);
}

void bias_act(benchmark::State& state, Elementwise e) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  const auto count = static_cast<size_t>(e.rows * e.cols);
  auto z = random_buffer(count, -1, 1, 4, "z");
  auto b = random_buffer(static_cast<size_t>(e.cols), -0.1f, 0.1f, 5, "bias");
  DeviceBuffer<float> y(count, "y");
  k::BiasActParams p;
  p.z = z.data();
  p.bias = b.data();
  p.y = y.data();
  p.m = e.rows;
  p.n = e.cols;
  p.act = Activation::sigmoid;
  run_timed(state, stream.get(), [&] { k::bias_act_forward(p, stream.get()); });
  set_rates(state, 2.0 * static_cast<double>(count), kF * (2.0 * static_cast<double>(count) + e.cols));
}

void loss(benchmark::State& state, Elementwise e) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  const int64_t count = e.rows * e.cols;
  auto z = random_buffer(static_cast<size_t>(count), -3, 3, 6, "logits");
  auto x = random_buffer(static_cast<size_t>(count), 0, 1, 7, "target");
  DeviceBuffer<float> grad(static_cast<size_t>(count), "dz");
  DeviceBuffer<float> partials(static_cast<size_t>(k::loss_partials_size(count)), "partials");
  DeviceBuffer<float> out(1, "loss");
  k::LossParams p;
  p.z = z.data();
  p.target = x.data();
  p.grad = grad.data();
  p.count = count;
  p.grad_scale = 1.0f / static_cast<float>(count);
  p.loss_scale = 1.0f / static_cast<float>(count);
  p.partials = partials.data();
  p.loss_out = out.data();
  run_timed(state, stream.get(), [&] { k::loss_forward_backward(p, stream.get()); });
  set_rates(state, 8.0 * static_cast<double>(count), kF * 3.0 * static_cast<double>(count));
}

void act_backward(benchmark::State& state, Elementwise e) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  const int64_t count = e.rows * e.cols;
  auto dy = random_buffer(static_cast<size_t>(count), -1, 1, 8, "dy");
  auto y = random_buffer(static_cast<size_t>(count), -1, 1, 9, "y");
  DeviceBuffer<float> dz(static_cast<size_t>(count), "dz");
  k::ActBackwardParams p;
  p.dy = dy.data();
  p.y = y.data();
  p.dz = dz.data();
  p.count = count;
  p.act = Activation::relu;
  run_timed(state, stream.get(), [&] { k::activation_backward(p, stream.get()); });
  set_rates(state, 2.0 * static_cast<double>(count), kF * 3.0 * static_cast<double>(count));
}

void bias_grad(benchmark::State& state, Elementwise e) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  const int64_t count = e.rows * e.cols;
  auto dz = random_buffer(static_cast<size_t>(count), -1, 1, 10, "dz");
  DeviceBuffer<float> db(static_cast<size_t>(e.cols), "db");
  DeviceBuffer<float> workspace(static_cast<size_t>(k::bias_grad_workspace_size(e.rows, e.cols)), "workspace");
  k::BiasGradParams p;
  p.dz = dz.data();
  p.db = db.data();
  p.m = e.rows;
  p.n = e.cols;
  p.workspace = workspace.data();
  run_timed(state, stream.get(), [&] { k::bias_grad(p, stream.get()); });
  set_rates(state, static_cast<double>(count), kF * (static_cast<double>(count) + e.cols));
}

void adam(benchmark::State& state, int64_t count) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  auto params = random_buffer(static_cast<size_t>(count), -0.1f, 0.1f, 11, "params");
  auto grads = random_buffer(static_cast<size_t>(count), -0.01f, 0.01f, 12, "grads");
  auto m = random_buffer(static_cast<size_t>(count), -0.01f, 0.01f, 13, "m");
  auto v = random_buffer(static_cast<size_t>(count), 0, 1e-4f, 14, "v");
  DeviceBuffer<k::OptimizerStepState> step(1, "state");
  // The state a fresh training run starts from: grad_scale 1 (a zeroed state would scale every gradient
  // to 0 and time an update that moves nothing). Copied on the benchmark's own non-blocking stream.
  const k::OptimizerStepState initial{};
  CUDA_CHECK(cudaMemcpyAsync(step.data(), &initial, sizeof(initial), cudaMemcpyHostToDevice, stream.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  k::AdamParams p;
  p.params = params.data();
  p.grads = grads.data();
  p.m = m.data();
  p.v = v.data();
  p.count = count;
  p.state = step.data();
  run_timed(state, stream.get(), [&] {
    k::optimizer_begin(p, stream.get());
    k::adam_update(p, stream.get());
  });
  set_rates(state, 12.0 * static_cast<double>(count), kF * 7.0 * static_cast<double>(count));
}

void sgd(benchmark::State& state, int64_t count) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  auto params = random_buffer(static_cast<size_t>(count), -0.1f, 0.1f, 15, "params");
  auto grads = random_buffer(static_cast<size_t>(count), -0.01f, 0.01f, 16, "grads");
  auto momentum = random_buffer(static_cast<size_t>(count), -0.01f, 0.01f, 17, "momentum");
  DeviceBuffer<k::OptimizerStepState> step(1, "state");
  const k::OptimizerStepState second{2, 0, 0, 1};  // past step 1: the momentum buffer is used
  CUDA_CHECK(cudaMemcpyAsync(step.data(), &second, sizeof(second), cudaMemcpyHostToDevice, stream.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  k::SgdParams p;
  p.params = params.data();
  p.grads = grads.data();
  p.momentum = momentum.data();
  p.count = count;
  p.momentum_factor = 0.9f;
  p.state = step.data();
  run_timed(state, stream.get(), [&] { k::sgd_update(p, stream.get()); });
  set_rates(state, 4.0 * static_cast<double>(count), kF * 5.0 * static_cast<double>(count));
}

// Global-norm clipping's two reductions (only with --clip-grad-norm): one read of the gradient.
void grad_clip(benchmark::State& state, int64_t count) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  auto grads = random_buffer(static_cast<size_t>(count), -0.01f, 0.01f, 18, "grads");
  DeviceBuffer<double> partials(static_cast<size_t>(k::grad_clip_partials_size(count)), "partials");
  DeviceBuffer<k::OptimizerStepState> step(1, "state");
  CUDA_CHECK(cudaMemsetAsync(step.data(), 0, sizeof(k::OptimizerStepState), stream.get()));
  k::GradClipParams p;
  p.grads = grads.data();
  p.count = count;
  p.max_norm = 1.0f;
  p.partials = partials.data();
  p.state = step.data();
  run_timed(state, stream.get(), [&] { k::grad_clip_scale(p, stream.get()); });
  set_rates(state, 2.0 * static_cast<double>(count), kF * static_cast<double>(count));
}

// A shuffled batch gathered from a resident data set of 60000 rows (Fashion-MNIST's size).
void gather(benchmark::State& state, Elementwise e, bool u8) {
  if (!have_device(state)) return;
  cuae::cuda::Stream stream;
  constexpr int64_t kDataRows = 60000;
  const auto data_elems = static_cast<size_t>(kDataRows * e.cols);
  DeviceBuffer<unsigned char> data(data_elems * (u8 ? 1 : 4), "data set");
  CUDA_CHECK(cudaMemsetAsync(data.data(), 0x3c, data.bytes(), stream.get()));
  DeviceBuffer<float> out(static_cast<size_t>(e.rows * e.cols), "batch");
  DeviceBuffer<int64_t> index(1, "batch index");
  CUDA_CHECK(cudaMemsetAsync(index.data(), 0, sizeof(int64_t), stream.get()));
  k::GatherParams p;
  p.data = data.data();
  p.data_u8 = u8;
  p.data_rows = kDataRows;
  p.cols = e.cols;
  p.out = out.data();
  p.rows = e.rows;
  p.batch_size = e.rows;
  p.batch_index = index.data();
  p.shuffle = true;
  p.shuffle_key = 12345;
  run_timed(state, stream.get(), [&] { k::gather_rows(p, stream.get()); });
  const double elems = static_cast<double>(e.rows) * e.cols;
  set_rates(state, 0, elems * ((u8 ? 1 : 4) + kF));
}

// Registers fn(state, args...); a CUDA or shape error ends that benchmark with its message.
template <typename Fn, typename... Args>
void add(const std::string& name, Fn fn, Args... args) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [=](benchmark::State& state) {
                                 try {
                                   fn(state, args...);
                                 } catch (const std::exception& e) {
                                   state.SkipWithError(e.what());
                                 }
                               })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  for (const Gemm& g : kGemms) {
    add(std::string("DenseForward/fused_auto/") + g.name, dense_fused, g, 0);
    add(std::string("DenseForward/fused_tile64/") + g.name, dense_fused, g, 64);
    add(std::string("DenseForward/fused_tile128/") + g.name, dense_fused, g, 128);
    add(std::string("DenseForward/cublas_bias_act/") + g.name, dense_cublas, g);
    add(std::string("DenseForward/cudnn_graph/") + g.name, dense_cudnn, g);
  }
  for (const Elementwise& e : kElementwise) {
    add(std::string("BiasActForward/sigmoid/") + e.name, bias_act, e);
    add(std::string("LossForwardBackward/bce/") + e.name, loss, e);
    add(std::string("ActivationBackward/relu/") + e.name, act_backward, e);
    add(std::string("BiasGrad/") + e.name, bias_grad, e);
    add(std::string("GatherRows/u8/") + e.name, gather, e, true);
    add(std::string("GatherRows/f32/") + e.name, gather, e, false);
  }
  for (const auto& [name, count] : kParams) {
    add(std::string("AdamUpdate/") + name, adam, count);
    add(std::string("SgdUpdate/") + name, sgd, count);
    add(std::string("GradClipScale/") + name, grad_clip, count);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
