// The CUDA backend's epochs and data-set evaluation (see cuda_backend_impl.h): choosing a resident
// or streamed batch source, training an epoch with one loss read-back (or one per progress report),
// and evaluating a data set kept on the device.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "cuae/error.h"
#include "cuda/cuda_backend_impl.h"
#include "cuda/cuda_check.h"

namespace cuae::cuda {

BatchSource& CudaBackend::source_for(const Dataset& data, const EpochPlan& plan) {
  if (source_ && source_->serves(data, plan.batch_size)) return *source_;
  stream_.synchronize();  // the old source may still be read by queued gathers
  source_.reset();        // and its memory counts as free for the new one
  const auto [free_bytes, total_bytes] = memory_info();
  const size_t usable = usable_bytes(free_bytes);
  const size_t budget = data_budget(free_bytes);
  if (data.size_bytes() <= budget) {
    source_ = std::make_unique<ResidentData>(data, stream_.get());
    return *source_;
  }
  const size_t batch_bytes = static_cast<size_t>(plan.batch_size * data.cols()) * data.element_size();
  if (2 * batch_bytes > usable) {
    throw OutOfMemoryError("train_epoch on " + where() + ": data set " + data.name() + " (" +
                           bytes_str(data.size_bytes()) + ") cannot stay resident, and streaming it needs two " +
                           "batch buffers of " + bytes_str(batch_bytes) + "; only " + bytes_str(free_bytes) +
                           " free of " + bytes_str(total_bytes));
  }
  source_ = std::make_unique<StreamedData>(data, plan.batch_size, std::max(budget / 2, batch_bytes));
  return *source_;
}

double CudaBackend::read_losses(int64_t from, int64_t to, int64_t batch_size, int64_t total_rows) {
  if (to <= from) return 0;
  CUDA_CHECK(cudaMemcpyAsync(host_losses_.data() + from, net_.losses() + from,
                             static_cast<size_t>(to - from) * sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  stream_.synchronize();
  double sum = 0;
  for (int64_t b = from; b < to; ++b) {
    const int64_t rows = std::min(batch_size, total_rows - b * batch_size);
    sum += static_cast<double>(host_losses_.data()[b]) * static_cast<double>(rows);
  }
  return sum;
}

ResidentData* CudaBackend::resident_eval_data(const Dataset& data) {
  if (eval_data_ && eval_data_->serves(data, 0)) return eval_data_.get();
  stream_.synchronize();  // queued gathers may still read the old copy
  eval_data_.reset();
  if (data.size_bytes() > data_budget(memory_info().first)) return nullptr;
  eval_data_ = std::make_unique<ResidentData>(data, stream_.get());
  return eval_data_.get();
}

// Evaluation with the data set on the device: per batch, the gather kernel fills the input rows and
// the loss kernel writes the batch's loss sum to its own slot; one read-back at the end. Batches are
// at most kInferenceRows rows, as in loss_sum, to bound the activation memory.
double CudaBackend::dataset_loss_sum(const Dataset& data, int64_t batch_size) {
  activate();
  check_width(data.cols(), layout_.input_dim(), "evaluate (" + data.name() + ")");
  if (batch_size <= 0) throw Error("evaluate: batch size must be > 0, got " + std::to_string(batch_size));
  if (data.rows() == 0) return 0;
  ResidentData* resident = resident_eval_data(data);
  if (resident == nullptr) return Backend::dataset_loss_sum(data, batch_size);  // host rows, chunk by chunk
  const int64_t rows_per_batch = std::min({batch_size, kInferenceRows, data.rows()});
  const int64_t batches = (data.rows() + rows_per_batch - 1) / rows_per_batch;
  prepare(rows_per_batch, 0, "evaluate");
  if (static_cast<int64_t>(eval_batch_indices_.size()) < batches) {
    std::vector<int64_t> indices(static_cast<size_t>(batches));
    for (int64_t b = 0; b < batches; ++b) indices[static_cast<size_t>(b)] = b;
    eval_batch_indices_ = DeviceBuffer<int64_t>(indices.size(), "evaluation batch indices");
    eval_batch_indices_.upload(indices, stream_.get());
    eval_losses_ = DeviceBuffer<float>(indices.size(), "evaluation losses");
    stream_.synchronize();  // `indices` is about to go
  }
  EpochPlan plan;
  plan.batch_size = rows_per_batch;
  plan.shuffle = false;
  resident->begin_epoch(plan);
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t rows = std::min(rows_per_batch, data.rows() - b * rows_per_batch);
    resident->gather(b, rows, net_.input(), eval_batch_indices_.data() + b, stream_.get());
    net_.enqueue_loss_sum(rows, eval_losses_.data() + b);
  }
  std::vector<float> losses(static_cast<size_t>(batches));
  CUDA_CHECK(cudaMemcpyAsync(losses.data(), eval_losses_.data(), losses.size() * sizeof(float),
                             cudaMemcpyDeviceToHost, stream_.get()));
  stream_.synchronize();
  double sum = 0;
  for (const float loss : losses) sum += loss;
  return sum;
}

EpochResult CudaBackend::train_epoch(const Dataset& data, const EpochPlan& plan, const ProgressFn& progress) {
  activate();
  check_width(data.cols(), layout_.input_dim(), "train_epoch (" + data.name() + ")");
  if (plan.batch_size <= 0) throw Error("train_epoch: batch size must be > 0, got " + std::to_string(plan.batch_size));
  EpochResult result;
  const int64_t rows = data.rows();
  const int64_t steps = (rows + plan.batch_size - 1) / plan.batch_size;
  if (steps == 0) return result;
  if (plan.first_batch < 0 || (plan.first_batch > 0 && plan.first_batch >= steps)) {
    throw Error("train_epoch: first batch " + std::to_string(plan.first_batch) + " is outside the epoch of " +
                std::to_string(steps) + " batches of " + data.name());
  }
  prepare(std::min(plan.batch_size, rows), steps, "train_epoch");
  BatchSource& source = source_for(data, plan);
  source.begin_epoch(plan);
  // The gather and loss kernels index by the device batch counter; a resumed epoch starts it at the
  // first batch not yet trained. An async copy from pageable memory is staged before the call
  // returns, so the source may live on the stack, and stream order keeps it after earlier steps.
  CUDA_CHECK(cudaMemcpyAsync(net_.batch_counter(), &plan.first_batch, sizeof(int64_t), cudaMemcpyHostToDevice,
                             stream_.get()));
  int64_t read = plan.first_batch;  // losses[b] is written by batch b; [first_batch, read) are summed
  for (int64_t b = plan.first_batch; b < steps; ++b) {
    if (plan.stop != nullptr && plan.stop->load(std::memory_order_relaxed)) {  // between steps, as the CPU backend
      result.stopped = true;
      break;
    }
    const int64_t batch_rows = std::min(plan.batch_size, rows - b * plan.batch_size);
    source.gather(b, batch_rows, net_.input(), net_.batch_counter(), stream_.get());
    // Full batches replay the captured step; the last partial batch runs eagerly.
    run_step(batch_rows, options_.cuda_graphs && batch_rows == plan.batch_size);
    ++result.steps;
    result.samples += batch_rows;
    if (progress && plan.progress_every > 0 && result.steps % plan.progress_every == 0) {
      result.loss_sum += read_losses(read, b + 1, plan.batch_size, rows);
      read = b + 1;
      progress(result.steps, result.loss_sum / static_cast<double>(result.samples));
    }
  }
  result.loss_sum += read_losses(read, plan.first_batch + result.steps, plan.batch_size, rows);
  return result;
}

}  // namespace cuae::cuda
