// Where the batches of a CUDA training epoch come from.
//
// ResidentData: the whole data set uploaded once, in its own dtype (uint8 stays uint8, a quarter of
// the float32 size), and kept across epochs. Batch b is gathered on the device by the gather kernel
// with the epoch's shuffle key, reading b from device memory, so no host work happens per step.
//
// StreamedData: for a data set larger than the device memory budget. The epoch is cut into chunks of
// whole batches. For each chunk the host copies the chunk's rows, in batch order and already shuffled
// with the same permutation (rng::permute_index), into pinned memory; an async copy on a second
// stream moves it to one of two device buffers while the compute stream trains on the other. The
// device gather then reads the chunk in order. Both sources therefore feed the SAME batches in the
// same order: a streamed epoch computes exactly what a resident one does.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backend.h"
#include "cuae/dataset.h"
#include "cuda/device_buffer.h"
#include "cuda/stream.h"

namespace cuae::cuda {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Starts an epoch; waits for any copy still in flight from an earlier epoch.
  virtual void begin_epoch(const EpochPlan& plan) = 0;
  // Enqueues on `compute` the gather of batch b (rows rows) into x. `device_batch` holds b in device
  // memory (the optimizer step state's batch counter).
  virtual void gather(int64_t b, int64_t rows, float* x, const int64_t* device_batch, cudaStream_t compute) = 0;
  // Whether this source was built for `data` (same storage, size and type).
  virtual bool serves(const Dataset& data, int64_t batch_size) const = 0;
};

class ResidentData final : public BatchSource {
 public:
  ResidentData(const Dataset& data, cudaStream_t stream);
  void begin_epoch(const EpochPlan& plan) override { plan_ = plan; }
  void gather(int64_t b, int64_t rows, float* x, const int64_t* device_batch, cudaStream_t compute) override;
  bool serves(const Dataset& data, int64_t batch_size) const override;

 private:
  // The uploaded data set. Holding it keeps its storage alive, so the cache key (its address) cannot
  // be reused by a different data set while this copy exists.
  Dataset data_;
  DeviceBuffer<unsigned char> bytes_;
  EpochPlan plan_;
};

class StreamedData final : public BatchSource {
 public:
  // chunk_bytes: device bytes for ONE of the two chunk buffers (at least one batch).
  StreamedData(const Dataset& data, int64_t batch_size, size_t chunk_bytes);
  ~StreamedData() override;
  StreamedData(const StreamedData&) = delete;
  StreamedData& operator=(const StreamedData&) = delete;

  void begin_epoch(const EpochPlan& plan) override;
  void gather(int64_t b, int64_t rows, float* x, const int64_t* device_batch, cudaStream_t compute) override;
  bool serves(const Dataset& data, int64_t batch_size) const override;
  int64_t batches_per_chunk() const { return batches_per_chunk_; }

 private:
  // Host-gathers chunk c into pinned buffer c % 2 and enqueues its upload on the copy stream.
  void prefetch(int64_t chunk, cudaStream_t compute);
  int64_t steps() const { return (data_.rows() + batch_size_ - 1) / batch_size_; }

  Dataset data_;
  int64_t batch_size_;
  int64_t batches_per_chunk_;
  size_t row_bytes_;
  EpochPlan plan_;
  Stream copy_stream_;
  PinnedBuffer<unsigned char> host_[2];
  DeviceBuffer<unsigned char> device_[2];
  Event uploaded_[2];  // chunk in device_[i] has arrived
  Event consumed_[2];  // compute has gathered everything from device_[i]
  DeviceBuffer<int64_t> local_batch_;  // 0, 1, ..., batches_per_chunk - 1: batch indices within a chunk
  int64_t prefetched_ = -1;  // last chunk whose upload was enqueued this epoch
};

}  // namespace cuae::cuda
