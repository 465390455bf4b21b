// The cuDNN forward baseline (issue 6): one dense layer as one cuDNN operation graph.
//
// Why: a vendor baseline for the hand-written fused kernel (kernels/dense_forward.cu) and for cuBLAS +
// the bias/activation kernel: the same layer, fused by cuDNN's runtime fusion engine.
//
// Maths    y[M, N] = act(x[M, K] · w[N, K]^T + bias[N]);  pre[M, N] = x · w^T + bias when requested.
// Layout   row-major, w in nn.Linear layout [out, in]. cuDNN's matmul is batched and 3-D, so batch 1:
//            x     [1, M, K]  strides [M·K, K, 1]
//            w^T   [1, K, N]  strides [N·K, 1, K]  a transposed view of w ((k, n) at n·K + k), no copy
//            bias  [1, 1, N]  strides [N, N, 1]    broadcast over the rows by the pointwise add
//            y, pre and the virtual intermediates [1, M, N] strides [M·N, N, 1]
// Graph    matmul(x, w^T) -> ADD bias -> activation -> y; intermediates are virtual (never stored)
//          except pre when requested. relu RELU_FWD, leaky_relu RELU_FWD with lower-clip slope,
//          sigmoid SIGMOID_FWD, tanh TANH_FWD, gelu GELU_FWD (the erf form of torch.nn.GELU()), linear
//          no activation node (an IDENTITY node when pre is requested, so both pre and y are written).
//          FLOAT data and compute type throughout.
// Cost     2·M·N·K FLOPs; at least 4·(M·K + N·K + N + M·N) bytes moved (+ 4·M·N when pre is stored).
//
// Plans: prepare() builds one per (M, N, K, act, slope, bias?, pre?, pointer alignment) and caches it:
// operation graph -> engine heuristics (mode A, then FALLBACK) -> their configurations in order. A
// configuration is skipped when its engine's numerical notes break FP32 semantics (tensor cores, i.e.
// TF32, unless allow_tf32; down-converted inputs or reduced-precision reductions always, as PyTorch's
// cuDNN filter does) or say it is nondeterministic (a captured graph must replay bit-identically), and
// when its execution plan does not finalize. The first that finalizes is kept. forward() only builds a
// variant pack in host memory and calls cudnnBackendExecute, so it can run inside CUDA graph capture.
#include "cuda/cudnn/cudnn_forward.h"

#include <cudnn_backend.h>

#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/cudnn/cudnn_library.h"
#include "cuda/device_buffer.h"

namespace cuae::cuda {

using kernels::aligned16;
using kernels::DenseForwardParams;

namespace {

// Unique ids of the graph's tensors; the variant pack binds device pointers to the non-virtual ones.
constexpr int64_t kUidX = 1, kUidW = 2, kUidBias = 3, kUidY = 4, kUidPre = 5;
constexpr int64_t kUidProduct = 101, kUidBiased = 102;  // virtual

struct PlanKey {
  int64_t m = 0;
  int n = 0, k = 0;
  Activation act = Activation::linear;
  uint32_t slope_bits = 0;  // leaky_relu's slope; 0 for the other activations
  bool bias = false, pre = false;
  int64_t alignment = 4;  // bytes, promised to cuDNN for every tensor
  auto operator<=>(const PlanKey&) const = default;
};

PlanKey key_of(const DenseForwardParams& p) {
  PlanKey key;
  key.m = p.m, key.n = p.n, key.k = p.k, key.act = p.act;
  key.slope_bits = p.act == Activation::leaky_relu ? std::bit_cast<uint32_t>(p.slope) : 0;
  key.bias = p.bias != nullptr, key.pre = p.pre != nullptr;
  // Vectorised engines need the promise that every pointer is 16-byte aligned; a plan built on that
  // promise must not run on a misaligned pointer, hence alignment is part of the key.
  const bool all16 = aligned16(p.x) && aligned16(p.w) && aligned16(p.y) && (!key.bias || aligned16(p.bias)) &&
                     (!key.pre || aligned16(p.pre));
  key.alignment = all16 ? 16 : 4;
  return key;
}

// "dense 256×784·784×64 + bias + relu", the layer as error messages and describe() name it.
std::string layer_text(const PlanKey& key) {
  // Appended piece by piece: GCC 12 reports a false -Wrestrict on "literal" + std::string&& chains.
  std::string text = "dense ";
  text.append(std::to_string(key.m)).append("×").append(std::to_string(key.k));
  text.append("·").append(std::to_string(key.k)).append("×").append(std::to_string(key.n));
  text.append(key.bias ? " + bias + " : " + ").append(activation_name(key.act));
  if (key.act == Activation::leaky_relu) {
    text.append("(").append(std::to_string(std::bit_cast<float>(key.slope_bits))).append(")");
  }
  if (key.pre) text.append(" storing the pre-activation");
  return text.append(" (").append(std::to_string(key.alignment)).append("-byte aligned)");
}

void validate(const DenseForwardParams& p, const char* where) {
  const std::string shape = "m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) + " k=" + std::to_string(p.k);
  if (p.m < 0 || p.n < 0 || p.k < 0) throw ShapeError(std::string(where) + ": negative shape " + shape);
  if (p.m == 0 || p.n == 0) return;
  if (p.k == 0) throw ShapeError(std::string(where) + ": k = 0 is not supported by the cuDNN baseline (" + shape + ")");
  if (p.x == nullptr || p.w == nullptr || p.y == nullptr) {
    throw Error(std::string(where) + ": x, w and y must be device pointers (" + shape + ")");
  }
}

// Descriptors that refer to each other, kept alive together and destroyed newest first (users
// before what they use), because the backend API does not promise that finalized descriptors copy
// the ones they were built from.
class DescriptorChain {
 public:
  DescriptorChain() = default;
  ~DescriptorChain() {
    while (!items_.empty()) items_.pop_back();
  }
  DescriptorChain(DescriptorChain&&) noexcept = default;
  DescriptorChain& operator=(DescriptorChain&&) = delete;

