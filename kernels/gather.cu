// Batch gather: out[r, :] = float(data[row(r), :]) · (u8 ? 1/255 : 1) for r < rows, with
//   row(r) = permute_index(batch · batch_size + r, data_rows, shuffle_key) when shuffling, else
//   row(r) = batch · batch_size + r,
// where batch = *batch_index is read from device memory, so a captured graph replays the gather for
// successive batches. A uint8 data set stays on the device at a quarter of the float size; the ÷255
// (a correctly rounded division, as torchvision's ToTensor) happens on the fly.
// A row(r) at or past data_rows (a batch index beyond the epoch) yields a row of NaN instead of an
// out-of-bounds read, so the mistake shows up in the loss.
//
// Layout: data is [data_rows, cols] row-major, uint8 or float; out is [rows, cols] float.
// Launch shape: one 256-thread block per output row; thread 0 computes row(r) (a Feistel network,
// ~100 integer ops) and shares it through shared memory; the threads then copy the row in 4-column
// quads: float4 stores, with 4-byte (u8) or float4 (f32) loads when cols % 4 == 0 and the pointers
// are aligned, element by element otherwise.
// Bytes per element: u8 1 read + 4 written; f32 4 + 4. No FLOPs beyond the conversion.
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/common/activation.cuh"
#include "kernels/kernels.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/random.cuh"

namespace cuae::kernels {
namespace {

constexpr int kThreads = 256;

// ---- device helpers -----------------------------------------------------------------------------

__device__ __forceinline__ float u8_to_float(uint32_t byte) { return static_cast<float>(byte) / 255.0f; }

// ---- kernels ------------------------------------------------------------------------------------

__global__ void gather_rows_kernel(GatherParams p, bool vec) {
  __shared__ int64_t source_row;
  const int64_t r = blockIdx.x;
  if (threadIdx.x == 0) {
    const int64_t i = *p.batch_index * p.batch_size + r;
    if (i < 0 || i >= p.data_rows) {
      source_row = -1;
    } else {
      source_row = p.shuffle ? static_cast<int64_t>(rng::permute_index(static_cast<uint64_t>(i),
                                                                       static_cast<uint64_t>(p.data_rows), p.shuffle_key))
                             : i;
    }
  }
  __syncthreads();
  const int64_t src = source_row;
  float* out = p.out + r * p.cols;
  const int quads = (p.cols + 3) / 4;
  for (int q = static_cast<int>(threadIdx.x); q < quads; q += kThreads) {
    const int c = 4 * q;
    float v[4];
    if (src < 0) {
      for (int j = 0; j < 4; ++j) v[j] = nanf("");
    } else if (p.data_u8) {
      const uint8_t* row = static_cast<const uint8_t*>(p.data) + src * p.cols;
      if (vec) {  // 4 bytes at a 4-aligned offset: one 32-bit load, little-endian on host and device
        const uint32_t word = *reinterpret_cast<const uint32_t*>(row + c);
        for (int j = 0; j < 4; ++j) v[j] = u8_to_float((word >> (8 * j)) & 0xffu);
      } else {
        for (int j = 0; j < 4; ++j) v[j] = c + j < p.cols ? u8_to_float(row[c + j]) : 0.0f;
      }
    } else {
      const float* row = static_cast<const float*>(p.data) + src * p.cols;
      if (vec) {
        const float4 f = *reinterpret_cast<const float4*>(row + c);
        v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
      } else {
        for (int j = 0; j < 4; ++j) v[j] = c + j < p.cols ? row[c + j] : 0.0f;
      }
    }
    if (vec) {
      *reinterpret_cast<float4*>(out + c) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
      for (int j = 0; j < 4 && c + j < p.cols; ++j) out[c + j] = v[j];
    }
  }
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------

void gather_rows(const GatherParams& p, cudaStream_t stream) {
  const char* kernel = "gather_rows";
  const std::string shape = "rows=" + std::to_string(p.rows) + " cols=" + std::to_string(p.cols) +
                            " batch_size=" + std::to_string(p.batch_size) + " data_rows=" + std::to_string(p.data_rows);
  require_shape(p.rows >= 0 && p.cols >= 0 && p.data_rows >= 0 && p.batch_size >= 0, kernel, "negative shape " + shape);
  require_shape(p.rows <= p.batch_size, kernel, "more rows than the batch size: " + shape);
  require_shape(p.rows < (int64_t{1} << 31), kernel, "too many rows for one launch: " + shape);
  if (p.rows == 0 || p.cols == 0) return;
  require_pointer(p.data, kernel, "data", shape);
  require_pointer(p.out, kernel, "out", shape);
  require_pointer(p.batch_index, kernel, "batch_index", shape);
  // Every row starts at a multiple of cols elements, so cols % 4 == 0 plus an aligned base aligns them all.
  const auto address = reinterpret_cast<uintptr_t>(p.data);
  const bool vec = p.cols % 4 == 0 && aligned16(p.out) && address % (p.data_u8 ? 4 : 16) == 0;
  launch(kernel, gather_rows_kernel, dim3(static_cast<unsigned>(p.rows)), dim3(kThreads), 0, stream, p, vec);
}

}  // namespace cuae::kernels
