// Backend's default whole-data-set loss: host batches through copy_rows + loss_sum. A backend that
// keeps the data resident (CUDA) overrides it.
#include "engine/backend.h"

#include <algorithm>
#include <string>
#include <vector>

#include "cuae/error.h"

namespace cuae {

double Backend::dataset_loss_sum(const Dataset& data, int64_t batch_size) {
  if (batch_size <= 0) throw Error("evaluate: batch size must be > 0, got " + std::to_string(batch_size));
  std::vector<float> rows(static_cast<size_t>(std::min(batch_size, data.rows()) * data.cols()));
  double sum = 0;
  for (int64_t first = 0; first < data.rows(); first += batch_size) {
    const int64_t count = std::min(batch_size, data.rows() - first);
    data.copy_rows(first, count, rows.data());
    sum += loss_sum({rows.data(), count, data.cols()});
  }
  return sum;
}

}  // namespace cuae
