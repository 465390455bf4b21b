// The three model shapes of issue 6, shared by the step benchmarks: classic 784→64→784 at batch 256,
// wide 1024→1024→1024 at batch 4096, deep 784→512→256→64 and back at batch 1024.
#pragma once

#include <cstdint>
#include <vector>

namespace cuae::bench {

struct Shape {
  const char* name;
  std::vector<int64_t> layers;  // encoder widths; the decoder mirrors them
  int64_t batch;
};

inline const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {"classic", {784, 64}, 256},
      {"wide", {1024, 1024}, 4096},
      {"deep", {784, 512, 256, 64}, 1024},
  };
  return all;
}

}  // namespace cuae::bench