  cudnn::Descriptor& add(cudnnBackendDescriptorType_t type, std::string what) {
    return *items_.emplace_back(std::make_unique<cudnn::Descriptor>(type, std::move(what)));
  }
  cudnn::Descriptor& adopt(cudnn::Descriptor descriptor) {
    return *items_.emplace_back(std::make_unique<cudnn::Descriptor>(std::move(descriptor)));
  }

 private:
  std::vector<std::unique_ptr<cudnn::Descriptor>> items_;
};

struct Plan {
  DescriptorChain descriptors;  // tensors, operations, graph, engine configuration, execution plan
  cudnnBackendDescriptor_t execution_plan = nullptr;
  int64_t workspace_bytes = 0;
  std::vector<int64_t> uids;  // the non-virtual tensors, in variant-pack order
  std::string engine;         // for describe()
};

cudnn::Descriptor& tensor(DescriptorChain& chain, std::string what, int64_t uid, std::array<int64_t, 3> dims,
                          std::array<int64_t, 3> strides, int64_t alignment, bool is_virtual) {
  cudnn::Descriptor& t = chain.add(CUDNN_BACKEND_TENSOR_DESCRIPTOR, std::move(what));
  const cudnnDataType_t type = CUDNN_DATA_FLOAT;
  t.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
  t.set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 3, dims.data());
  t.set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 3, strides.data());
  t.set(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid);
  t.set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, alignment);
  t.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
  t.finalize();
  return t;
}

cudnnBackendDescriptor_t matmul(DescriptorChain& chain, const cudnn::Descriptor& a, const cudnn::Descriptor& b,
                                const cudnn::Descriptor& c) {
  cudnn::Descriptor& config = chain.add(CUDNN_BACKEND_MATMUL_DESCRIPTOR, "the matmul descriptor");
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  config.set(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  config.finalize();
  cudnn::Descriptor& op = chain.add(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "the matmul operation");
  op.set(CUDNN_ATTR_OPERATION_MATMUL_ADESC, a);
  op.set(CUDNN_ATTR_OPERATION_MATMUL_BDESC, b);
  op.set(CUDNN_ATTR_OPERATION_MATMUL_CDESC, c);
  op.set(CUDNN_ATTR_OPERATION_MATMUL_DESC, config);
  op.finalize();
  return op.get();
}

// y = mode(x) or mode(x, b); relu_slope is RELU_FWD's slope below zero (0: relu, s: leaky_relu).
cudnnBackendDescriptor_t pointwise(DescriptorChain& chain, const std::string& what, cudnnPointwiseMode_t mode,
                                   double relu_slope, const cudnn::Descriptor& x, const cudnn::Descriptor* b,
                                   const cudnn::Descriptor& y) {
  cudnn::Descriptor& config = chain.add(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, what + " descriptor");
  config.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  config.set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  if (mode == CUDNN_POINTWISE_RELU_FWD) {
    // As cudnn_frontend sets them for FP32: identity above 0, slope · x below, upper clip FLT_MAX.
    const double lower_clip = 0.0, upper_clip = std::numeric_limits<float>::max();
    config.set(CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, CUDNN_TYPE_DOUBLE, 1, &lower_clip);
    config.set(CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, CUDNN_TYPE_DOUBLE, 1, &upper_clip);
    config.set(CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP_SLOPE, CUDNN_TYPE_DOUBLE, 1, &relu_slope);
  }
  config.finalize();
  cudnn::Descriptor& op = chain.add(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, what);
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, config);
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
  if (b != nullptr) op.set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
  op.finalize();
  return op.get();
}

