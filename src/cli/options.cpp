// The options of eval, encode and reconstruct, device selection and the early input/output checks.
#include "cli/options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli/commands.h"
#include "cuae/error.h"

namespace cuae::cli {

namespace fs = std::filesystem;

namespace {

void add_load_options(CLI::App& sub, ApplyOptions& a) {
  LoadOptions& o = a.load;
  sub.add_option("--raw-cols", o.raw_cols, "Features per row of a raw float32 (.raw/.f32/.bin) file");
  sub.add_flag("--csv-header", o.csv_header, "The CSV file's first line is a header (text headers are detected)");
  sub.add_flag("--drop-non-finite", o.drop_non_finite, "Drop rows holding NaN/Inf instead of refusing the file");
  sub.add_option("--csv-skip-cols", o.csv_skip_cols,
                 "CSV: drop this many leading columns (0: only a pandas index column)");
  sub.add_option("--csv-delimiter", a.csv_delimiter, "CSV: the field separator")->capture_default_str();
  sub.add_option("--key", o.npz_key, ".npz: the array to read (default: the archive's only array)");
  sub.add_option("--value-scale", a.value_scale, "Multiply every value by this (e.g. 1/255)")->capture_default_str();
  sub.add_flag("--strict", a.strict, "Refuse tensors of a PyTorch checkpoint that are not the model's parameters");
}

}  // namespace

double parse_number(std::string_view flag, const std::string& text) {
  const auto invalid = [&] { return UsageError(std::string(flag) + " " + text + ": not a number or a fraction A/B"); };
  const auto decimal = [&](const std::string& part) {
    size_t end = 0;
    double value = 0;
    try {
      value = std::stod(part, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    if (end == 0 || end != part.size()) throw invalid();
    return value;
  };
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return decimal(text);
  const double denominator = decimal(text.substr(slash + 1));
  if (denominator == 0) throw UsageError(std::string(flag) + " " + text + ": division by zero");
  return decimal(text.substr(0, slash)) / denominator;
}

NoteSink print_notes(std::string_view command) {
  return [command = std::string(command)](std::string_view note) {
    std::fprintf(stderr, "cuae %s: note: %.*s\n", command.c_str(), static_cast<int>(note.size()), note.data());
  };
}

void add_apply_options(CLI::App& sub, ApplyOptions& o, const char* out_help) {
  sub.add_option("--model", o.model, "A model saved by cuae train (.safetensors)")->required();
  sub.add_option("--data", o.data, "Data: a file, fashion-mnist[:test], random:N,D or structured:N,D,K")->required();
  if (out_help != nullptr) sub.add_option("--out", o.out, out_help)->required();
  sub.add_option("--device", o.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub.add_option("--batch", o.batch, "Rows per forward pass")->capture_default_str();
  sub.add_option("--threads", o.threads, "CPU threads (0: all cores)")->capture_default_str();
  sub.add_option("--seed", o.seed, "Seed of synthetic data")->capture_default_str();
  add_load_options(sub, o);
}

ModelAndData load_model_and_data(const ApplyOptions& o, std::string_view command) {
  if (o.batch < 1) throw Error("--batch must be >= 1, got " + std::to_string(o.batch));
  LoadOptions load = o.load;
  load.seed = o.seed;
  load.scale = parse_number("--value-scale", o.value_scale);
  if (!(load.scale > 0) || !std::isfinite(load.scale)) throw UsageError("--value-scale must be > 0, got " + o.value_scale);
  try {
    load.csv_delimiter = parse_csv_delimiter(o.csv_delimiter);
  } catch (const Error& e) {
    throw UsageError(std::string("--csv-delimiter: ") + e.what());
  }
  load.note = print_notes(command);
  if (load.csv_skip_cols < 0) throw UsageError("--csv-skip-cols must be >= 0");
  Dataset data = load_dataset(o.data, load);
  const Device device = resolve_device(o.device, command);
  Model model = Model::load(o.model, device, backend_options(o.threads), {o.strict, print_notes(command)});
  check_features(data, model.input_dim(), "model " + o.model);
  return {std::move(model), std::move(data)};
}

std::vector<int64_t> parse_layers(const std::string& text) {
  std::vector<int64_t> layers;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, ',');) {
    size_t end = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    if (end == 0 || end != item.size() || value <= 0) {
      throw UsageError("--layers " + text + ": '" + item + "' is not a positive integer");
    }
    layers.push_back(value);
  }
  if (layers.size() < 2) throw UsageError("--layers " + text + ": give at least the input and code widths, e.g. 784,64");
  return layers;
}

Device resolve_device(std::string_view spec, std::string_view command) {
  if (spec != "auto") return Device::parse(spec);
  const CudaStatus status = cuda_status();
  if (status.usable) return Device::cuda(0);
  static bool said = false;  // one notice per process, whichever command resolves first
  if (status.built && !said) {
    std::fprintf(stderr, "cuae %.*s: CUDA unusable (%s); using the CPU\n", static_cast<int>(command.size()),
                 command.data(), status.reason.c_str());
    said = true;
  }
  return Device::cpu();
}

BackendOptions backend_options(int threads) {
  if (threads < 0) throw Error("--threads must be >= 0, got " + std::to_string(threads));
  BackendOptions options;
  options.cpu_threads = threads;
  return options;
}

void check_features(const Dataset& data, int64_t expected, std::string_view what) {
  if (data.cols() != expected) {
    throw ShapeError(data.name() + ": rows have " + std::to_string(data.cols()) + " features, " + std::string(what) +
                     " expects " + std::to_string(expected));
  }
}

void check_output_path(const fs::path& path, std::string_view flag, const std::vector<std::string_view>& extensions) {
  const std::string name = path.string();
  if (path.empty()) throw Error(std::string(flag) + " is required");
  if (!extensions.empty() &&
      std::find(extensions.begin(), extensions.end(), path.extension().string()) == extensions.end()) {
    std::string list;
    for (auto e : extensions) list += (list.empty() ? "" : " or ") + std::string(e);
    throw Error(std::string(flag) + " " + name + ": expected a file name ending in " + list);
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) throw IoError(name + ": directory " + dir.string() + " does not exist");
  if (fs::is_directory(path)) throw IoError(name + ": is a directory");
  if (::access(dir.c_str(), W_OK) != 0) throw IoError(name + ": directory " + dir.string() + " is not writable");
}

}  // namespace cuae::cli
