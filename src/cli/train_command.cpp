// `cuae train`: loads the data, builds (or initialises from --init, or resumes from --resume) a
// model, fits it with progress output, writes the metrics CSV after every epoch, checkpoints every
// --checkpoint-every steps or epochs, and saves the model at the end. SIGINT or SIGTERM ends the
// run after the current step with a checkpoint and exit status 130 / 143; `--resume` continues it
// bit-identically (CPU backend).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "cli/checkpointing.h"
#include "cli/commands.h"
#include "cli/metrics.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cuae/error.h"
#include "cuae/model.h"

namespace cuae::cli {

namespace {

std::string join(const std::vector<int64_t>& values) {
  std::string text;
  for (int64_t v : values) text += (text.empty() ? "" : ",") + std::to_string(v);
  return text;
}

bool given(const CLI::App& sub, const char* flag) {
  const CLI::Option* option = sub.get_option_no_throw(flag);
  return option != nullptr && option->count() > 0;
}

// On --resume the model and its optimizer come from the checkpoint. A flag that would change them,
// given (on the command line or in --config) with another value than the checkpoint's, is refused
// naming both values: silently training with other settings than asked would be worse.
void refuse_changed_model_flags(const CLI::App& sub, const TrainOptions& o, const ModelConfig& saved) {
  if (given(sub, "--layers") && saved.layers != parse_layers(o.layers)) {
    throw ShapeError("--resume " + o.resume + ": checkpoint has layers " + join(saved.layers) +
                     ", --layers asks for " + join(parse_layers(o.layers)));
  }
  static constexpr std::pair<const char*, const char*> kModelFlags[] = {
      {"--activation", "/hidden_activation"},
      {"--output-activation", "/output_activation"},
      {"--loss", "/loss"},
      {"--optimizer", "/optimizer/kind"},
      {"--lr", "/optimizer/lr"},
      {"--weight-decay", "/optimizer/weight_decay"},
      {"--adamw", "/optimizer/decoupled_weight_decay"},
      {"--epsilon-hat", "/optimizer/epsilon_hat"},
      {"--clip-grad-norm", "/optimizer/global_clipnorm"},
      {"--init-scheme", "/init"},
      {"--seed", "/seed"}};
  const nlohmann::json checkpoint = nlohmann::json::parse(to_json(saved));
  const nlohmann::json asked = nlohmann::json::parse(to_json(model_config_unvalidated(o)));
  for (const auto& [flag, key] : kModelFlags) {
    const nlohmann::json::json_pointer pointer(key);
    if (given(sub, flag) && checkpoint.at(pointer) != asked.at(pointer)) {
      throw Error("--resume " + o.resume + ": the checkpoint was trained with " + flag + " " +
                  checkpoint.at(pointer).dump() + ", but " + flag + " " + asked.at(pointer).dump() +
                  " was given; drop the flag to continue the run, or start a new one with --init");
    }
  }
}

// The model of an interrupted run. Its configuration comes from the checkpoint; model flags, when
// given, must agree with it.
Model resume_model(const CLI::App& sub, const TrainOptions& o, Device device) {
  if (!o.init.empty()) throw Error("--resume and --init exclude each other: --resume already holds the weights");
  Model model = Model::load(o.resume, device, backend_options(o));
  refuse_changed_model_flags(sub, o, model.config());
  if (model.epochs_completed() >= o.epochs) {
    throw Error("--resume " + o.resume + ": the checkpoint already completed " +
                std::to_string(model.epochs_completed()) + " epoch(s); --epochs " + std::to_string(o.epochs) +
                " counts them too, so raise it to train more");
  }
  return model;
}

CheckpointPolicy checkpoint_policy(const TrainOptions& o) {
  if (o.checkpoint_every < 0) throw Error("--checkpoint-every must be >= 0, got " + std::to_string(o.checkpoint_every));
  if (o.checkpoint_unit != "steps" && o.checkpoint_unit != "epochs") {
    throw Error("--checkpoint-unit must be steps or epochs, got '" + o.checkpoint_unit + "'");
  }
  CheckpointPolicy policy;
  policy.path = o.checkpoint.empty() ? o.out : o.checkpoint;
  policy.every = o.checkpoint_every;
  policy.by_epochs = o.checkpoint_unit == "epochs";
  return policy;
}

void run_train(CLI::App& sub, TrainOptions& o) {
  if (!o.config.empty()) apply_json_config(sub, o.config);
  if (o.data.empty()) throw Error("--data is required (on the command line or in the --config file)");
  check_output_path(o.out, "--out");
  if (!o.checkpoint.empty()) check_output_path(o.checkpoint, "--checkpoint", {".safetensors"});
  if (!o.metrics.empty()) check_output_path(o.metrics, "--metrics");
  if (o.epochs < 1) throw Error("--epochs must be >= 1, got " + std::to_string(o.epochs));
  if (o.batch < 1) throw Error("--batch must be >= 1, got " + std::to_string(o.batch));
  const CheckpointPolicy policy = checkpoint_policy(o);

  const Device device = resolve_device(o.device, "train");
  std::optional<Model> resumed;
  if (!o.resume.empty()) resumed.emplace(resume_model(sub, o, device));
  const ModelConfig config = resumed ? resumed->config() : model_config(o);

  LoadOptions load = o.load;
  load.seed = o.seed;
  const Dataset train = load_dataset(o.data, load);
  check_features(train, config.layers.front(), "--layers " + join(config.layers));
  std::string val_source = o.val;
  if (val_source.empty() && o.data == "fashion-mnist") val_source = "fashion-mnist:test";
  Dataset val;
  if (!val_source.empty()) {
    load.seed = o.seed + 1;  // a synthetic validation set must not repeat the training rows
    val = load_dataset(val_source, load);
    check_features(val, config.layers.front(), "--layers " + join(config.layers));
  }

  Model model = resumed ? std::move(*resumed) : Model(config, device, backend_options(o));
  if (!o.init.empty()) {
    const Model start = Model::load(o.init);
    if (start.config().layers != config.layers) {
      throw ShapeError(o.init + ": checkpoint has layers " + join(start.config().layers) + ", --layers is " +
                       join(config.layers));
    }
    model.set_parameters(start.parameters());
  }
  std::fprintf(stderr, "training %s on %s (%lld rows x %lld) on %s%s%s\n", join(config.layers).c_str(),
               train.name().c_str(), static_cast<long long>(train.rows()), static_cast<long long>(train.cols()),
               device.str().c_str(), val_source.empty() ? "" : (", validating on " + val.name()).c_str(),
               resumed ? (", resuming at " + training_position(model)).c_str() : "");

  const int epochs_left = o.epochs - static_cast<int>(model.epochs_completed());
  ProgressPrinter progress(stderr, stderr_is_terminal(), epochs_left, train.rows(), o.batch);
  Checkpointer checkpointer(model, policy);
  const int64_t print_every = progress.progress_every();
  FitOptions fit;
  fit.epochs = epochs_left;
  fit.batch_size = o.batch;
  fit.shuffle = !o.no_shuffle;
  fit.validation = val_source.empty() ? nullptr : &val;
  fit.progress_every = checkpointer.progress_every() > 0 ? checkpointer.progress_every() : print_every;
  std::vector<EpochStats> done;
  const auto on_event = [&](const FitEvent& event) {
    const bool print = event.kind == FitEvent::Kind::epoch_end ||
                       (print_every > 0 && event.step_in_epoch % print_every == 0);
    if (print) progress.on_event(event);
    checkpointer.on_event(event);
    if (event.kind != FitEvent::Kind::epoch_end) return;
    done.push_back(event.stats);
    if (!o.metrics.empty()) write_metrics_csv(o.metrics, done);
  };

  History history;
  int signal = 0;
  try {
    const StopSignals signals;
    fit.stop = signals.stop();
    history = model.fit(train, fit, on_event);
    signal = signals.received();
  } catch (const Error& e) {
    // Nothing is saved over the last good checkpoint: the model may hold NaNs now.
    throw Error(std::string(e.what()) + "; " + checkpointer.last_saved());
  }
  if (history.stopped_early && signal != 0) {
    if (!checkpointer.save_now()) {
      std::fprintf(stderr, "cuae train: stopped by signal %d at %s; the parameters are not finite, so nothing was "
                   "saved; %s\n", signal, training_position(model).c_str(), checkpointer.last_saved().c_str());
      throw ExitStatus{128 + signal};
    }
    std::fprintf(stderr,
                 "cuae train: stopped by %s at %s; checkpoint saved to %s\n"
                 "continue with: cuae train --resume %s (with the same --data, --batch and --epochs)\n",
                 signal == SIGINT ? "SIGINT" : "SIGTERM", training_position(model).c_str(),
                 checkpointer.path().c_str(), checkpointer.path().c_str());
    throw ExitStatus{128 + signal};
  }
  model.save(o.out);
  if (history.stopped_early) std::fprintf(stderr, "interrupted after %zu epoch(s)\n", history.epochs.size());
  std::printf("saved %s", o.out.c_str());
  if (!history.epochs.empty()) {
    const EpochStats& last = history.epochs.back();
    std::printf(" (epoch %lld: train_loss %.6f", static_cast<long long>(model.epochs_completed()), last.train_loss);
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