cudnnPointwiseMode_t activation_mode(Activation act) {
  switch (act) {
    case Activation::relu:
    case Activation::leaky_relu: return CUDNN_POINTWISE_RELU_FWD;
    case Activation::sigmoid: return CUDNN_POINTWISE_SIGMOID_FWD;
    case Activation::tanh: return CUDNN_POINTWISE_TANH_FWD;
    case Activation::gelu: return CUDNN_POINTWISE_GELU_FWD;
    case Activation::linear: return CUDNN_POINTWISE_IDENTITY;
  }
  throw Error("CudnnDenseForward: unknown activation " + std::to_string(static_cast<int>(act)));
}

// Builds the operation graph of `key` and the first engine plan that passes choose_engine's filters.
Plan build_plan(const PlanKey& key, cudnnHandle_t handle, bool allow_tf32) {
  Plan plan;
  DescriptorChain& chain = plan.descriptors;
  const int64_t m = key.m, n = key.n, k = key.k, align = key.alignment;
  const std::array<int64_t, 3> out_dims{1, m, n}, out_strides{m * n, n, 1};
  const bool activation_node = key.act != Activation::linear || key.pre;

  const cudnn::Descriptor& x = tensor(chain, "tensor x", kUidX, {1, m, k}, {m * k, k, 1}, align, false);
  const cudnn::Descriptor& w_t = tensor(chain, "tensor w^T", kUidW, {1, k, n}, {n * k, 1, k}, align, false);
  // z = x·w^T (+ bias) lands in pre when requested, in y when no activation follows, else nowhere.
  auto z_tensor = [&](int64_t virtual_uid) -> const cudnn::Descriptor& {
    if (key.pre) return tensor(chain, "tensor pre", kUidPre, out_dims, out_strides, align, false);
    if (!activation_node) return tensor(chain, "tensor y", kUidY, out_dims, out_strides, align, false);
    return tensor(chain, "virtual tensor z", virtual_uid, out_dims, out_strides, align, true);
  };

  std::vector<cudnnBackendDescriptor_t> operations;
  const cudnn::Descriptor* z = nullptr;
  if (key.bias) {
    const cudnn::Descriptor& product =
        tensor(chain, "virtual tensor x·w^T", kUidProduct, out_dims, out_strides, align, true);
    operations.push_back(matmul(chain, x, w_t, product));
    const cudnn::Descriptor& bias = tensor(chain, "tensor bias", kUidBias, {1, 1, n}, {n, n, 1}, align, false);
    z = &z_tensor(kUidBiased);
    operations.push_back(pointwise(chain, "the bias add", CUDNN_POINTWISE_ADD, 0.0, product, &bias, *z));
  } else {
    z = &z_tensor(kUidProduct);
    operations.push_back(matmul(chain, x, w_t, *z));
  }
  if (activation_node) {
    const cudnn::Descriptor& y = tensor(chain, "tensor y", kUidY, out_dims, out_strides, align, false);
    const double slope = key.act == Activation::leaky_relu ? std::bit_cast<float>(key.slope_bits) : 0.0;
    operations.push_back(pointwise(chain, "the " + std::string(activation_name(key.act)) + " activation",
                                   activation_mode(key.act), slope, *z, nullptr, y));
  }

  plan.uids = {kUidX, kUidW};
  if (key.bias) plan.uids.push_back(kUidBias);
  plan.uids.push_back(kUidY);
  if (key.pre) plan.uids.push_back(kUidPre);

  cudnn::Descriptor& graph = chain.add(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "the operation graph");
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(operations.size()),
            operations.data());
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  const cudnnStatus_t status = graph.try_finalize();
  if (cudnn::is_not_supported(status)) {
    throw CudnnNoEngineError("cuDNN offers no engine for " + layer_text(key) +
                             " on this GPU (the operation graph did not finalize: " + cudnn::status_text(status) + ")");
  }
  cudnn::check(status, "cudnnBackendFinalize", "finalizing the operation graph of " + layer_text(key));

  std::string why_none;
  std::optional<cudnn::EngineChoice> choice = cudnn::choose_engine(graph, handle, allow_tf32, why_none);
  if (!choice) {
    throw CudnnNoEngineError("cuDNN offers no engine for " + layer_text(key) + " on this GPU (" + why_none + ")");
  }
  plan.workspace_bytes = choice->workspace_bytes;
  plan.engine = std::move(choice->description);
  chain.adopt(std::move(choice->config));
  plan.execution_plan = chain.adopt(std::move(choice->plan)).get();
  return plan;
}

