// The CUDA backend's data (see cuda_backend_impl.h): a training set kept resident or streamed, the
// steps of an epoch queued without host synchronisation, loss read-backs, and evaluation of a data set
// kept on the device.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "cuae/error.h"
#include "cuda/cuda_backend_impl.h"
#include "cuda/cuda_check.h"

namespace cuae::cuda {

void CudaBackend::set_training_data(const Dataset& data, int64_t batch_size) {
  activate();
  if (source_ && source_->serves(data, batch_size)) return;
  stream_.synchronize();  // the old source may still be read by queued gathers
  source_.reset();        // and its memory counts as free for the new one
  const auto [free_bytes, total_bytes] = memory_info();
  const size_t usable = usable_bytes(free_bytes);
  const size_t budget = data_budget(free_bytes);
  if (data.size_bytes() <= budget) {
    source_ = std::make_unique<ResidentData>(data, stream_.get());
    return;
  }
  const size_t batch_bytes = static_cast<size_t>(batch_size * data.cols()) * data.element_size();
  if (2 * batch_bytes > usable) {
    throw OutOfMemoryError("fit on " + where() + ": data set " + data.name() + " (" + bytes_str(data.size_bytes()) +
                           ") cannot stay resident, and streaming it needs two batch buffers of " +
                           bytes_str(batch_bytes) + "; only " + bytes_str(free_bytes) + " free of " +
                           bytes_str(total_bytes));
  }
  source_ = std::make_unique<StreamedData>(data, batch_size, std::max(budget / 2, batch_bytes));
}

void CudaBackend::begin_epoch(const EpochPlan& plan) {
  activate();
  if (!plan.learning_rates.empty()) {
    throw Error("fit on " + where() + ": learning-rate schedules are not implemented on the CUDA backend yet; "
                "train with --device cpu, or without --lr-schedule");
  }
  plan_ = plan;
  prepare(std::min(plan.batch_size, plan.rows), plan.batches(), "fit");
  source_->begin_epoch(plan);
}

// The gather and loss kernels index by the device batch counter, which each step's optimizer_begin
// advances; so a run of batches needs the counter set once, and a resumed epoch starts it at the
// first batch not yet trained.
void CudaBackend::train_batches(int64_t first, int64_t count) {
  activate();
  set_device_batch(first);
  for (int64_t b = first; b < first + count; ++b) {
    const int64_t rows = plan_.rows_of(b);
    source_->gather(b, rows, net_.input(), net_.batch_counter(), stream_.get());
    // Full batches replay the captured step; the last partial batch runs eagerly.
    run_step(rows, options_.cuda_graphs && rows == plan_.batch_size);
  }
}

void CudaBackend::read_batch_losses(int64_t first, std::span<BatchLoss> out) {
  activate();
  if (out.empty()) return;
  CUDA_CHECK(cudaMemcpyAsync(host_losses_.data() + first, net_.losses() + first, out.size() * sizeof(float),
                             cudaMemcpyDeviceToHost, stream_.get()));
  stream_.synchronize();
  for (size_t b = 0; b < out.size(); ++b) {
    const float loss = host_losses_.data()[static_cast<size_t>(first) + b];
    out[b] = BatchLoss{loss, loss};  // no regulariser terms on this backend (yet)
  }
}

ResidentData* CudaBackend::resident_eval_data(const Dataset& data) {
  if (eval_data_ && eval_data_->serves(data, 0)) return eval_data_.get();
  stream_.synchronize();  // queued gathers may still read the old copy
  eval_data_.reset();
  if (data.size_bytes() > data_budget(memory_info().first)) return nullptr;
  eval_data_ = std::make_unique<ResidentData>(data, stream_.get());
  return eval_data_.get();
}

// A data set too large to keep: its rows go up chunk by chunk, one synchronisation each.
double CudaBackend::host_rows_loss_sum(const Dataset& data, int64_t batch_rows) {
  std::vector<float> rows(static_cast<size_t>(std::min(batch_rows, data.rows()) * data.cols()));
  double sum = 0;
  for (int64_t first = 0; first < data.rows(); first += batch_rows) {
    const int64_t count = std::min(batch_rows, data.rows() - first);
    data.copy_rows(first, count, rows.data());
    upload_rows(rows.data(), count, data.cols());
    net_.enqueue_loss_sum(count, eval_loss_.data());
    float part = 0;
    CUDA_CHECK(cudaMemcpyAsync(&part, eval_loss_.data(), sizeof(float), cudaMemcpyDeviceToHost, stream_.get()));
    stream_.synchronize();
    sum += part;
  }
  return sum;
}

// Evaluation with the data set on the device: per batch, the gather kernel fills the input rows and
// the loss kernel writes the batch's loss sum to its own slot; one read-back at the end.
double CudaBackend::loss_sum(const Dataset& data, int64_t batch_rows) {
  activate();
  if (data.rows() == 0) return 0;
  const int64_t rows_per_batch = std::min(batch_rows, data.rows());
  prepare(rows_per_batch, 0, "evaluate");
  ResidentData* resident = resident_eval_data(data);
  if (resident == nullptr) return host_rows_loss_sum(data, rows_per_batch);
  const int64_t batches = (data.rows() + rows_per_batch - 1) / rows_per_batch;
  if (static_cast<int64_t>(eval_batch_indices_.size()) < batches) {
    std::vector<int64_t> indices(static_cast<size_t>(batches));
    for (int64_t b = 0; b < batches; ++b) indices[static_cast<size_t>(b)] = b;
    eval_batch_indices_ = DeviceBuffer<int64_t>(indices.size(), "evaluation batch indices");
    eval_batch_indices_.upload(indices, stream_.get());
    eval_losses_ = DeviceBuffer<float>(indices.size(), "evaluation losses");
    stream_.synchronize();  // `indices` is about to go
  }
  resident->begin_epoch({data.rows(), rows_per_batch, /*shuffle=*/false, 0, {}});
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

}  // namespace cuae::cuda
