// The standard answers to an autoencoder's overfitting (Keras and PyTorch users know them): input
// corruption for denoising, dropout on the hidden layers, penalties on the code (L1 activity, KL
// sparsity) and on the weights (coupled L2). Part of ModelConfig: they change what training computes.
// Every random draw comes from Philox keyed by (seed, optimizer step, element), so runs reproduce,
// resume exactly and agree between backends (kernels/common/random.cuh).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cuae {

// Corruption of each training batch's input; the loss still compares with the clean input.
//   gaussian:SIGMA  x + SIGMA·N(0, 1), clipped to [0, 1] where the output is a sigmoid
//   mask:P          each element zeroed with probability P (masking noise)
//   salt-pepper:P   each element set to 0 or 1 (even odds) with probability P
struct Noise {
  enum class Kind { none, gaussian, mask, salt_pepper };
  Kind kind = Kind::none;
  float amount = 0;  // SIGMA or P

  friend bool operator==(const Noise&, const Noise&) = default;
};

struct Regularization {
  Noise noise;
  // Inverted dropout on the output of each hidden layer (every layer but the output layer, the code
  // included): one rate for all, one per hidden layer, or none. Off outside training.
  std::vector<float> dropout;
  // Keras activity_regularizer=l1(λ) on the code: λ·Σ|code| / rows is added to the batch loss.
  float l1_activity = 0;
  // The KL sparsity penalty of a sigmoid code: β·Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j the batch mean of unit j.
  float kl_rho = 0;
  float kl_beta = 0;  // 0 = off
  // Keras kernel_regularizer=l2(λ): λ·Σ W² over every weight matrix (not the biases) is added to
  // the loss, so the gradient gains 2λW. (Decoupled AdamW decay is optimizer.weight_decay.)
  float l2 = 0;

  bool any() const {
    return noise.kind != Noise::Kind::none || !dropout.empty() || l1_activity > 0 || kl_beta > 0 || l2 > 0;
  }
  friend bool operator==(const Regularization&, const Regularization&) = default;
};

// "none", "gaussian:0.1", "mask:0.3", "salt-pepper:0.05"; the parser throws cuae::Error naming the forms.
std::string to_string(const Noise&);
Noise parse_noise(std::string_view);
// What training with `noise` feeds the network for the batch `clean` at optimizer step `step` of a
// model seeded `seed` (element i of the batch from the step's Philox stream), written to `out` (the
// same size; it may be `clean`). clip_to_unit clips Gaussian noise to [0, 1], as training does for a
// sigmoid output. `cuae reconstruct --noise` shows what a denoising model restores with it.
void apply_noise(const Noise& noise, uint64_t seed, int64_t step, bool clip_to_unit, std::span<const float> clean,
                 std::span<float> out);

// "" (off) or "RHO:BETA", e.g. "0.05:3".
std::string kl_sparsity_spec(const Regularization&);
void parse_kl_sparsity(std::string_view spec, Regularization& out);

}  // namespace cuae
