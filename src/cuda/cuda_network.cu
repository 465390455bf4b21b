// CudaNetwork: forward, loss, backward and optimizer of the autoencoder as stream-ordered launches
// (see cuda_network.h for the maths and the memory plan).
#include "cuda/cuda_network.h"

#include <algorithm>
#include <span>
#include <string>
#include <utility>

#include "cuae/error.h"

namespace cuae::cuda {

namespace {

size_t floats_bytes(int64_t count) { return static_cast<size_t>(count) * sizeof(float); }

int64_t clip_partials_size(const ParameterLayout& layout, const ModelConfig& config) {
  return config.optimizer.global_clipnorm > 0 ? kernels::grad_clip_partials_size(layout.total_floats) : 0;
}

}  // namespace

size_t CudaNetwork::fixed_bytes(const ParameterLayout& layout, const ModelConfig& config) {
  const int buffers = config.optimizer.kind == OptimizerKind::adam ? 4 : 3;  // params, grads, m (, v)
  return buffers * floats_bytes(layout.total_floats) + sizeof(kernels::OptimizerStepState) +
         static_cast<size_t>(clip_partials_size(layout, config)) * sizeof(double) + CublasHandle::kWorkspaceBytes;
}

CudaNetwork::CudaNetwork(const ModelConfig& config, const ParameterLayout& layout, const BackendOptions& options,
                         cudaStream_t stream)
    : config_(config),
      layout_(layout),
      options_(options),
      stream_(stream),
      cublas_(stream, options.allow_tf32),
      params_(static_cast<size_t>(layout.total_floats), "parameters"),
      grads_(static_cast<size_t>(layout.total_floats), "gradients"),
      m_(static_cast<size_t>(layout.total_floats), "optimizer first moment"),
      v_(config.optimizer.kind == OptimizerKind::adam ? static_cast<size_t>(layout.total_floats) : 0,
         "optimizer second moment"),
      state_(1, "optimizer step state"),
      clip_partials_(static_cast<size_t>(clip_partials_size(layout, config)), "gradient clipping partial sums"),
      layers_(layout.layers.size()) {
  // Padding floats of the gradient are never written by the GEMMs and must read as zero.
  params_.zero(stream_);
  grads_.zero(stream_);
  m_.zero(stream_);
  v_.zero(stream_);
  const kernels::OptimizerStepState initial{};
  state_.upload(std::span(&initial, 1), stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  // Throws CudnnUnavailableError, naming why, where the baseline is not built or cuDNN is missing.
  if (options.forward == BackendOptions::Forward::cudnn) {
    cudnn_ = std::make_unique<CudnnDenseForward>(stream_, options.allow_tf32);
  }
}

Activation CudaNetwork::act_of(int l) const { return layout_.layers[static_cast<size_t>(l)].activation; }

int64_t CudaNetwork::max_width() const {
  int64_t width = 0;
  for (const auto& layer : layout_.layers) width = std::max({width, layer.in, layer.out});
  return width;
}

namespace {

// Sizes, in floats, of everything CudaNetwork::reserve allocates for `rows` rows.
struct ActivationPlan {
  std::vector<int64_t> y, pre;
  int64_t input = 0, grad = 0, partials = 0, bias_workspace = 0;

  int64_t total() const {
    int64_t sum = input + 2 * grad + partials + bias_workspace;
    for (size_t l = 0; l < y.size(); ++l) sum += y[l] + pre[l];
    return sum;
  }
};

ActivationPlan plan_for(const ParameterLayout& layout, int64_t rows, int64_t max_width, float slope) {
  ActivationPlan plan;
  for (const auto& layer : layout.layers) {
    plan.y.push_back(rows * layer.out);
    plan.pre.push_back(needs_preactivation(layer.activation, slope) ? rows * layer.out : 0);
    plan.bias_workspace = std::max(plan.bias_workspace, kernels::bias_grad_workspace_size(rows, static_cast<int>(layer.out)));
  }
  plan.input = rows * max_width;
  plan.grad = rows * max_width;
  plan.partials = kernels::loss_partials_size(rows * layout.input_dim());
  return plan;
}

}  // namespace

size_t CudaNetwork::extra_bytes_for(int64_t rows, int64_t loss_slots) const {
  const int64_t now = capacity_rows_ > 0 ? plan_for(layout_, capacity_rows_, max_width(), config_.leaky_relu_slope).total() : 0;
  const int64_t then = plan_for(layout_, std::max(rows, capacity_rows_), max_width(), config_.leaky_relu_slope).total();
  const int64_t slots = std::max<int64_t>(loss_slots - static_cast<int64_t>(losses_.size()), 0);
  return floats_bytes(then - now + slots);
}

bool CudaNetwork::reserve(int64_t rows, int64_t loss_slots) {
  bool changed = false;
  if (rows > capacity_rows_) {
    const ActivationPlan plan = plan_for(layout_, rows, max_width(), config_.leaky_relu_slope);
    for (size_t l = 0; l < layers_.size(); ++l) {
      layers_[l] = LayerBuffers{};  // free first: the old and new sets need not coexist
      layers_[l].y = DeviceBuffer<float>(static_cast<size_t>(plan.y[l]), "layer activations");
      layers_[l].pre = DeviceBuffer<float>(static_cast<size_t>(plan.pre[l]), "layer pre-activations");
    }
    input_ = {};
    grad_a_ = {};
    grad_b_ = {};
    input_ = DeviceBuffer<float>(static_cast<size_t>(plan.input), "input batch");
    grad_a_ = DeviceBuffer<float>(static_cast<size_t>(plan.grad), "activation gradients");
    grad_b_ = DeviceBuffer<float>(static_cast<size_t>(plan.grad), "activation gradients");
    partials_ = DeviceBuffer<float>(static_cast<size_t>(plan.partials), "loss partial sums");
    bias_workspace_ = DeviceBuffer<float>(static_cast<size_t>(plan.bias_workspace), "bias gradient workspace");
    capacity_rows_ = rows;
    changed = true;
  }
  if (loss_slots > static_cast<int64_t>(losses_.size())) {
    losses_ = DeviceBuffer<float>(static_cast<size_t>(loss_slots), "loss history");
    changed = true;
  }
  return changed;
}

kernels::DenseForwardParams CudaNetwork::layer_params(int l, const float* in, int64_t rows, Activation act) const {
  const auto& layer = layout_.layers[static_cast<size_t>(l)];
  const auto& buffers = layers_[static_cast<size_t>(l)];
  kernels::DenseForwardParams p;
  p.x = in;
  p.w = params_.data() + layer.weight_offset;
  p.bias = params_.data() + layer.bias_offset;
  p.y = buffers.y.data();
  p.pre = needs_preactivation(act, config_.leaky_relu_slope) ? buffers.pre.data() : nullptr;
  p.m = rows;
  p.n = static_cast<int>(layer.out);
  p.k = static_cast<int>(layer.in);
  p.act = act;
  p.slope = config_.leaky_relu_slope;
  return p;
}

void CudaNetwork::enqueue_layer(int l, const float* in, int64_t rows, Activation act) const {
  const kernels::DenseForwardParams p = layer_params(l, in, rows, act);
  switch (options_.forward) {
    case BackendOptions::Forward::fused:
      kernels::dense_forward(p, stream_);
      return;
    case BackendOptions::Forward::cublas: {
      cublas_.forward(p.x, p.w, p.y, rows, p.n, p.k);
      kernels::BiasActParams epilogue;
      epilogue.z = p.y;
      epilogue.bias = p.bias;
      epilogue.y = p.y;
      epilogue.pre = p.pre;
      epilogue.m = rows;
      epilogue.n = p.n;
      epilogue.act = act;
      epilogue.slope = p.slope;
      kernels::bias_act_forward(epilogue, stream_);
      return;
    }
    case BackendOptions::Forward::cudnn:
      // A cached plan costs a lookup; a new shape (e.g. a last partial batch) is planned here, outside
      // any capture, because prepare_step planned every captured shape beforehand. A workspace moved
      // here is flagged: graphs captured before hold the old one.
      workspace_moved_ = cudnn_->prepare(p) || workspace_moved_;
      cudnn_->forward(p);
      return;
  }
}

void CudaNetwork::prepare_step(int64_t rows) const {
  if (!cudnn_) return;
  const float* in = input_.data();
  const int output_layer = static_cast<int>(layers_.size()) - 1;
  for (int l = 0; l <= output_layer; ++l) {
    const kernels::DenseForwardParams p = layer_params(l, in, rows, l == output_layer ? Activation::linear : act_of(l));
    cudnn_->prepare(p);  // a move here needs no flag: the caller captures next, with the new workspace
    in = layers_[static_cast<size_t>(l)].y.data();
  }
}

const float* CudaNetwork::enqueue_forward(int64_t rows, int first, int last, bool logits_only) const {
  const float* in = input_.data();
  const int output_layer = static_cast<int>(layers_.size()) - 1;
  for (int l = first; l < last; ++l) {
    enqueue_layer(l, in, rows, logits_only && l == output_layer ? Activation::linear : act_of(l));
    in = layers_[static_cast<size_t>(l)].y.data();
  }
  return in;
}

void CudaNetwork::enqueue_loss(int64_t rows, float* grad, float loss_scale, float* out, const int64_t* index) const {
  const int64_t count = rows * layout_.input_dim();
  kernels::LossParams p;
  p.z = layers_.back().y.data();
  p.target = input_.data();
  p.grad = grad;
  p.count = count;
  p.grad_scale = static_cast<float>(1.0 / static_cast<double>(count));
  p.loss_scale = loss_scale;
  p.loss = config_.loss;
  p.out_act = act_of(static_cast<int>(layers_.size()) - 1);
  p.partials = partials_.data();
  p.loss_out = out;
  p.loss_index = index;
  kernels::loss_forward_backward(p, stream_);
}

void CudaNetwork::enqueue_backward(int64_t rows) const {
  float* dz = grad_a_.data();
  float* spare = grad_b_.data();
  for (int l = static_cast<int>(layers_.size()) - 1; l >= 0; --l) {
    const auto& layer = layout_.layers[static_cast<size_t>(l)];
    const int n = static_cast<int>(layer.out), k = static_cast<int>(layer.in);
    const float* a_in = l > 0 ? layers_[static_cast<size_t>(l) - 1].y.data() : input_.data();
    cublas_.weight_grad(dz, a_in, grads_.data() + layer.weight_offset, rows, n, k);
    kernels::BiasGradParams bias;
    bias.dz = dz;
    bias.db = grads_.data() + layer.bias_offset;
    bias.m = rows;
    bias.n = n;
    bias.workspace = bias_workspace_.data();
    kernels::bias_grad(bias, stream_);
    if (l == 0) break;  // nobody needs the gradient of the input
    cublas_.input_grad(dz, params_.data() + layer.weight_offset, spare, rows, n, k);
    const auto& below = layers_[static_cast<size_t>(l) - 1];
    kernels::ActBackwardParams act;
    act.dy = spare;
    act.y = below.y.data();
    act.pre = below.pre.size() != 0 ? below.pre.data() : nullptr;
    act.dz = spare;
    act.count = rows * k;
    act.act = act_of(l - 1);
    act.slope = config_.leaky_relu_slope;
    kernels::activation_backward(act, stream_);
    std::swap(dz, spare);
  }
}

void CudaNetwork::enqueue_optimizer() const {
  const OptimizerConfig& o = config_.optimizer;
  kernels::AdamParams adam;
  adam.params = params_.data();
  adam.grads = grads_.data();
  adam.m = m_.data();
  adam.v = v_.data();
  adam.count = layout_.total_floats;
  adam.lr = o.lr;
  adam.beta1 = o.beta1;
  adam.beta2 = o.beta2;
  adam.eps = o.eps;
  adam.weight_decay = o.weight_decay;
  adam.decoupled_weight_decay = o.decoupled_weight_decay;
  adam.epsilon_hat = o.epsilon_hat;
  adam.state = state_.data();
  if (o.global_clipnorm > 0) {
    kernels::GradClipParams clip;
    clip.grads = grads_.data();
    clip.count = layout_.total_floats;
    clip.max_norm = o.global_clipnorm;
    clip.partials = clip_partials_.data();
    clip.state = state_.data();
    kernels::grad_clip_scale(clip, stream_);
  }
  kernels::optimizer_begin(adam, stream_);
  if (o.kind == OptimizerKind::adam) {
    kernels::adam_update(adam, stream_);
    return;
  }
  kernels::SgdParams sgd;
  sgd.params = params_.data();
  sgd.grads = grads_.data();
  sgd.momentum = m_.data();
  sgd.count = layout_.total_floats;
  sgd.lr = o.lr;
  sgd.momentum_factor = o.beta1;
  sgd.weight_decay = o.weight_decay;
  sgd.state = state_.data();
  kernels::sgd_update(sgd, stream_);
}

void CudaNetwork::enqueue_step(int64_t rows, const cudaEvent_t* phase_marks) const {
  const auto mark = [&](int i) {
    if (phase_marks != nullptr) CUDA_CHECK(cudaEventRecord(phase_marks[i], stream_));
  };
  mark(0);
  enqueue_forward(rows, 0, static_cast<int>(layers_.size()), /*logits_only=*/true);
  mark(1);
  const double count = static_cast<double>(rows * layout_.input_dim());
  enqueue_loss(rows, grad_a_.data(), static_cast<float>(1.0 / count), losses_.data(), &state_.data()->batch);
  mark(2);
  enqueue_backward(rows);
  mark(3);
  enqueue_optimizer();
  mark(4);
}

void CudaNetwork::enqueue_loss_sum(int64_t rows, float* out) const {
  enqueue_forward(rows, 0, static_cast<int>(layers_.size()), /*logits_only=*/true);
  enqueue_loss(rows, nullptr, 1.0f, out, nullptr);
}

}  // namespace cuae::cuda
