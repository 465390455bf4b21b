#include "io/element_types.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace cuae::data {

namespace {

static_assert(std::endian::native == std::endian::little, "the loaders convert to little-endian data");

template <typename T>
T byte_swapped(T value) {
  if constexpr (sizeof(T) == 1)
    return value;
  else if constexpr (sizeof(T) == 2)
    return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(value)));
  else if constexpr (sizeof(T) == 4)
    return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(value)));
  else
    return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(value)));
}

// Reads element i of type Stored (memcpy: the source need not be aligned) and widens it with To.
template <typename Stored, typename To>
void convert(const std::byte* src, size_t count, bool swap, float* out, To to_float) {
  for (size_t i = 0; i < count; ++i) {
    Stored value;
    std::memcpy(&value, src + i * sizeof(Stored), sizeof(Stored));
    if (swap) value = byte_swapped(value);
    out[i] = to_float(value);
  }
}

template <typename Stored>
void convert_cast(const std::byte* src, size_t count, bool swap, float* out) {
  convert<Stored>(src, count, swap, out, [](Stored v) { return static_cast<float>(v); });
}

template <typename Bits, typename Value>
void convert_bits(const std::byte* src, size_t count, bool swap, float* out) {
  convert<Bits>(src, count, swap, out, [](Bits v) { return static_cast<float>(std::bit_cast<Value>(v)); });
}

}  // namespace

std::string ElementType::describe() const {
  std::string text = big_endian && size > 1 ? "big-endian " : "";
  const std::string bits = std::to_string(size * 8);
  switch (kind) {
    case ElementKind::floating:
      return text + "float" + bits;
    case ElementKind::bfloat:
      return text + "bfloat16";
    case ElementKind::signed_int:
      return text + "int" + bits;
    case ElementKind::unsigned_int:
      return text + "uint" + bits;
    case ElementKind::boolean:
      return "bool";
  }
  return text + "unknown";
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  const uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float32
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));  // Inf, NaN
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));           // rebias 15 -> 127
}

float bfloat16_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

void convert_to_float(const std::byte* src, size_t count, const ElementType& type, float* out) {
  const bool swap = type.big_endian;
  switch (type.kind) {
    case ElementKind::floating:
      // Lambdas rather than function pointers, so that the widening is inlined into the loop.
      if (type.size == 2) return convert<uint16_t>(src, count, swap, out, [](uint16_t v) { return half_to_float(v); });
      if (type.size == 4 && !swap) {
        std::memcpy(out, src, count * sizeof(float));  // an unaligned float32 payload: one copy
        return;
      }
      if (type.size == 4) return convert_bits<uint32_t, float>(src, count, swap, out);
      if (type.size == 8) return convert_bits<uint64_t, double>(src, count, swap, out);
      break;
    case ElementKind::bfloat:
      if (type.size == 2) return convert<uint16_t>(src, count, swap, out, [](uint16_t v) { return bfloat16_to_float(v); });
      break;
    case ElementKind::signed_int:
      if (type.size == 1) return convert_cast<int8_t>(src, count, swap, out);
      if (type.size == 2) return convert_cast<int16_t>(src, count, swap, out);
      if (type.size == 4) return convert_cast<int32_t>(src, count, swap, out);
      if (type.size == 8) return convert_cast<int64_t>(src, count, swap, out);
      break;
    case ElementKind::unsigned_int:
      if (type.size == 1) return convert_cast<uint8_t>(src, count, swap, out);
      if (type.size == 2) return convert_cast<uint16_t>(src, count, swap, out);
      if (type.size == 4) return convert_cast<uint32_t>(src, count, swap, out);
      if (type.size == 8) return convert_cast<uint64_t>(src, count, swap, out);
      break;
    case ElementKind::boolean:
      return convert<uint8_t>(src, count, false, out, [](uint8_t v) { return v != 0 ? 1.0f : 0.0f; });
  }
  // The parsers only build the types above; reaching this is a bug in a parser, not bad input.
  throw std::logic_error("convert_to_float: no conversion for " + type.describe());
}

}  // namespace cuae::data
