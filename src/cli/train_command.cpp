// `cuae train`: loads the data, builds (or initialises from --init) a model, fits it with progress
// output, writes the metrics CSV after every epoch and saves the model at the end. Ctrl-C ends the
// run after the current step and still saves what was learnt.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/metrics.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cuae/error.h"
#include "cuae/model.h"

namespace cuae::cli {

namespace {

// A signal handler can only touch lock-free atomics; this is the one piece of global state.
std::atomic<bool> g_stop{false};

extern "C" void on_interrupt(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills as usual
}

// Installs the handler for the duration of fit, restoring the previous one on every path.
class InterruptGuard {
 public:
  InterruptGuard() : previous_(std::signal(SIGINT, on_interrupt)) {}
  ~InterruptGuard() { std::signal(SIGINT, previous_); }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  void (*previous_)(int);
};

std::string join(const std::vector<int64_t>& values) {
  std::string text;
  for (int64_t v : values) text += (text.empty() ? "" : ",") + std::to_string(v);
  return text;
}

void run_train(CLI::App& sub, TrainOptions& o) {
  if (!o.config.empty()) apply_json_config(sub, o.config);
  if (o.data.empty()) throw Error("--data is required (on the command line or in the --config file)");
  check_output_path(o.out, "--out");
  if (!o.metrics.empty()) check_output_path(o.metrics, "--metrics");
  if (o.epochs < 1) throw Error("--epochs must be >= 1, got " + std::to_string(o.epochs));
  if (o.batch < 1) throw Error("--batch must be >= 1, got " + std::to_string(o.batch));
  const ModelConfig config = model_config(o);

  LoadOptions load = o.load;
  load.seed = o.seed;
  const Dataset train = load_dataset(o.data, load);
  check_features(train, config.layers.front(), "--layers " + o.layers);
  std::string val_source = o.val;
  if (val_source.empty() && o.data == "fashion-mnist") val_source = "fashion-mnist:test";
  Dataset val;
  if (!val_source.empty()) {
    load.seed = o.seed + 1;  // a synthetic validation set must not repeat the training rows
    val = load_dataset(val_source, load);
    check_features(val, config.layers.front(), "--layers " + o.layers);
  }

  const Device device = resolve_device(o.device, "train");
  Model model(config, device, backend_options(o.threads));
  if (!o.init.empty()) {
    const Model start = Model::load(o.init);
    if (start.config().layers != config.layers) {
      throw ShapeError(o.init + ": checkpoint has layers " + join(start.config().layers) + ", --layers is " +
                       join(config.layers));
    }
    model.set_parameters(start.parameters());
  }
  std::fprintf(stderr, "training %s on %s (%lld rows x %lld) on %s%s\n", join(config.layers).c_str(),
               train.name().c_str(), static_cast<long long>(train.rows()), static_cast<long long>(train.cols()),
               device.str().c_str(), val_source.empty() ? "" : (", validating on " + val.name()).c_str());

  ProgressPrinter progress(stderr, stderr_is_terminal(), o.epochs, train.rows(), o.batch);
  FitOptions fit;
  fit.epochs = o.epochs;
  fit.batch_size = o.batch;
  fit.shuffle = !o.no_shuffle;
  fit.validation = val_source.empty() ? nullptr : &val;
  fit.progress_every = progress.progress_every();
  fit.stop = &g_stop;
  std::vector<EpochStats> done;
  const auto on_event = [&](const FitEvent& event) {
    progress.on_event(event);
    if (event.kind != FitEvent::Kind::epoch_end) return;
    done.push_back(event.stats);
    if (!o.metrics.empty()) write_metrics_csv(o.metrics, done);
  };

  g_stop.store(false);
  History history;
  {
    const InterruptGuard guard;
    history = model.fit(train, fit, on_event);
  }
  model.save(o.out);
  if (history.stopped_early) std::fprintf(stderr, "interrupted after %zu epoch(s)\n", history.epochs.size());
  std::printf("saved %s", o.out.c_str());
  if (!history.epochs.empty()) {
    const EpochStats& last = history.epochs.back();
    std::printf(" (epoch %d: train_loss %.6f", last.epoch, last.train_loss);
    if (fit.validation != nullptr) std::printf(", val_loss %.6f", last.val_loss);
    std::printf(", %.0f samples/s)", last.samples_per_second);
  }
  std::printf("\n");
}

}  // namespace

void add_train_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("train", "Train an autoencoder and save it as .safetensors");
  auto options = std::make_shared<TrainOptions>();
  add_train_options(*sub, *options);
  sub->callback([sub, options] { run_train(*sub, *options); });
}

}  // namespace cuae::cli
