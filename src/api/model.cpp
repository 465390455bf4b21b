// cuae::Model: the boundary where every user input is checked, once, before it reaches the engine.
// It owns a ready backend (engine/backend_factory.h), the training position and the run description,
// and hands fitting to the Trainer (engine/trainer.h).
#include "cuae/model.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "cuae/error.h"
#include "engine/backend_factory.h"
#include "engine/trainer.h"
#include "io/checkpoint.h"

namespace cuae {

namespace {

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

void check_positive(const char* op, const char* what, int64_t value) {
  if (value < 1) throw Error(std::string(op) + ": " + what + " must be >= 1, got " + std::to_string(value));
}

// Host rows the caller owns, seen as a Dataset for the length of one call (no copy).
class BorrowedRows final : public DatasetStorage {
 public:
  explicit BorrowedRows(MatrixView view) : view_(view) {}
  const void* data() const override { return view_.data; }
  size_t size_bytes() const override { return static_cast<size_t>(view_.rows * view_.cols) * sizeof(float); }

 private:
  MatrixView view_;
};

Dataset borrow(MatrixView view, const char* what) {
  return Dataset(std::make_shared<BorrowedRows>(view), 0, DType::f32, view.rows, view.cols, what);
}

}  // namespace

struct Model::Impl {
  ReadyBackend engine;
  Device device;
  TrainingState state;
  RunConfig run;

  Backend& backend() const { return *engine.backend; }
  const ParameterLayout& layout() const { return engine.layout; }

  // Layers [first, last) on the rows of `data`, at most kMaxRowsPerCall rows per backend call.
  Matrix forward(const Dataset& data, int first, int last) {
    Matrix out(data.rows(), layout().layers[static_cast<size_t>(last) - 1].out);
    std::vector<float> rows(static_cast<size_t>(std::min(kMaxRowsPerCall, data.rows()) * data.cols()));
    for (int64_t row = 0; row < data.rows(); row += kMaxRowsPerCall) {
      const int64_t count = std::min(kMaxRowsPerCall, data.rows() - row);
      const float* in = rows.data();
      if (data.dtype() == DType::f32) {
        in = static_cast<const float*>(data.raw()) + row * data.cols();  // no staging copy for float rows
      } else {
        data.copy_rows(row, count, rows.data());
      }
      backend().forward({in, count, data.cols()}, first, last, out.row(row));
    }
    return out;
  }

  Matrix forward(const char* op, MatrixView in, int first, int last) {
    check_view(op, in, layout().layers[static_cast<size_t>(first)].in, "input");
    return forward(borrow(in, "input"), first, last);
  }

  Matrix forward(const char* op, const Dataset& data, int first, int last) {
    check_data_set(op, "data set", data, layout().layers[static_cast<size_t>(first)].in);
    return forward(data, first, last);
  }

