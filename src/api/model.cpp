// cuae::Model: checks shapes and arguments, owns the config, layout and epoch bookkeeping, and
// forwards the maths to its Backend (src/engine/backend.h).
#include "cuae/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "engine/backend.h"
#include "io/checkpoint.h"
#include "cuae/error.h"
#include "engine/init.h"
#include "kernels/common/random.cuh"

namespace cuae {

namespace {

// Rows per forward call in encode/decode/reconstruct: bounds the host buffers of a backend.
constexpr int64_t kForwardChunkRows = 4096;

std::string shape(int64_t rows, int64_t cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

void check_view(const char* op, MatrixView view, int64_t expected_cols, const char* what) {
  if (view.rows < 0 || view.cols < 0 || (view.data == nullptr && view.rows * view.cols != 0)) {
    throw ShapeError(std::string(op) + ": invalid " + what + " view " + shape(view.rows, view.cols));
  }
  if (view.cols != expected_cols) {
    throw ShapeError(std::string(op) + ": " + what + " has " + std::to_string(view.cols) + " features, model expects " +
                     std::to_string(expected_cols));
  }
}

// "<op>: <kind> <name> has C features, model expects D" when a data set does not fit the model.
void check_data_set(const char* op, const char* kind, const Dataset& data, int64_t expected_cols) {
  if (data.cols() != expected_cols) {
    throw ShapeError(std::string(op) + ": " + kind + " " + data.name() + " has " + std::to_string(data.cols()) +
                     " features, model expects " + std::to_string(expected_cols));
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

struct Model::Impl {
  ModelConfig config;
  ParameterLayout layout;
  Device device;
  std::unique_ptr<Backend> backend;
  int64_t step = 0;
  int64_t epochs_done = 0;  // completed epochs: the next epoch's shuffle key is epoch_shuffle_key(seed, epochs_done)
  int64_t samples_in_epoch = 0;  // rows of the next epoch trained before fit was stopped

  // Layers [first, last) on rows of `in`, chunked so a backend never sees more than a few thousand rows.
  Matrix forward(const char* op, MatrixView in, int first, int last) {
    const int64_t in_cols = layout.layers[static_cast<size_t>(first)].in;
    const int64_t out_cols = layout.layers[static_cast<size_t>(last) - 1].out;
    check_view(op, in, in_cols, "input");
    Matrix out(in.rows, out_cols);
    for (int64_t row = 0; row < in.rows; row += kForwardChunkRows) {
      const int64_t count = std::min(kForwardChunkRows, in.rows - row);
      backend->forward({in.data + row * in.cols, count, in.cols}, first, last, out.row(row));
    }
    return out;
  }

  Matrix forward(const char* op, const Dataset& data, int first, int last) {
    check_data_set(op, "data set", data, layout.layers[static_cast<size_t>(first)].in);
    Matrix out(data.rows(), layout.layers[static_cast<size_t>(last) - 1].out);
    std::vector<float> rows(static_cast<size_t>(std::min(kForwardChunkRows, data.rows()) * data.cols()));
    for (int64_t row = 0; row < data.rows(); row += kForwardChunkRows) {
      const int64_t count = std::min(kForwardChunkRows, data.rows() - row);
      data.copy_rows(row, count, rows.data());
      backend->forward({rows.data(), count, data.cols()}, first, last, out.row(row));
    }
    return out;
  }
};

Model::Model(ModelConfig config, Device device, BackendOptions options) : impl_(std::make_unique<Impl>()) {
  config.validate();
  impl_->layout = make_layout(config);
  impl_->config = std::move(config);
  impl_->device = device;
  impl_->backend = create_backend(impl_->config, impl_->layout, device, options);
  impl_->backend->write_parameters(initial_parameters(impl_->config, impl_->layout));
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const ModelConfig& Model::config() const { return impl_->config; }
const ParameterLayout& Model::layout() const { return impl_->layout; }
Device Model::device() const { return impl_->device; }
int64_t Model::input_dim() const { return impl_->layout.input_dim(); }
int64_t Model::code_dim() const { return impl_->layout.code_dim(); }
int64_t Model::step() const { return impl_->step; }
int64_t Model::epochs_completed() const { return impl_->epochs_done; }
int64_t Model::samples_into_epoch() const { return impl_->samples_in_epoch; }

float Model::train_step(MatrixView batch) {
  check_view("train_step", batch, input_dim(), "batch");
  if (batch.rows == 0) throw ShapeError("train_step: batch has 0 rows");
  const float loss = impl_->backend->train_step(batch);
  ++impl_->step;
  return loss;
}

History Model::fit(const Dataset& train, const FitOptions& options, const FitCallback& callback) {
  check_data_set("fit", "training set", train, input_dim());
  if (train.rows() == 0) throw ShapeError("fit: training set " + train.name() + " has 0 rows");
  if (options.batch_size < 1) throw Error("fit: batch size must be >= 1, got " + std::to_string(options.batch_size));
  if (options.epochs < 0) throw Error("fit: epochs must be >= 0, got " + std::to_string(options.epochs));
  if (options.eval_batch_size < 1) {
    throw Error("fit: eval batch size must be >= 1, got " + std::to_string(options.eval_batch_size));
  }
  if (options.progress_every < 0) {
    throw Error("fit: progress_every must be >= 0, got " + std::to_string(options.progress_every));
  }
  if (options.validation) check_data_set("fit", "validation set", *options.validation, input_dim());

  Impl& m = *impl_;
  if (m.samples_in_epoch % options.batch_size != 0 || m.samples_in_epoch >= train.rows()) {
    throw Error("fit: the model stopped " + std::to_string(m.samples_in_epoch) + " rows into epoch " +
                std::to_string(m.epochs_done + 1) + ", which is not a whole number of batches of batch size " +
                std::to_string(options.batch_size) + " within " + train.name() + " (" + std::to_string(train.rows()) +
                " rows); resume with the batch size and data it was trained with");
  }
  if (m.samples_in_epoch > 0 && !m.backend->resumes_mid_epoch()) {
    throw Error("fit: resuming " + std::to_string(m.samples_in_epoch) + " rows into epoch " +
                std::to_string(m.epochs_done + 1) + " is not supported on " + m.device.str() + " yet");
  }

  History history;
  // Batches include the final partial one, as PyTorch's DataLoader does by default.
  const int64_t steps_per_epoch = (train.rows() + options.batch_size - 1) / options.batch_size;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    if (options.stop && options.stop->load()) {
      history.stopped_early = true;
      break;
    }
    // Where this epoch starts: an interrupted one continues with its own shuffle and next batch.
    const int64_t step_before = m.step, first_batch = m.samples_in_epoch / options.batch_size;
    EpochPlan plan;
    plan.batch_size = options.batch_size;
    plan.shuffle = options.shuffle;
    plan.shuffle_key = rng::epoch_shuffle_key(m.config.seed, m.epochs_done);
    plan.progress_every = callback ? options.progress_every : 0;
    plan.stop = options.stop;
    plan.first_batch = first_batch;
    // Brings step / epochs_done / samples_in_epoch up to `steps_done` steps of this call, so that a
    // callback (e.g. one that saves a checkpoint) sees the model as it stands.
    const auto advance = [&m, &train, step_before, first_batch, batch = options.batch_size](int64_t steps_done) {
      m.step = step_before + steps_done;
      m.samples_in_epoch = (first_batch + steps_done) * batch;
      if (m.samples_in_epoch >= train.rows()) {
        ++m.epochs_done;
        m.samples_in_epoch = 0;
      }
    };
    const auto start = std::chrono::steady_clock::now();
    ProgressFn progress;
    if (plan.progress_every > 0) {
      progress = [&](int64_t steps_done, double running_loss) {
        advance(steps_done);
        FitEvent event;
        event.kind = FitEvent::Kind::progress;
        event.epoch = epoch;
        event.step_in_epoch = first_batch + steps_done;
        event.steps_per_epoch = steps_per_epoch;
        event.running_loss = running_loss;
        const int64_t samples = std::min(steps_done * options.batch_size, train.rows());
        event.samples_per_second = static_cast<double>(samples) / std::max(seconds_since(start), 1e-9);
        callback(event);
      };
    }
    const int64_t epochs_before = m.epochs_done;
    const EpochResult result = m.backend->train_epoch(train, plan, progress);
    m.epochs_done = epochs_before;
    advance(result.steps);
    if (result.non_finite_step > 0) {
      throw Error("fit: the loss became non-finite (NaN or Inf) at step " + std::to_string(step_before +
                  result.non_finite_step) + " (epoch " + std::to_string(epochs_before + 1) + ", batch " +
                  std::to_string(first_batch + result.non_finite_step) + " of " + std::to_string(steps_per_epoch) +
                  " on " + train.name() + "); lower the learning rate or clip gradients");
    }
    if (!std::isfinite(result.loss_sum)) {
      throw Error("fit: the loss became non-finite (NaN or Inf) during epoch " + std::to_string(epochs_before + 1) +
                  " (steps " + std::to_string(step_before + 1) + " to " + std::to_string(m.step) + " on " +
                  train.name() + "); lower the learning rate or clip gradients");
    }

    EpochStats stats;
    stats.epoch = epoch;
    stats.seconds = seconds_since(start);
    stats.train_loss = result.samples > 0 ? result.loss_sum / static_cast<double>(result.samples)
                                          : std::numeric_limits<double>::quiet_NaN();
    stats.samples_per_second = static_cast<double>(result.samples) / std::max(stats.seconds, 1e-9);
    stats.val_loss = options.validation ? evaluate(*options.validation, options.eval_batch_size)
                                        : std::numeric_limits<double>::quiet_NaN();
    history.epochs.push_back(stats);
    if (callback) {
      FitEvent event;
      event.kind = FitEvent::Kind::epoch_end;
      event.epoch = epoch;
      event.step_in_epoch = first_batch + result.steps;
      event.steps_per_epoch = steps_per_epoch;
      event.running_loss = stats.train_loss;
      event.samples_per_second = stats.samples_per_second;
      event.stats = stats;
      callback(event);
    }
    if (result.stopped) {
      history.stopped_early = true;
      break;
    }
  }
  return history;
}

double Model::evaluate(const Dataset& data, int64_t batch_size) {
  check_data_set("evaluate", "data set", data, input_dim());
  if (data.rows() == 0) throw ShapeError("evaluate: data set " + data.name() + " has 0 rows");
  if (batch_size < 1) throw Error("evaluate: batch size must be >= 1, got " + std::to_string(batch_size));
  return impl_->backend->dataset_loss_sum(data, batch_size) / static_cast<double>(data.rows() * data.cols());
}

double Model::evaluate(MatrixView data) {
  check_view("evaluate", data, input_dim(), "data");
  if (data.rows == 0) throw ShapeError("evaluate: data has 0 rows");
  double sum = 0;
  for (int64_t row = 0; row < data.rows; row += kForwardChunkRows) {
    const int64_t count = std::min(kForwardChunkRows, data.rows - row);
    sum += impl_->backend->loss_sum({data.data + row * data.cols, count, data.cols});
  }
  return sum / static_cast<double>(data.rows * data.cols);
}

Matrix Model::encode(MatrixView data) { return impl_->forward("encode", data, 0, impl_->layout.encoder_layers); }
Matrix Model::decode(MatrixView codes) {
  return impl_->forward("decode", codes, impl_->layout.encoder_layers, static_cast<int>(impl_->layout.layers.size()));
}
Matrix Model::reconstruct(MatrixView data) {
  return impl_->forward("reconstruct", data, 0, static_cast<int>(impl_->layout.layers.size()));
}
Matrix Model::encode(const Dataset& data) { return impl_->forward("encode", data, 0, impl_->layout.encoder_layers); }
Matrix Model::reconstruct(const Dataset& data) {
  return impl_->forward("reconstruct", data, 0, static_cast<int>(impl_->layout.layers.size()));
}

std::vector<float> Model::parameters() const {
  std::vector<float> flat(static_cast<size_t>(impl_->layout.total_floats));
  impl_->backend->read_parameters(flat);
  return flat;
}

void Model::set_parameters(std::span<const float> flat) {
  const ParameterLayout& layout = impl_->layout;
  if (flat.size() != static_cast<size_t>(layout.total_floats)) {
    throw ShapeError("set_parameters: got " + std::to_string(flat.size()) + " floats, layout has " +
                     std::to_string(layout.total_floats));
  }
  // Copy tensor by tensor so the padding floats stay zero whatever the caller passed.
  std::vector<float> clean(flat.size(), 0.0f);
  for (const LayerLayout& layer : layout.layers) {
    std::copy_n(flat.begin() + layer.weight_offset, layer.in * layer.out, clean.begin() + layer.weight_offset);
    std::copy_n(flat.begin() + layer.bias_offset, layer.out, clean.begin() + layer.bias_offset);
  }
  impl_->backend->write_parameters(clean);
}

OptimizerState Model::optimizer_state() const { return impl_->backend->read_optimizer_state(); }

void Model::set_optimizer_state(const OptimizerState& state) {
  const auto total = static_cast<size_t>(impl_->layout.total_floats);
  const size_t v_size = impl_->config.optimizer.kind == OptimizerKind::adam ? total : 0;
  if (state.m.size() != total || state.v.size() != v_size) {
    throw ShapeError("set_optimizer_state: m has " + std::to_string(state.m.size()) + " and v " +
                     std::to_string(state.v.size()) + " floats, " + std::string(to_string(impl_->config.optimizer.kind)) +
                     " needs " + std::to_string(total) + " and " + std::to_string(v_size));
  }
  if (state.step < 0) throw Error("set_optimizer_state: negative step " + std::to_string(state.step));
  impl_->backend->write_optimizer_state(state);
  impl_->step = state.step;
}

void Model::save(const std::filesystem::path& path) const {
  write_checkpoint(path, impl_->config, impl_->layout, parameters(), optimizer_state(), impl_->epochs_done,
                   impl_->samples_in_epoch);
}

Model Model::load(const std::filesystem::path& path, Device device, BackendOptions options) {
  Checkpoint checkpoint = read_checkpoint(path);
  Model model(checkpoint.config, device, options);
  model.set_parameters(checkpoint.parameters);
  if (checkpoint.has_optimizer_state) {
    model.set_optimizer_state(checkpoint.optimizer);
  } else {
    model.impl_->step = checkpoint.optimizer.step;
  }
  model.impl_->epochs_done = checkpoint.epochs;
  model.impl_->samples_in_epoch = checkpoint.samples_in_epoch;
  return model;
}

}  // namespace cuae
