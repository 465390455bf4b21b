// The parsers link Device::parse (the grammar's "device" key), whose Device::best asks the backends
// for CUDA devices. The fuzz build has no backends: this build has no CUDA.
#include "cuae/device.h"

namespace cuae {

CudaStatus cuda_status() { return {.built = false, .usable = false, .reason = "fuzz build without backends", .devices = {}}; }

}  // namespace cuae
