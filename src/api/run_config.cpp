// RunConfig and its JSON form: the one configuration grammar (see cuae/run_config.h).
#include "cuae/run_config.h"

#include <cmath>
#include <string>

#include "api/config_json.h"
#include "cuae/device.h"
#include "cuae/error.h"

namespace cuae {

namespace config_json {

void parse_value(const std::string& s, BackendOptions::Forward& out) { out = parse_forward(s); }

json parse_json(std::string_view text, std::string_view source_name) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400 (fuzz finding)
    throw Error("config " + std::string(source_name) + ": invalid JSON: " + e.what());
  }
}

}  // namespace config_json

using config_json::json;
using config_json::ObjectReader;

std::string_view to_string(BackendOptions::Forward forward) {
  for (const auto& [value, name] : kForwardNames)
    if (value == forward) return name;
  return "unknown";
}

BackendOptions::Forward parse_forward(std::string_view name) {
  std::string accepted;
  for (const auto& [value, text] : kForwardNames) {
    if (text == name) return value;
    accepted += (accepted.empty() ? "" : ", ") + std::string(text);
  }
  throw Error("config: unknown forward '" + std::string(name) + "'; accepted: " + accepted);
}

std::string to_json(const RunConfig& run, int indent) {
  json j = config_json::model_to_json(run.model);
  const FitOptions& f = run.fit;
  const LoadOptions& load = run.load;
  j["fit"] = {
      {"data", run.data},
      {"validation", run.validation},
      {"epochs", f.epochs},
      {"batch_size", f.batch_size},
      {"shuffle", f.shuffle},
      {"eval_batch_size", f.eval_batch_size},
      {"validation_split", f.validation_split},
      {"early_stopping", f.early_stopping.patience},
      {"min_delta", f.early_stopping.min_delta},
      {"monitor", f.early_stopping.monitor_validation ? "val_loss" : "loss"},
      {"restore_best", f.early_stopping.restore_best},
      {"lr_schedule", to_string(f.lr_schedule)},
      {"load",
       {{"raw_cols", load.raw_cols},
        {"csv_header", load.csv_header},
        {"drop_non_finite", load.drop_non_finite},
        {"csv_skip_cols", load.csv_skip_cols},
        {"csv_delimiter", std::string(1, load.csv_delimiter)},
        {"npz_key", load.npz_key},
        {"scale", load.scale}}},
      {"out", run.out},
      {"metrics", run.metrics},
      {"init_from", run.init_from},
      {"init_strict", run.init_strict},
      {"checkpoint", run.checkpoint},
      {"checkpoint_every", run.checkpoint_every},
      {"checkpoint_unit", run.checkpoint_by_epochs ? "epochs" : "steps"},
  };
  j["device"] = run.device;
  const BackendOptions& b = run.backend;
  j["backend"] = {
      {"forward", to_string(b.forward)},
      {"cuda_graphs", b.cuda_graphs},
      {"allow_tf32", b.allow_tf32},
      {"cpu_threads", b.cpu_threads},
      {"device_memory_budget", b.device_memory_budget},
  };
  return j.dump(indent);
}