  double mean_loss(const Dataset& data, int64_t batch_size) {
    const double sum = backend().loss_sum(data, std::min(batch_size, kMaxRowsPerCall));
    return sum / static_cast<double>(data.rows() * data.cols());
  }
};

Model::Model(ModelConfig config, Device device, BackendOptions options)
    : impl_(std::make_unique<Impl>(Impl{make_ready_backend(config, device, options), device, {}, {}})) {
  impl_->run.model = impl_->engine.config;
  impl_->run.device = device.str();
  impl_->run.backend = options;
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const ModelConfig& Model::config() const { return impl_->engine.config; }
const ParameterLayout& Model::layout() const { return impl_->engine.layout; }
Device Model::device() const { return impl_->device; }
int64_t Model::input_dim() const { return layout().input_dim(); }
int64_t Model::code_dim() const { return layout().code_dim(); }
int64_t Model::step() const { return impl_->backend().step(); }
int64_t Model::epochs_completed() const { return impl_->state.epochs_completed; }
int64_t Model::samples_into_epoch() const { return impl_->state.samples_into_epoch; }
const TrainingState& Model::training_state() const { return impl_->state; }
const RunConfig& Model::run_config() const { return impl_->run; }

void Model::set_run_config(const RunConfig& run) {
  impl_->run = run;
  impl_->run.model = config();
}

float Model::train_step(MatrixView batch) {
  check_view("train_step", batch, input_dim(), "batch");
  if (batch.rows == 0) throw ShapeError("train_step: batch has 0 rows");
  if (config().loss == Loss::bce) check_bce_targets(borrow(batch, "batch"), "train_step");
  return impl_->backend().train_step(batch);
}

History Model::fit(const Dataset& train, const FitOptions& options, const FitCallback& callback) {
  check_data_set("fit", "training set", train, input_dim());
  if (train.rows() == 0) throw ShapeError("fit: training set " + train.name() + " has 0 rows");
  check_fit_options(options);
  if (config().loss == Loss::bce) check_bce_targets(train, "fit");
  // Keras validation_split: the last rows, before any shuffling, unless a validation set is given.
  Dataset training = train, held_out;
  FitOptions fitting = options;
  if (!options.validation && options.validation_split > 0) {
    const auto keep = static_cast<int64_t>(std::llround(static_cast<double>(train.rows()) * (1 - options.validation_split)));
    if (keep < 1 || keep >= train.rows()) {
      throw ShapeError("fit: validation_split " + std::to_string(options.validation_split) + " of " + train.name() +
                       " (" + std::to_string(train.rows()) + " rows) leaves no training or no validation rows");
    }
    training = train.slice(0, keep);
    held_out = train.slice(keep, train.rows() - keep);
    fitting.validation = &held_out;
  }
  if (fitting.validation) {
    check_data_set("fit", "validation set", *fitting.validation, input_dim());
    if (fitting.validation->rows() == 0) {
      throw ShapeError("fit: validation set " + fitting.validation->name() + " has 0 rows");
    }
    if (config().loss == Loss::bce) check_bce_targets(*fitting.validation, "fit");
  }
  const bool watches = options.early_stopping.patience > 0 || options.lr_schedule.kind == LrSchedule::Kind::plateau;
  if (watches && options.early_stopping.monitor_validation && !fitting.validation) {
    throw Error("fit: early stopping and plateau schedules monitor val_loss, but there is no validation set; give "
                "one (or a validation_split), or monitor loss");
  }
  const TrainingState& at = impl_->state;
  if (at.samples_into_epoch % options.batch_size != 0 || at.samples_into_epoch >= training.rows()) {
    throw Error("fit: the model stopped " + std::to_string(at.samples_into_epoch) + " rows into epoch " +
                std::to_string(at.epochs_completed + 1) + ", which is not a whole number of batches of batch size " +
                std::to_string(options.batch_size) + " within " + training.name() + " (" + std::to_string(training.rows()) +
                " rows); resume with the batch size and data it was trained with");
  }
  RunConfig& run = impl_->run;
  run.fit.epochs = options.epochs;
  run.fit.batch_size = options.batch_size;
  run.fit.shuffle = options.shuffle;
  run.fit.eval_batch_size = options.eval_batch_size;
  run.fit.validation_split = options.validation_split;
  run.fit.lr_schedule = options.lr_schedule;
  run.fit.early_stopping = options.early_stopping;
  Trainer trainer(impl_->backend(), config(), layout().total_floats, impl_->state,
                  [this](const Dataset& data, int64_t batch_size) { return impl_->mean_loss(data, batch_size); });
  return trainer.fit(training, fitting, callback);
}

double Model::evaluate(const Dataset& data, int64_t batch_size) {
  check_data_set("evaluate", "data set", data, input_dim());
  if (data.rows() == 0) throw ShapeError("evaluate: data set " + data.name() + " has 0 rows");
  check_positive("evaluate", "batch size", batch_size);
  if (config().loss == Loss::bce) check_bce_targets(data, "evaluate");
  return impl_->mean_loss(data, batch_size);
}

double Model::evaluate(MatrixView data) {
  check_view("evaluate", data, input_dim(), "data");
  if (data.rows == 0) throw ShapeError("evaluate: data has 0 rows");
  const Dataset rows = borrow(data, "data");
  if (config().loss == Loss::bce) check_bce_targets(rows, "evaluate");
  return impl_->mean_loss(rows, kMaxRowsPerCall);
}

Matrix Model::encode(MatrixView data) { return impl_->forward("encode", data, 0, layout().encoder_layers); }
Matrix Model::decode(MatrixView codes) {
  return impl_->forward("decode", codes, layout().encoder_layers, static_cast<int>(layout().layers.size()));
}
Matrix Model::reconstruct(MatrixView data) {
  return impl_->forward("reconstruct", data, 0, static_cast<int>(layout().layers.size()));
}
Matrix Model::encode(const Dataset& data) { return impl_->forward("encode", data, 0, layout().encoder_layers); }
Matrix Model::reconstruct(const Dataset& data) {
  return impl_->forward("reconstruct", data, 0, static_cast<int>(layout().layers.size()));
}

std::vector<float> Model::parameters() const {
  std::vector<float> flat(static_cast<size_t>(layout().total_floats));
  impl_->backend().read_parameters(flat);
  return flat;
}

void Model::set_parameters(std::span<const float> flat) {
  if (flat.size() != static_cast<size_t>(layout().total_floats)) {
    throw ShapeError("set_parameters: got " + std::to_string(flat.size()) + " floats, layout has " +
                     std::to_string(layout().total_floats));
  }
  // Copy tensor by tensor so the padding floats stay zero whatever the caller passed.
  std::vector<float> clean(flat.size(), 0.0f);
  for (const LayerLayout& layer : layout().layers) {
    std::copy_n(flat.begin() + layer.weight_offset, layer.in * layer.out, clean.begin() + layer.weight_offset);
    std::copy_n(flat.begin() + layer.bias_offset, layer.out, clean.begin() + layer.bias_offset);
  }
  impl_->backend().write_parameters(clean);
}

OptimizerState Model::optimizer_state() const { return impl_->backend().read_optimizer_state(); }

void Model::set_optimizer_state(const OptimizerState& state) {
  const auto total = static_cast<size_t>(layout().total_floats);
  const size_t v_size = config().optimizer.kind == OptimizerKind::adam ? total : 0;
  if (state.m.size() != total || state.v.size() != v_size) {
    throw ShapeError("set_optimizer_state: m has " + std::to_string(state.m.size()) + " and v " +
                     std::to_string(state.v.size()) + " floats, " + std::string(to_string(config().optimizer.kind)) +
                     " needs " + std::to_string(total) + " and " + std::to_string(v_size));
  }
  if (state.step < 0) throw Error("set_optimizer_state: negative step " + std::to_string(state.step));
  impl_->backend().write_optimizer_state(state);
}

void Model::save(const std::filesystem::path& path) const {
  write_checkpoint(path, impl_->run, layout(), parameters(), optimizer_state(), impl_->state);
}

Model Model::load(const std::filesystem::path& path, Device device, BackendOptions options,
                  const CheckpointReadOptions& read) {
  Checkpoint checkpoint = read_checkpoint(path, read);
  Model model(checkpoint.run.model, device, options);
  model.set_run_config(checkpoint.run);  // the run it came from, as recorded
  model.set_parameters(checkpoint.parameters);
  if (checkpoint.has_optimizer_state) model.set_optimizer_state(checkpoint.optimizer);
  model.impl_->state = std::move(checkpoint.state);
  return model;
}

}  // namespace cuae
