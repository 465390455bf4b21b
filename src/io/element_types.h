// Element types of the arrays in users' files (a .npy descr, a safetensors dtype) and their
// conversion to float32, the one type the engine computes in. Sources may be unaligned and of either
// byte order; float16 and bfloat16 are widened exactly, float64 and 64-bit integers rounded to nearest.
#pragma once

#include <cstddef>
#include <string>

namespace cuae::data {

enum class ElementKind { floating, bfloat, signed_int, unsigned_int, boolean };

struct ElementType {
  ElementKind kind = ElementKind::floating;
  int size = 4;             // bytes: floating 2/4/8, bfloat 2, integers 1/2/4/8, boolean 1
  bool big_endian = false;  // as stored; converted to the host's little-endian order

  // e.g. "float16", "big-endian int32", "bfloat16", "bool".
  std::string describe() const;
};

// Converts count elements of `type` at src (any alignment) into out.
void convert_to_float(const std::byte* src, size_t count, const ElementType& type, float* out);

// float16 (IEEE binary16) and bfloat16 bit patterns as float32, exactly (subnormals, Inf, NaN).
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);

}  // namespace cuae::data
