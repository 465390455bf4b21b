// Host matrices: row-major float32, rows x cols, the contiguous dimension is cols.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cuae {

struct MatrixView {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct Matrix {
  std::vector<float> data;
  int64_t rows = 0;
  int64_t cols = 0;

  Matrix() = default;
  Matrix(int64_t r, int64_t c) : data(static_cast<size_t>(r * c)), rows(r), cols(c) {}
  float* row(int64_t i) { return data.data() + i * cols; }
  const float* row(int64_t i) const { return data.data() + i * cols; }
  MatrixView view() const { return {data.data(), rows, cols}; }
};

}  // namespace cuae