// 91900 -> "cuDNN 9.19.0".
std::string version_text(size_t version) {
  return "cuDNN " + std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100);
}

void* pointer_for(int64_t uid, const DenseForwardParams& p) {
  switch (uid) {
    case kUidX: return const_cast<float*>(p.x);
    case kUidW: return const_cast<float*>(p.w);
    case kUidBias: return const_cast<float*>(p.bias);
    case kUidY: return p.y;
    case kUidPre: return p.pre;
    default: throw Error("CudnnDenseForward: no pointer for tensor uid " + std::to_string(uid));
  }
}

}  // namespace

bool cudnn_forward_built() { return true; }

std::string cudnn_library_status() {
  try {
    const cudnn::Api& api = cudnn::api();
    return version_text(api.version) + " (" + api.library_path + ")";
  } catch (const std::exception& e) {
    return e.what();
  }
}

struct CudnnDenseForward::Impl {
  Impl(cudaStream_t s, bool tf32) : handle(s), stream(s), allow_tf32(tf32) {}
  cudnn::Handle handle;  // declared first: destroyed after the plans built with it
  cudaStream_t stream;
  bool allow_tf32;
  std::map<PlanKey, Plan> plans;
  DeviceBuffer<unsigned char> workspace;
};

CudnnDenseForward::CudnnDenseForward(cudaStream_t stream, bool allow_tf32)
    : impl_(std::make_unique<Impl>(stream, allow_tf32)) {}
CudnnDenseForward::~CudnnDenseForward() = default;
CudnnDenseForward::CudnnDenseForward(CudnnDenseForward&&) noexcept = default;
CudnnDenseForward& CudnnDenseForward::operator=(CudnnDenseForward&&) noexcept = default;

bool CudnnDenseForward::prepare(const DenseForwardParams& p) {
  validate(p, "CudnnDenseForward::prepare");
  if (!impl_) throw CudaError("CudnnDenseForward::prepare: the object was moved from");
  if (p.m == 0 || p.n == 0) return false;
  const PlanKey key = key_of(p);
  auto found = impl_->plans.find(key);
  if (found == impl_->plans.end()) {
    // Plan building may synchronise and allocate, which would invalidate a capture in progress.
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(impl_->stream, &capture));
    if (capture != cudaStreamCaptureStatusNone) {
      throw CudaError("CudnnDenseForward::prepare: " + layer_text(key) +
                      " was first seen during stream capture; prepare every shape before capturing");
    }
    found = impl_->plans.emplace(key, build_plan(key, impl_->handle.get(), impl_->allow_tf32)).first;
  }
  const auto needed = static_cast<size_t>(found->second.workspace_bytes);
  if (needed <= impl_->workspace.size()) return false;
  impl_->workspace = DeviceBuffer<unsigned char>(needed, "cuDNN workspace");
  return true;
}

void CudnnDenseForward::forward(const DenseForwardParams& p) const {
  validate(p, "CudnnDenseForward::forward");
  if (!impl_) throw CudaError("CudnnDenseForward::forward: the object was moved from");
  if (p.m == 0 || p.n == 0) return;
  const auto found = impl_->plans.find(key_of(p));
  if (found == impl_->plans.end()) {
    throw CudaError("CudnnDenseForward::forward: " + layer_text(key_of(p)) +
                    " was not prepared; call prepare() with this shape before the forward (and before capture)");
  }
  const Plan& plan = found->second;
  std::array<void*, 5> pointers{};
  for (size_t i = 0; i < plan.uids.size(); ++i) pointers[i] = pointer_for(plan.uids[i], p);
  void* workspace = impl_->workspace.data();
  cudnn::Descriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "the variant pack");
  const auto count = static_cast<int64_t>(plan.uids.size());
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, count, plan.uids.data());
  pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, count, pointers.data());
  pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  pack.finalize();
  const cudnnStatus_t status = cudnn::api().execute(impl_->handle.get(), plan.execution_plan, pack.get());
  if (status != CUDNN_STATUS_SUCCESS) cudnn::check(status, "cudnnBackendExecute", "running " + layer_text(key_of(p)));
}

std::string CudnnDenseForward::describe(const DenseForwardParams& p) const {
  if (!impl_) throw CudaError("CudnnDenseForward::describe: the object was moved from");
  const auto found = impl_->plans.find(key_of(p));
  if (found == impl_->plans.end()) return "cuDNN: " + layer_text(key_of(p)) + " not prepared";
  return cudnn_library_status() + ", " + found->second.engine;
}

}  // namespace cuae::cuda
