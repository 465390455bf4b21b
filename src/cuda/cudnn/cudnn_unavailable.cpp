// The cuDNN forward baseline's interface in builds that do not contain it (no cuDNN headers at
// configure time, or the emulated backend): every entry point throws CudnnUnavailableError, so
// `--forward cudnn` fails with a reason instead of a link error.
#include "cuda/cudnn/cudnn_forward.h"

namespace cuae::cuda {

namespace {
[[noreturn]] void throw_not_built() {
  throw CudnnUnavailableError(
      "the cuDNN forward baseline is not built (cuDNN headers were not found at configure time, or this is the "
      "emulated backend); use --forward fused or cublas");
}
}  // namespace

bool cudnn_forward_built() { return false; }

std::string cudnn_library_status() {
  try {
    throw_not_built();
  } catch (const CudnnUnavailableError& e) {
    return e.what();
  }
}

struct CudnnDenseForward::Impl {};

CudnnDenseForward::CudnnDenseForward(cudaStream_t, bool) { throw_not_built(); }
CudnnDenseForward::~CudnnDenseForward() = default;
CudnnDenseForward::CudnnDenseForward(CudnnDenseForward&&) noexcept = default;
CudnnDenseForward& CudnnDenseForward::operator=(CudnnDenseForward&&) noexcept = default;
bool CudnnDenseForward::prepare(const kernels::DenseForwardParams&) { throw_not_built(); }
void CudnnDenseForward::forward(const kernels::DenseForwardParams&) const { throw_not_built(); }
std::string CudnnDenseForward::describe(const kernels::DenseForwardParams&) const { throw_not_built(); }

}  // namespace cuae::cuda
