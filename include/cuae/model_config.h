// The plain configuration struct of an autoencoder. Defaults follow the classic Keras autoencoder:
// Dense(64, relu) -> Dense(784, sigmoid), binary cross-entropy, Adam(1e-3), glorot_uniform.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cuae/activation.h"
#include "cuae/regularization.h"

namespace cuae {

enum class Loss { bce, mse };

inline constexpr std::array<std::pair<Loss, std::string_view>, 2> kLossNames{{{Loss::bce, "bce"}, {Loss::mse, "mse"}}};
constexpr std::string_view loss_name(Loss loss) {
  for (const auto& [value, name] : kLossNames)
    if (value == loss) return name;
  return "unknown";
}

// The output activations a loss is defined on: BCE takes probabilities (a sigmoid output, computed
// from the logits in the stable form), MSE a sigmoid or linear output. The one place this rule lives:
// ModelConfig::validate and the loss kernel's launcher both ask it.
constexpr bool loss_accepts_output(Loss loss, Activation output) {
  return loss == Loss::bce ? output == Activation::sigmoid
                           : output == Activation::sigmoid || output == Activation::linear;
}

enum class Init { glorot_uniform, torch_default };
enum class OptimizerKind { adam, sgd };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  float lr = 1e-3f;
  float beta1 = 0.9f;  // Adam's first-moment decay; SGD's momentum when kind == sgd
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  // AdamW: p *= 1 - lr * weight_decay before the Adam step, instead of adding wd * p to the gradient.
  bool decoupled_weight_decay = false;
  // Keras/paper "epsilon hat": p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps).
  bool epsilon_hat = false;
  // Keras' global_clipnorm / torch.nn.utils.clip_grad_norm_: before each update the gradient is
  // scaled by max_norm / (||g|| + 1e-6) when its global L2 norm exceeds max_norm. 0 = off.
  float global_clipnorm = 0.0f;
};

struct ModelConfig {
  // Encoder widths from the input to the code, e.g. {784, 64}. The decoder mirrors them.
  std::vector<int64_t> layers{784, 64};
  Activation hidden_activation = Activation::relu;   // every layer but the last decoder layer
  Activation output_activation = Activation::sigmoid;  // sigmoid or linear
  float leaky_relu_slope = 0.01f;                      // as torch.nn.LeakyReLU
  Loss loss = Loss::bce;
  OptimizerConfig optimizer;
  Init init = Init::glorot_uniform;
  uint64_t seed = 0;
  // Tied weights: decoder layer i uses the transposed weight of its mirror encoder layer (and its own
  // bias), halving the weights. Checkpoints then hold no decoder.{i}.weight (docs/REGULARISATION.md
  // shows the nn.Linear mapping).
  bool tied_weights = false;
  Regularization regularization;

  // Throws cuae::Error naming the first invalid field.
  void validate() const;
};

std::string_view to_string(Activation);
std::string_view to_string(Loss);
std::string_view to_string(Init);
std::string_view to_string(OptimizerKind);
// Parsers throw cuae::Error listing the accepted names.
Activation parse_activation(std::string_view);
Loss parse_loss(std::string_view);
Init parse_init(std::string_view);
OptimizerKind parse_optimizer(std::string_view);

// JSON form, used by --config files and checkpoint metadata. Unknown keys are an error.
std::string to_json(const ModelConfig&);
ModelConfig model_config_from_json(std::string_view json, std::string_view source_name = "config");

}  // namespace cuae
