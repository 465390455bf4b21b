// The CPU backend: CpuNetwork<float> for the maths, optimizer_step for the update, and the epoch
// loop that gathers shuffled rows into one reused batch buffer.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "cpu/cpu_network.h"
#include "cpu/gemm.h"
#include "cpu/optimizer.h"
#include "cuae/error.h"
#include "kernels/common/random.cuh"

namespace cuae {

namespace {

int resolve_threads(int requested) { return requested > 0 ? requested : std::max(omp_get_num_procs(), 1); }

std::string shape(int64_t rows, int64_t cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

class CpuBackend final : public Backend {
 public:
  CpuBackend(const ModelConfig& config, const ParameterLayout& layout, const BackendOptions& options)
      : optimizer_(config.optimizer),
        threads_(resolve_threads(options.cpu_threads)),
        net_(config, layout, threads_),
        m_(static_cast<size_t>(layout.total_floats), 0.0f),
        v_(optimizer_.kind == OptimizerKind::adam ? static_cast<size_t>(layout.total_floats) : 0, 0.0f) {
    use_threads();
  }

  Device device() const override { return Device::cpu(); }
  bool resumes_mid_epoch() const override { return true; }

  void write_parameters(std::span<const float> flat) override {
    check_flat("write_parameters", flat.size());
    std::copy(flat.begin(), flat.end(), net_.parameters().begin());
  }
  void read_parameters(std::span<float> flat) const override {
    check_flat("read_parameters", flat.size());
    std::copy(net_.parameters().begin(), net_.parameters().end(), flat.begin());
  }

  void write_optimizer_state(const OptimizerState& state) override {
    check_flat("write_optimizer_state (m)", state.m.size());
    if (state.v.size() != v_.size())
      throw ShapeError("write_optimizer_state: v has " + std::to_string(state.v.size()) + " floats, " +
                       std::string(to_string(optimizer_.kind)) + " needs " + std::to_string(v_.size()));
    if (state.step < 0) throw Error("write_optimizer_state: negative step " + std::to_string(state.step));
    m_ = state.m;
    v_ = state.v;
    step_ = state.step;
  }
  OptimizerState read_optimizer_state() const override { return {step_, m_, v_}; }

  float train_step(MatrixView batch) override {
    check_batch("train_step", batch);
    use_threads();
    return step(batch.data, batch.rows);
  }

  double loss_sum(MatrixView batch) override {
    check_batch("loss_sum", batch);
    use_threads();
    return net_.loss_sum(batch.data, batch.rows);
  }

  void forward(MatrixView in, int first_layer, int last_layer, float* out) override {
    const auto& layers = net_.layout().layers;
    if (first_layer < 0 || first_layer >= last_layer || last_layer > static_cast<int>(layers.size()))
      throw Error("forward: layer range [" + std::to_string(first_layer) + ", " + std::to_string(last_layer) +
                  ") is not within the model's " + std::to_string(layers.size()) + " layers");
    const int64_t expected = layers[static_cast<size_t>(first_layer)].in;
    if (in.cols != expected || in.rows < 0 || (in.rows > 0 && (in.data == nullptr || out == nullptr)))
      throw ShapeError("forward: input is " + shape(in.rows, in.cols) + ", layer " + std::to_string(first_layer) +
                       " expects " + std::to_string(expected) + " features");
    if (in.rows == 0) return;
    use_threads();
    net_.forward(in.data, in.rows, first_layer, last_layer, out);
  }

  EpochResult train_epoch(const Dataset& data, const EpochPlan& plan, const ProgressFn& progress) override {
    const int64_t n = data.rows(), d = net_.input_dim();
    if (data.cols() != d)
      throw ShapeError("train_epoch: data set " + data.name() + " has " + std::to_string(data.cols()) +
                       " features, model expects " + std::to_string(d));
    if (plan.batch_size < 1) throw Error("train_epoch: batch size " + std::to_string(plan.batch_size) + " < 1");
    use_threads();
    const int64_t batch = std::min(plan.batch_size, std::max<int64_t>(n, 1));
    batch_.resize(static_cast<size_t>(batch * d));
    indices_.resize(static_cast<size_t>(batch));
    const int64_t batches = (n + plan.batch_size - 1) / plan.batch_size;
    if (plan.first_batch < 0 || (plan.first_batch > 0 && plan.first_batch >= batches))
      throw Error("train_epoch: first batch " + std::to_string(plan.first_batch) + " is outside the epoch of " +
                  std::to_string(n) + " rows in batches of " + std::to_string(plan.batch_size));
    EpochResult result;
    for (int64_t first = plan.first_batch * plan.batch_size; first < n; first += plan.batch_size) {
      if (plan.stop && plan.stop->load(std::memory_order_relaxed)) {
        result.stopped = true;
        break;
      }
      const int64_t rows = std::min(plan.batch_size, n - first);
      if (plan.shuffle) {
        for (int64_t r = 0; r < rows; ++r)
          indices_[static_cast<size_t>(r)] = static_cast<int64_t>(rng::permute_index(
              static_cast<uint64_t>(first + r), static_cast<uint64_t>(n), plan.shuffle_key));
        data.gather_rows(std::span<const int64_t>(indices_.data(), static_cast<size_t>(rows)), batch_.data());
      } else {
        data.copy_rows(first, rows, batch_.data());
      }
      const float loss = step(batch_.data(), rows);
      result.loss_sum += static_cast<double>(loss) * static_cast<double>(rows);
      result.samples += rows;
      ++result.steps;
      if (!std::isfinite(loss)) {  // every later step would only spread the NaN
        result.non_finite_step = result.steps;
        break;
      }
      if (progress && plan.progress_every > 0 && result.steps % plan.progress_every == 0)
        progress(result.steps, result.loss_sum / static_cast<double>(result.samples));
    }
    return result;
  }

  // The same step as train_step, with a steady-clock reading between the phases.
  StepProfile profile_steps(MatrixView batch, int warmup, int steps) override {
    check_batch("profile_steps", batch);
    use_threads();
    for (int i = 0; i < warmup; ++i) step(batch.data, batch.rows);
    StepProfile profile;
    using Clock = std::chrono::steady_clock;
    const auto seconds = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double>(b - a).count();
    };
    for (int i = 0; i < steps; ++i) {
      const auto t0 = Clock::now();
      net_.train_forward(batch.data, batch.rows);
      const auto t1 = Clock::now();
      const double loss = net_.train_loss(batch.data, batch.rows);
      const auto t2 = Clock::now();
      net_.train_backward(batch.data, batch.rows);
      const auto t3 = Clock::now();
      update();
      const auto t4 = Clock::now();
      profile.forward.push_back(seconds(t0, t1));
      profile.loss.push_back(seconds(t1, t2));
      profile.backward.push_back(seconds(t2, t3));
      profile.optimizer.push_back(seconds(t3, t4));
      profile.step.push_back(seconds(t0, t4));
      profile.last_loss = mean_loss(loss, batch.rows);
    }
    profile.steps_trained = static_cast<int64_t>(warmup) + steps;
    return profile;
  }

 private:
  float step(const float* x, int64_t rows) {
    const double loss = net_.forward_backward(x, rows);
    update();
    return mean_loss(loss, rows);
  }

  void update() {
    if (optimizer_.global_clipnorm > 0) clip_gradient();
    ++step_;
    cpu::optimizer_step(optimizer_, step_, net_.parameters(), net_.gradient(), m_, v_, threads_);
  }

  // torch.nn.utils.clip_grad_norm_: the norm in double, serially, so the result does not depend on
  // the thread count (resumed runs must be bit-identical); the gradient is small next to the GEMMs.
  void clip_gradient() {
    std::vector<float>& g = net_.gradient();
    double sum = 0;
    for (const float x : g) sum += static_cast<double>(x) * x;
    const double coef = static_cast<double>(optimizer_.global_clipnorm) / (std::sqrt(sum) + 1e-6);
    if (!(coef < 1.0)) return;  // within the bound (or a NaN norm, which the loss check reports)
    const auto scale = static_cast<float>(coef);
    for (float& x : g) x *= scale;
  }

  float mean_loss(double loss_sum, int64_t rows) const {
    return static_cast<float>(loss_sum / (static_cast<double>(rows) * static_cast<double>(net_.input_dim())));
  }

  // OpenBLAS's OpenMP build sizes its parallel regions from the calling thread's omp_get_max_threads,
  // and the Model may call from any thread, so every entry point sets it.
  void use_threads() const {
    omp_set_num_threads(threads_);
    openblas_set_num_threads(threads_);
  }

  void check_flat(const char* op, size_t size) const {
    if (size != net_.parameters().size())
      throw ShapeError(std::string(op) + ": got " + std::to_string(size) + " floats, the layout has " +
                       std::to_string(net_.parameters().size()));
  }

  void check_batch(const char* op, MatrixView batch) const {
    if (batch.cols != net_.input_dim())
      throw ShapeError(std::string(op) + ": batch has " + std::to_string(batch.cols) + " features, model expects " +
                       std::to_string(net_.input_dim()));
    if (batch.rows < 1 || batch.data == nullptr)
      throw ShapeError(std::string(op) + ": batch is " + shape(batch.rows, batch.cols) + ", needs at least one row");
  }

  OptimizerConfig optimizer_;
  int threads_;
  cpu::CpuNetwork<float> net_;
  std::vector<float> m_, v_;
  int64_t step_ = 0;
  std::vector<float> batch_;
  std::vector<int64_t> indices_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config, const ParameterLayout& layout,
                                          const BackendOptions& options) {
  return std::make_unique<CpuBackend>(config, layout, options);
}

}  // namespace cuae
