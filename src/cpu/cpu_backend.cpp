// The CPU backend: CpuNetwork<float> for the maths, optimizer_step for the update, and the batch
// gather that fills one reused buffer with the plan's (shuffled) rows. Losses land in a host vector,
// so the Trainer reads and checks each one as soon as its step is done.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "cpu/cpu_network.h"
#include "cpu/gemm.h"
#include "cpu/optimizer.h"
#include "cuae/error.h"
#include "engine/backend_factory.h"
#include "engine/schedule.h"
#include "kernels/common/random.cuh"

namespace cuae {

namespace {

int resolve_threads(int requested) { return requested > 0 ? requested : std::max(omp_get_num_procs(), 1); }

class CpuBackend final : public Backend {
 public:
  CpuBackend(const ModelConfig& config, const ParameterLayout& layout, const BackendOptions& options)
      : optimizer_(config.optimizer),
        base_lr_(decimal_double(config.optimizer.lr)),
        threads_(resolve_threads(options.cpu_threads)),
        net_(config, layout, threads_),
        m_(static_cast<size_t>(layout.total_floats), 0.0f),
        v_(optimizer_.kind == OptimizerKind::adam ? static_cast<size_t>(layout.total_floats) : 0, 0.0f) {
    use_threads();
  }

  Device device() const override { return Device::cpu(); }

  void write_parameters(std::span<const float> flat) override {
    std::copy(flat.begin(), flat.end(), net_.parameters().begin());
  }
  void read_parameters(std::span<float> flat) const override {
    std::copy(net_.parameters().begin(), net_.parameters().end(), flat.begin());
  }
  void write_optimizer_state(const OptimizerState& state) override {
    m_ = state.m;
    v_ = state.v;
    step_ = state.step;
  }
  OptimizerState read_optimizer_state() const override { return {step_, m_, v_}; }
  int64_t step() const override { return step_; }

  void set_training_data(const Dataset& data, int64_t batch_size) override {
    data_ = data;
    const int64_t rows = std::min(batch_size, std::max<int64_t>(data.rows(), 1));
    batch_.resize(static_cast<size_t>(rows * data.cols()));
    indices_.resize(static_cast<size_t>(rows));
  }

  void begin_epoch(const EpochPlan& plan) override {
    plan_ = plan;
    losses_.assign(static_cast<size_t>(plan.batches()), BatchLoss{});
  }

  void train_batches(int64_t first, int64_t count) override {
    use_threads();
    for (int64_t b = first; b < first + count; ++b) {
      const int64_t rows = plan_.rows_of(b), row0 = b * plan_.batch_size;
      if (plan_.shuffle) {
        for (int64_t r = 0; r < rows; ++r)
          indices_[static_cast<size_t>(r)] = static_cast<int64_t>(rng::permute_index(
              static_cast<uint64_t>(row0 + r), static_cast<uint64_t>(plan_.rows), plan_.shuffle_key));
        data_.gather_rows(std::span<const int64_t>(indices_.data(), static_cast<size_t>(rows)), batch_.data());
      } else {
        data_.copy_rows(row0, rows, batch_.data());
      }
      const double lr = plan_.learning_rates.empty() ? base_lr_ : plan_.learning_rates[static_cast<size_t>(b)];
      losses_[static_cast<size_t>(b)] = step(batch_.data(), rows, lr);
    }
  }

  void read_batch_losses(int64_t first, std::span<BatchLoss> out) override {
    std::copy_n(losses_.begin() + first, out.size(), out.begin());
  }
  bool losses_on_host() const override { return true; }

  float train_step(MatrixView batch) override {
    use_threads();
    return step(batch.data, batch.rows, base_lr_).total;
  }

  double loss_sum(const Dataset& data, int64_t batch_rows) override {
    use_threads();
    std::vector<float> rows(static_cast<size_t>(std::min(batch_rows, data.rows()) * data.cols()));
    double sum = 0;
    for (int64_t first = 0; first < data.rows(); first += batch_rows) {
      const int64_t count = std::min(batch_rows, data.rows() - first);
      const float* x = rows.data();
      if (data.dtype() == DType::f32) {
        x = static_cast<const float*>(data.raw()) + first * data.cols();
      } else {
        data.copy_rows(first, count, rows.data());
      }
      sum += net_.loss_sum(x, count);
    }
    return sum;
  }

  void forward(MatrixView in, int first_layer, int last_layer, float* out) override {
    if (in.rows == 0) return;
    use_threads();
    net_.forward(in.data, in.rows, first_layer, last_layer, out);
  }

  // The same step as train_step, with a steady-clock reading between the phases.
  StepProfile profile_steps(MatrixView batch, int warmup, int steps) override {
    use_threads();
    for (int i = 0; i < warmup; ++i) step(batch.data, batch.rows, base_lr_);
    StepProfile profile;
    using Clock = std::chrono::steady_clock;
    const auto seconds = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double>(b - a).count();
    };
    for (int i = 0; i < steps; ++i) {
      const auto t0 = Clock::now();
      net_.train_forward(batch.data, batch.rows, step_ + 1);
      const auto t1 = Clock::now();
      const LossTerms terms = net_.train_loss(batch.data, batch.rows);
      const auto t2 = Clock::now();
      net_.train_backward(batch.rows);
      const auto t3 = Clock::now();
      update(base_lr_);
      const auto t4 = Clock::now();
      profile.forward.push_back(seconds(t0, t1));
      profile.loss.push_back(seconds(t1, t2));
      profile.backward.push_back(seconds(t2, t3));
      profile.optimizer.push_back(seconds(t3, t4));
      profile.step.push_back(seconds(t0, t4));
      profile.last_loss = batch_loss(terms).total;
    }
    profile.steps_trained = static_cast<int64_t>(warmup) + steps;
    return profile;
  }

 private:
  BatchLoss step(const float* x, int64_t rows, double lr) {
    const LossTerms terms = net_.forward_backward(x, rows, step_ + 1);
    update(lr);
    return batch_loss(terms);
  }

  void update(double lr) {
    if (optimizer_.global_clipnorm > 0) clip_gradient();
    ++step_;
    cpu::optimizer_step(optimizer_, step_, lr, net_.parameters(), net_.gradient(), m_, v_, threads_);
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

  static BatchLoss batch_loss(const LossTerms& t) {
    const double total = t.reconstruction + t.l1_activity + t.kl_sparsity + t.l2 + t.latent_kl;
    return {static_cast<float>(total),       static_cast<float>(t.reconstruction), static_cast<float>(t.l1_activity),
            static_cast<float>(t.kl_sparsity), static_cast<float>(t.l2),           static_cast<float>(t.latent_kl)};
  }

  // OpenBLAS's OpenMP build sizes its parallel regions from the calling thread's omp_get_max_threads,
  // and the Model may call from any thread, so every entry point sets it.
  void use_threads() const {
    omp_set_num_threads(threads_);
    openblas_set_num_threads(threads_);
  }

  OptimizerConfig optimizer_;
  double base_lr_;  // the configured rate, as the decimal the user wrote
  int threads_;
  cpu::CpuNetwork<float> net_;
  std::vector<float> m_, v_;
  int64_t step_ = 0;
  Dataset data_;
  EpochPlan plan_;
  std::vector<BatchLoss> losses_;
  std::vector<float> batch_;
  std::vector<int64_t> indices_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config, const ParameterLayout& layout,
                                          const BackendOptions& options) {
  return std::make_unique<CpuBackend>(config, layout, options);
}

}  // namespace cuae
