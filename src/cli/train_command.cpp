// `cuae train`: builds the run configuration (the grammar's defaults, or the checkpoint's with
// --resume; then --config; then the flags of train_flags.h), prints it with --print-config, or
// loads the data, builds (or initialises from --init, or resumes) a model, fits it with progress
// output, writes the metrics CSV after every epoch, checkpoints every --checkpoint-every steps or
// epochs, and saves the model at the end. SIGINT or SIGTERM ends the run after the current step with
// a checkpoint and exit status 130 / 143; `--resume` continues it bit-identically.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "cli/checkpointing.h"
#include "cli/commands.h"
#include "cli/metrics.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/train_flags.h"
#include "cuae/error.h"
#include "cuae/model.h"
#include "cuae/run_config.h"

namespace cuae::cli {

namespace {

using nlohmann::json;

struct TrainCommand {
  std::string config, resume;
  bool print_config = false;
  std::unique_ptr<TrainFlags> flags;
};

std::string join(const std::vector<int64_t>& values) {
  std::string text;
  for (int64_t v : values) text += (text.empty() ? "" : ",") + std::to_string(v);
  return text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open config file");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The grammar's keys of the model (arrays such as "layers" count as one value), as JSON pointers.
void model_leaves(const json& node, const std::string& pointer, std::vector<std::string>& out) {
  if (!node.is_object()) {
    if (is_model_key(pointer)) out.push_back(pointer);
    return;
  }
  for (const auto& [key, value] : node.items()) model_leaves(value, pointer + "/" + key, out);
}

// On --resume the model and its optimizer come from the checkpoint. A value that would change them,
// given by a flag or by --config, is refused naming both values: silently training with other
// settings than asked would be worse.
void refuse_changed_model(const TrainCommand& c, const json& saved, const json& asked) {
  std::vector<std::string> pointers;
  model_leaves(saved, "", pointers);
  const std::vector<TrainFlags::Given> given = c.flags->given();
  for (const std::string& pointer : pointers) {
    const json::json_pointer at(pointer);
    if (asked.at(at) == saved.at(at)) continue;
    if (pointer == "/layers") {
      throw ShapeError("--resume " + c.resume + ": checkpoint has layers " + join(saved.at(at).get<std::vector<int64_t>>()) +
                       ", --layers asks for " + join(asked.at(at).get<std::vector<int64_t>>()));
    }
    std::string source = "--config " + c.config + " sets " + pointer.substr(1) + " " + asked.at(at).dump();
    std::string trained = pointer.substr(1) + " " + saved.at(at).dump();
    for (const TrainFlags::Given& g : given) {
      if (g.pointer != pointer) continue;
      source = g.flag + " " + asked.at(at).dump() + " was given";
      trained = g.flag + " " + saved.at(at).dump();
    }
    throw Error("--resume " + c.resume + ": the checkpoint was trained with " + trained + ", but " + source +
                "; drop it to continue the run, or start a new one with --init");
  }
}

// The effective run: defaults (or the checkpoint's run), then --config, then the flags.
RunConfig effective_run(const TrainCommand& c) {
  const RunConfig defaults;
  json run = json::parse(to_json(c.resume.empty() ? defaults : Model::load(c.resume).run_config()));
  const json saved = run;
  if (!c.config.empty()) {
    const std::string text = read_text(c.config);
    run_config_from_json(text, c.config);  // the file alone must be valid: errors name it and the key
    run.merge_patch(json::parse(text));
  }
  c.flags->apply(run);
  RunConfig effective;
  try {
    effective = run_config_from_json(run.dump(), "from the command line");
  } catch (const Error& e) {
    // A value the grammar refuses, given by a flag: a usage error naming the flag.
    const std::string message = e.what();
    for (const TrainFlags::Given& g : c.flags->given()) {
      std::string key = g.pointer.substr(1);
      std::replace(key.begin(), key.end(), '/', '.');
      // "config <source>: <key>: <why>" or "config <source>: <key> must be ..."
      const size_t at = message.find(": " + key);
      const size_t after = at + 2 + key.size();
      if (at != std::string::npos && after < message.size() && (message[after] == ':' || message[after] == ' ')) {
        throw UsageError(g.flag + " " + g.value + ": " + message.substr(at + 2));
      }
    }
    throw;
  }
  if (!c.resume.empty()) refuse_changed_model(c, saved, run);
  if (effective.validation.empty() && effective.data == "fashion-mnist") effective.validation = "fashion-mnist:test";
  return effective;
}

// Options that only the CUDA backend reads: an error when the CPU was asked for, a note when `auto`
// fell back to it (the same command then runs on both kinds of machine). Named by their flag, or by
// their key when they came from --config or a resumed checkpoint.
void refuse_cuda_options_on_the_cpu(const TrainCommand& c, const RunConfig& run, Device device) {
  if (device.kind != DeviceKind::cpu) return;
  const RunConfig defaults;
  const json asked = json::parse(to_json(run))["backend"], plain = json::parse(to_json(defaults))["backend"];
  for (const auto& [key, value] : asked.items()) {
    if (key == "cpu_threads" || value == plain[key]) continue;
    std::string what = "backend." + key + " " + value.dump();
    for (const TrainFlags::Given& g : c.flags->given()) {
      if (g.pointer == "/backend/" + key) what = g.flag + (g.value.empty() ? "" : " " + g.value);
    }
    if (run.device != "auto") {
      throw UsageError(what + " applies to the CUDA backend only, and this run is on the CPU (--device " + run.device +
                       ")");
    }
    std::fprintf(stderr, "cuae train: note: %s has no effect on the CPU backend\n", what.c_str());
  }
}

CheckpointPolicy checkpoint_policy(const RunConfig& run) {
  CheckpointPolicy policy;
  policy.path = run.checkpoint.empty() ? run.out : run.checkpoint;
  policy.every = run.checkpoint_every;
  policy.by_epochs = run.checkpoint_by_epochs;
  return policy;
}

Model build_model(const TrainCommand& c, const RunConfig& run, Device device) {
  if (!c.resume.empty()) {
    if (!run.init_from.empty()) throw UsageError("--resume and --init exclude each other: --resume already holds the weights");
    Model model = Model::load(c.resume, device, run.backend, {.note = print_notes("train")});
    if (model.epochs_completed() >= run.fit.epochs) {
      throw Error("--resume " + c.resume + ": the checkpoint already completed " +
                  std::to_string(model.epochs_completed()) + " epoch(s); --epochs " + std::to_string(run.fit.epochs) +
                  " counts them too, so raise it to train more");
    }
    return model;
  }
  Model model(run.model, device, run.backend);
  if (!run.init_from.empty()) {
    const Model start = Model::load(run.init_from, Device::cpu(), {}, {run.init_strict, print_notes("train")});
    if (start.config().layers != run.model.layers) {
      throw ShapeError(run.init_from + ": checkpoint has layers " + join(start.config().layers) + ", --layers is " +
                       join(run.model.layers));
    }
    model.set_parameters(start.parameters());
  }
  return model;
}

void run_train(const TrainCommand& c) {
  const RunConfig run = effective_run(c);
  if (c.print_config) {
    std::printf("%s\n", to_json(run, 2).c_str());
    return;
  }
  if (run.data.empty()) throw UsageError("--data is required (on the command line or in the --config file)");
  check_output_path(run.out, "--out");
  if (!run.checkpoint.empty()) check_output_path(run.checkpoint, "--checkpoint", {".safetensors"});
  if (!run.metrics.empty()) check_output_path(run.metrics, "--metrics");
  if (run.fit.epochs < 1) throw UsageError("--epochs must be >= 1, got " + std::to_string(run.fit.epochs));
  if (!run.out.ends_with(".safetensors")) {
    std::fprintf(stderr, "cuae train: note: %s is written as safetensors (load it with safetensors.torch.load_file, "
                 "not torch.load), whatever its name\n", run.out.c_str());
  }

  const Device device = resolve_device(run.device, "train");
  refuse_cuda_options_on_the_cpu(c, run, device);
  Model model = build_model(c, run, device);
  model.set_run_config(run);
  const ModelConfig& config = model.config();

  LoadOptions load = run.load;
  load.seed = config.seed;
  load.note = print_notes("train");
  const Dataset train = load_dataset(run.data, load);
  check_features(train, config.layers.front(), "--layers " + join(config.layers));
  Dataset val;
  if (!run.validation.empty()) {
    load.seed = config.seed + 1;  // a synthetic validation set must not repeat the training rows
    val = load_dataset(run.validation, load);
    check_features(val, config.layers.front(), "--layers " + join(config.layers));
  }
  std::fprintf(stderr, "training %s on %s (%lld rows x %lld) on %s%s%s\n", join(config.layers).c_str(),
               train.name().c_str(), static_cast<long long>(train.rows()), static_cast<long long>(train.cols()),
               device.str().c_str(), run.validation.empty() ? "" : (", validating on " + val.name()).c_str(),
               c.resume.empty() ? "" : (", resuming at " + training_position(model)).c_str());

  ProgressPrinter progress(stderr, stderr_is_terminal(), run.fit.epochs, train.rows(), run.fit.batch_size);
  Checkpointer checkpointer(model, checkpoint_policy(run));
  const int64_t print_every = progress.progress_every();
  FitOptions fit = run.fit;
  fit.epochs = run.fit.epochs - static_cast<int>(model.epochs_completed());
  fit.validation = run.validation.empty() ? nullptr : &val;
  fit.progress_every = checkpointer.progress_every() > 0 ? checkpointer.progress_every() : print_every;
  // A resumed run continues the metrics of the run it resumes.
  std::vector<EpochStats> done;
  if (!c.resume.empty() && !run.metrics.empty()) done = metrics_before(run.metrics, model.epochs_completed());
  const auto on_event = [&](const FitEvent& event) {
    const bool print = event.kind == FitEvent::Kind::epoch_end ||
                       (print_every > 0 && event.step_in_epoch % print_every == 0);
    if (print) progress.on_event(event);
    checkpointer.on_event(event);
    if (event.kind != FitEvent::Kind::epoch_end) return;
    done.push_back(event.stats);
    if (!run.metrics.empty()) write_metrics_csv(run.metrics, done);
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
  model.save(run.out);
  if (!history.early_stop_reason.empty()) {
    std::fprintf(stderr, "cuae train: early stopping after epoch %lld: %s\n",
                 static_cast<long long>(model.epochs_completed()), history.early_stop_reason.c_str());
  } else if (history.stopped_early) {
    std::fprintf(stderr, "interrupted after %zu epoch(s)\n", history.epochs.size());
  }
  std::printf("saved %s", run.out.c_str());
  if (history.best_epoch > 0) {
    // The saved weights are those of the best epoch, not of the last one trained.
    const EpochStats* best = nullptr;
    for (const EpochStats& e : history.epochs) if (e.epoch == history.best_epoch) best = &e;
    std::printf(" (the weights of epoch %d, restored as the best", history.best_epoch);
    if (best != nullptr) std::printf(": train_loss %.6f, val_loss %.6f", best->train_loss, best->val_loss);
    std::printf(")");
  } else if (!history.epochs.empty()) {
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
  auto command = std::make_shared<TrainCommand>();
  command->flags = std::make_unique<TrainFlags>(*sub);
  sub->add_option("--config", command->config,
                  "A run configuration (JSON, as --print-config prints and checkpoints store); flags override it");
  sub->add_flag("--print-config", command->print_config,
                "Print the effective configuration (after --config and flags) as JSON and exit; --config takes it back");
  sub->add_option("--resume", command->resume,
                  "Continue an interrupted run from its checkpoint: configuration, weights, optimizer state and data "
                  "order come from it; --epochs counts the epochs it already did");
  sub->callback([command] { run_train(*command); });
}

}  // namespace cuae::cli