RunConfig run_config_from_json(std::string_view text, std::string_view source_name) {
  const json j = config_json::parse_json(text, source_name);
  RunConfig run;
  ObjectReader top(j, "", source_name);
  config_json::read_model(top, run.model);
  top.read("device", run.device);

  ObjectReader fit(top.child("fit"), "fit", source_name);
  fit.read("data", run.data);
  fit.read("validation", run.validation);
  fit.read("epochs", run.fit.epochs);
  fit.read("batch_size", run.fit.batch_size);
  fit.read("shuffle", run.fit.shuffle);
  fit.read("eval_batch_size", run.fit.eval_batch_size);
  fit.read("validation_split", run.fit.validation_split);
  fit.read("early_stopping", run.fit.early_stopping.patience);
  fit.read("min_delta", run.fit.early_stopping.min_delta);
  std::string monitor = run.fit.early_stopping.monitor_validation ? "val_loss" : "loss";
  fit.read("monitor", monitor);
  if (monitor != "val_loss" && monitor != "loss") fit.fail("fit.monitor", "must be val_loss or loss, got '" + monitor + "'");
  run.fit.early_stopping.monitor_validation = monitor == "val_loss";
  fit.read("restore_best", run.fit.early_stopping.restore_best);
  fit.read("lr_schedule", run.fit.lr_schedule);
  ObjectReader load(fit.child("load"), "fit.load", source_name);
  load.read("raw_cols", run.load.raw_cols);
  load.read("csv_header", run.load.csv_header);
  load.read("drop_non_finite", run.load.drop_non_finite);
  load.read("csv_skip_cols", run.load.csv_skip_cols);
  std::string delimiter(1, run.load.csv_delimiter);
  load.read("csv_delimiter", delimiter);
  try {
    run.load.csv_delimiter = parse_csv_delimiter(delimiter);
  } catch (const Error& e) {
    load.fail("fit.load.csv_delimiter", e.what());
  }
  load.read("npz_key", run.load.npz_key);
  load.read("scale", run.load.scale);
  load.reject_unknown();
  fit.read("out", run.out);
  fit.read("metrics", run.metrics);
  fit.read("init_from", run.init_from);
  fit.read("init_strict", run.init_strict);
  fit.read("checkpoint", run.checkpoint);
  fit.read("checkpoint_every", run.checkpoint_every);
  std::string unit = run.checkpoint_by_epochs ? "epochs" : "steps";
  fit.read("checkpoint_unit", unit);
  if (unit != "steps" && unit != "epochs") fit.fail("fit.checkpoint_unit", "must be steps or epochs, got '" + unit + "'");
  run.checkpoint_by_epochs = unit == "epochs";
  fit.reject_unknown();

  ObjectReader backend(top.child("backend"), "backend", source_name);
  backend.read("forward", run.backend.forward);
  backend.read("cuda_graphs", run.backend.cuda_graphs);
  backend.read("allow_tf32", run.backend.allow_tf32);
  backend.read("cpu_threads", run.backend.cpu_threads);
  backend.read("device_memory_budget", run.backend.device_memory_budget);
  backend.reject_unknown();
  top.reject_unknown();

  const auto invalid = [&](const std::string& field, const std::string& why) { top.fail(field, why); };
  try {
    check_fit_options(run.fit);
  } catch (const Error& e) {
    throw Error("config " + std::string(source_name) + ": " + e.what());
  }
  if (run.load.raw_cols < 0) invalid("fit.load.raw_cols", "must be >= 0, got " + std::to_string(run.load.raw_cols));
  if (run.load.csv_skip_cols < 0) {
    invalid("fit.load.csv_skip_cols", "must be >= 0, got " + std::to_string(run.load.csv_skip_cols));
  }
  if (!(run.load.scale > 0) || !std::isfinite(run.load.scale)) {
    invalid("fit.load.scale", "must be a finite number > 0, got " + std::to_string(run.load.scale));
  }
  if (run.checkpoint_every < 0) {
    invalid("fit.checkpoint_every", "must be >= 0, got " + std::to_string(run.checkpoint_every));
  }
  if (run.backend.cpu_threads < 0) {
    invalid("backend.cpu_threads", "must be >= 0, got " + std::to_string(run.backend.cpu_threads));
  }
  if (run.backend.device_memory_budget < 0) {
    invalid("backend.device_memory_budget", "must be >= 0, got " + std::to_string(run.backend.device_memory_budget));
  }
  if (run.device != "auto") {
    try {
      Device::parse(run.device);
    } catch (const Error& e) {
      invalid("device", e.what());
    }
  }
  try {
    run.model.validate();
  } catch (const Error& e) {
    throw Error("config " + std::string(source_name) + ": " + std::string(e.what()).substr(sizeof "config: " - 1));
  }
  return run;
}

}  // namespace cuae
