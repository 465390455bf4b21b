// The text forms of the regularisation options: what the flags take and the grammar stores
// ("gaussian:0.1", "0.05:3").
#include "cuae/regularization.h"

#include <string>
#include <vector>

#include "api/spec_text.h"
#include "cuae/error.h"
#include "kernels/common/noise.cuh"

namespace cuae {

using spec_text::number;
using spec_text::parse_number;
using spec_text::split;

std::string to_string(const Noise& noise) {
  switch (noise.kind) {
    case Noise::Kind::none: return "none";
    case Noise::Kind::gaussian: return "gaussian:" + number(noise.amount);
    case Noise::Kind::mask: return "mask:" + number(noise.amount);
    case Noise::Kind::salt_pepper: return "salt-pepper:" + number(noise.amount);
  }
  return "none";
}

Noise parse_noise(std::string_view spec) {
  const auto bad = [&] {
    return Error("config: noise '" + std::string(spec) + "' is not none, gaussian:SIGMA, mask:P or salt-pepper:P");
  };
  if (spec == "none" || spec.empty()) return {};
  const std::vector<std::string_view> parts = split(spec, ':');
  Noise noise;
  if (parts.size() != 2 || !parse_number(parts[1], noise.amount)) throw bad();
  if (parts[0] == "gaussian") {
    noise.kind = Noise::Kind::gaussian;
  } else if (parts[0] == "mask") {
    noise.kind = Noise::Kind::mask;
  } else if (parts[0] == "salt-pepper") {
    noise.kind = Noise::Kind::salt_pepper;
  } else {
    throw bad();
  }
  return noise;
}

std::string kl_sparsity_spec(const Regularization& r) {
  return r.kl_beta > 0 ? number(r.kl_rho) + ":" + number(r.kl_beta) : "";
}

void parse_kl_sparsity(std::string_view spec, Regularization& out) {
  out.kl_rho = 0;
  out.kl_beta = 0;
  if (spec.empty()) return;
  const std::vector<std::string_view> parts = split(spec, ':');
  if (parts.size() != 2 || !parse_number(parts[0], out.kl_rho) || !parse_number(parts[1], out.kl_beta)) {
    throw Error("config: kl_sparsity '" + std::string(spec) + "' is not RHO:BETA (e.g. 0.05:3)");
  }
}

void apply_noise(const Noise& noise, uint64_t seed, int64_t step, bool clip_to_unit, std::span<const float> clean,
                 std::span<float> out) {
  if (out.size() != clean.size()) {
    throw Error("apply_noise: " + std::to_string(clean.size()) + " clean values but room for " + std::to_string(out.size()));
  }
  const uint64_t stream = rng::draw_stream(rng::DrawPurpose::input_noise, step, 0);
  for (size_t i = 0; i < clean.size(); ++i) {
    out[i] = noise::corrupted(noise.kind, noise.amount, seed, stream, i, clean[i], clip_to_unit);
  }
}

}  // namespace cuae
