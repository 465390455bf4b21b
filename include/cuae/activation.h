// The activations of cuae's dense layers: the one list that the configuration, the CPU backend, the
// CUDA kernels and the test references share. Their formulas, for host and device code alike, are in
// kernels/common/activation.cuh. Plain C++: no CUDA needed.
#pragma once

#include <array>
#include <string_view>
#include <utility>

namespace cuae {

enum class Activation { relu, sigmoid, tanh, linear, leaky_relu, gelu };

inline constexpr std::array<std::pair<Activation, std::string_view>, 6> kActivationNames{{
    {Activation::relu, "relu"},
    {Activation::sigmoid, "sigmoid"},
    {Activation::tanh, "tanh"},
    {Activation::linear, "linear"},
    {Activation::leaky_relu, "leaky_relu"},
    {Activation::gelu, "gelu"},
}};

constexpr std::string_view activation_name(Activation a) {
  for (const auto& [value, name] : kActivationNames)
    if (value == a) return name;
  return "unknown";
}

// Whether backward needs the pre-activation z because act'(z) cannot be recovered from y = act(z):
// gelu is not invertible, and leaky_relu with a negative slope is positive on both sides of 0.
constexpr bool needs_preactivation(Activation a, float leaky_slope) {
  return a == Activation::gelu || (a == Activation::leaky_relu && leaky_slope < 0);
}

}  // namespace cuae
