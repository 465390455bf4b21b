// Host generation of the synthetic sets described in synthetic.h.
#include "io/synthetic.h"

#include <cmath>
#include <string>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/io_checks.h"

namespace cuae {

namespace {

void check_dims(const std::string& spec, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) throw Error(spec + ": rows and features must be positive");
  // Synthetic sets are built in memory; refuse what cannot be indexed rather than overflow.
  data::checked_mul(data::checked_mul(rows, cols, spec, "size"), 4, spec, "bytes");
}

}  // namespace

Dataset make_random(int64_t rows, int64_t cols, uint64_t seed) {
  const std::string spec = "random:" + std::to_string(rows) + "," + std::to_string(cols);
  check_dims(spec, rows, cols);
  std::vector<float> values(static_cast<size_t>(rows * cols));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) values[static_cast<size_t>(r * cols + c)] = data::random_element(seed, r, c, cols);
  return Dataset::from_floats(std::move(values), rows, cols, spec);
}

Dataset make_structured(int64_t rows, int64_t cols, int64_t latent, uint64_t seed) {
  const std::string spec =
      "structured:" + std::to_string(rows) + "," + std::to_string(cols) + "," + std::to_string(latent);
  check_dims(spec, rows, cols);
  if (latent <= 0 || latent > cols) throw Error(spec + ": latent size K must be in [1, D]");

  std::vector<float> mix(static_cast<size_t>(cols * latent)), offset(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) {
    offset[static_cast<size_t>(c)] = data::structured_offset(seed, c);
    for (int64_t k = 0; k < latent; ++k) mix[static_cast<size_t>(c * latent + k)] = data::structured_mix(seed, c, k, latent);
  }
  std::vector<float> values(static_cast<size_t>(rows * cols));
#pragma omp parallel
  {
    std::vector<float> z(static_cast<size_t>(latent));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < latent; ++k) z[static_cast<size_t>(k)] = data::structured_latent(seed, r, k, latent);
      for (int64_t c = 0; c < cols; ++c) {
        float pre = offset[static_cast<size_t>(c)];
        for (int64_t k = 0; k < latent; ++k) pre += mix[static_cast<size_t>(c * latent + k)] * z[static_cast<size_t>(k)];
        values[static_cast<size_t>(r * cols + c)] = 1.0f / (1.0f + std::exp(-pre));
      }
    }
  }
  return Dataset::from_floats(std::move(values), rows, cols, spec);
}

}  // namespace cuae
