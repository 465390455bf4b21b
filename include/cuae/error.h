// Errors thrown by cuae. Every message names the operation and the offending file, shape or size,
// e.g. "train_step: batch has 783 features, model expects 784".
#pragma once

#include <stdexcept>
#include <string>

namespace cuae {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Tensor or batch dimensions that do not fit the model or each other.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read, parsed or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// Values that the operation cannot use although the file was read correctly, e.g. binary
// cross-entropy targets outside [0, 1] (pixels in 0..255 that were not divided by 255). The message
// names the data set, the observed range and the fixes.
class DataError : public Error {
 public:
  using Error::Error;
};

// A CUDA runtime, cuBLAS or cuDNN failure, or a missing device or driver.
class CudaError : public Error {
 public:
  using Error::Error;
};

// Host or device memory exhausted; the message gives the bytes needed and, where known, free.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

}  // namespace cuae
