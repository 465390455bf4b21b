// The optimizer's state as host copies: what checkpoints store and Model::optimizer_state returns.
#pragma once

#include <cstdint>
#include <vector>

namespace cuae {

struct OptimizerState {
  int64_t step = 0;      // optimizer steps taken: the model's one step counter (Model::step)
  std::vector<float> m;  // first moment (Adam) or momentum buffer (SGD), flat like the parameters
  std::vector<float> v;  // second moment (Adam); empty for SGD
};

}  // namespace cuae
