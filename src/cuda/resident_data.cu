// The two batch sources of a CUDA epoch (see resident_data.h for the design and the shuffle
// semantics).
#include "cuda/resident_data.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cuae/error.h"
#include "cuda/cuda_check.h"
#include "kernels/common/random.cuh"
#include "kernels/kernels.h"

namespace cuae::cuda {

// ---- ResidentData -------------------------------------------------------------------------------

ResidentData::ResidentData(const Dataset& data, cudaStream_t stream)
    : data_(data),
      bytes_(data.size_bytes(), "resident data set") {
  if (bytes_.size() != 0) {
    CUDA_CHECK(cudaMemcpyAsync(bytes_.data(), data.raw(), bytes_.size(), cudaMemcpyHostToDevice, stream));
    // Once per data set: the host storage (maybe a memory map) must not be needed after this.
    CUDA_CHECK(cudaStreamSynchronize(stream));
  }
}

// The same storage (which this copy keeps alive, so its address cannot be reused meanwhile), the same
// first row and the same shape: the same rows.
bool ResidentData::serves(const Dataset& data, int64_t /*batch_size*/) const {
  return data.storage() == data_.storage() && data.raw() == data_.raw() && data.dtype() == data_.dtype() &&
         data.rows() == data_.rows() && data.cols() == data_.cols();
}

void ResidentData::gather(int64_t /*b*/, int64_t rows, float* x, const int64_t* device_batch, cudaStream_t compute) {
  kernels::GatherParams p;
  p.data = bytes_.data();
  p.data_u8 = data_.dtype() == DType::u8;
  p.data_rows = data_.rows();
  p.cols = static_cast<int>(data_.cols());
  p.out = x;
  p.rows = rows;
  p.batch_size = plan_.batch_size;
  p.batch_index = device_batch;
  p.shuffle = plan_.shuffle;
  p.shuffle_key = plan_.shuffle_key;
  kernels::gather_rows(p, compute);
}

// ---- StreamedData -------------------------------------------------------------------------------

namespace {

int64_t batches_fitting(const Dataset& data, int64_t batch_size, size_t chunk_bytes) {
  const size_t batch_bytes = static_cast<size_t>(batch_size) * static_cast<size_t>(data.cols()) * data.element_size();
  const int64_t steps = (data.rows() + batch_size - 1) / batch_size;
  return std::clamp<int64_t>(static_cast<int64_t>(chunk_bytes / std::max<size_t>(batch_bytes, 1)), 1,
                             std::max<int64_t>(steps, 1));
}

}  // namespace

StreamedData::StreamedData(const Dataset& data, int64_t batch_size, size_t chunk_bytes)
    : data_(data),
      batch_size_(batch_size),
      batches_per_chunk_(batches_fitting(data, batch_size, chunk_bytes)),
      row_bytes_(static_cast<size_t>(data.cols()) * data.element_size()) {
  const size_t chunk_rows = static_cast<size_t>(batches_per_chunk_ * batch_size_);
  for (int i = 0; i < 2; ++i) {
    host_[i] = PinnedBuffer<unsigned char>(chunk_rows * row_bytes_);
    device_[i] = DeviceBuffer<unsigned char>(chunk_rows * row_bytes_, "streamed data chunk");
  }
  std::vector<int64_t> local(static_cast<size_t>(batches_per_chunk_));
  for (size_t i = 0; i < local.size(); ++i) local[i] = static_cast<int64_t>(i);
  local_batch_ = DeviceBuffer<int64_t>(local.size(), "chunk batch indices");
  local_batch_.upload(local, copy_stream_.get());
  copy_stream_.synchronize();
}

StreamedData::~StreamedData() {
  // Pinned buffers may still be the source of a copy in flight.
  CUDA_CHECK_NOTHROW(cudaStreamSynchronize(copy_stream_.get()));
}

bool StreamedData::serves(const Dataset& data, int64_t batch_size) const {
  return data.storage() == data_.storage() && data.raw() == data_.raw() && data.dtype() == data_.dtype() &&
         data.rows() == data_.rows() && data.cols() == data_.cols() && batch_size == batch_size_;
}

void StreamedData::begin_epoch(const EpochPlan& plan) {
  if (plan.batch_size != batch_size_) {
    throw Error("StreamedData: epoch batch size " + std::to_string(plan.batch_size) + " differs from the " +
                std::to_string(batch_size_) + " this source was built for (" + data_.name() + ")");
  }
  copy_stream_.synchronize();  // an early-stopped epoch may have left a prefetch in flight
  plan_ = plan;
  prefetched_ = -1;
}

void StreamedData::prefetch(int64_t chunk, cudaStream_t /*compute*/) {
  const size_t slot = static_cast<size_t>(chunk % 2);
  // The pinned buffer was last the source of chunk - 2's upload.
  uploaded_[slot].synchronize();
  const int64_t first_row = chunk * batches_per_chunk_ * batch_size_;
  const int64_t rows = std::min(batches_per_chunk_ * batch_size_, data_.rows() - first_row);
  const auto* source = static_cast<const unsigned char*>(data_.raw());
  unsigned char* out = host_[slot].data();
  const auto n = static_cast<uint64_t>(data_.rows());
  for (int64_t r = 0; r < rows; ++r) {
    const auto position = static_cast<uint64_t>(first_row + r);
    const uint64_t row = plan_.shuffle ? rng::permute_index(position, n, plan_.shuffle_key) : position;
    std::memcpy(out + static_cast<size_t>(r) * row_bytes_, source + row * row_bytes_, row_bytes_);
  }
  // The device buffer was last read by chunk - 2's gathers on the compute stream.
  consumed_[slot].wait_on(copy_stream_.get());
  CUDA_CHECK(cudaMemcpyAsync(device_[slot].data(), out, static_cast<size_t>(rows) * row_bytes_,
                             cudaMemcpyHostToDevice, copy_stream_.get()));
  uploaded_[slot].record(copy_stream_.get());
  prefetched_ = chunk;
}

void StreamedData::gather(int64_t b, int64_t rows, float* x, const int64_t* /*device_batch*/,
                          cudaStream_t compute) {
  const int64_t chunk = b / batches_per_chunk_;
  const int64_t local = b % batches_per_chunk_;
  const int64_t chunks = (steps() + batches_per_chunk_ - 1) / batches_per_chunk_;
  const size_t slot = static_cast<size_t>(chunk % 2);
  if (local == 0 || prefetched_ < chunk) {
    if (prefetched_ < chunk) prefetch(chunk, compute);
    uploaded_[slot].wait_on(compute);
    // Overlap: the next chunk is gathered on the host and uploaded while this one trains.
    if (chunk + 1 < chunks && prefetched_ < chunk + 1) prefetch(chunk + 1, compute);
  }
  const int64_t chunk_first_row = chunk * batches_per_chunk_ * batch_size_;
  kernels::GatherParams p;
  p.data = device_[slot].data();
  p.data_u8 = data_.dtype() == DType::u8;
  p.data_rows = std::min(batches_per_chunk_ * batch_size_, data_.rows() - chunk_first_row);
  p.cols = static_cast<int>(data_.cols());
  p.out = x;
  p.rows = rows;
  p.batch_size = batch_size_;
  p.batch_index = local_batch_.data() + local;  // the batch's index within the chunk
  p.shuffle = false;                             // the host already laid the chunk out in batch order
  kernels::gather_rows(p, compute);
  if (local == batches_per_chunk_ - 1 || b == steps() - 1) consumed_[slot].record(compute);
}

}  // namespace cuae::cuda
