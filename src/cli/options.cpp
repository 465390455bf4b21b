#include "cli/options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cuae/error.h"

namespace cuae::cli {

namespace fs = std::filesystem;

void add_load_options(CLI::App& sub, LoadOptions& o) {
  sub.add_option("--raw-cols", o.raw_cols, "Features per row of a raw float32 (.raw/.f32/.bin) file");
  sub.add_flag("--csv-header", o.csv_header, "The CSV file's first line is a header (text headers are detected)");
  sub.add_flag("--drop-non-finite", o.drop_non_finite, "Drop rows holding NaN/Inf instead of refusing the file");
}

void add_train_options(CLI::App& sub, TrainOptions& o) {
  sub.add_option("--data", o.data,
                 "Training data: a .npy, .csv, .idx/-ubyte[.gz] or .raw file, fashion-mnist, random:N,D or "
                 "structured:N,D,K (required)");
  sub.add_option("--val", o.val, "Validation data (default with --data fashion-mnist: fashion-mnist:test)");
  sub.add_option("--layers", o.layers, "Encoder widths from the input to the code, comma-separated; the decoder "
                 "mirrors them")->capture_default_str();
  sub.add_option("--epochs", o.epochs, "Passes over the training data")->capture_default_str();
  sub.add_option("--batch", o.batch, "Rows per optimizer step")->capture_default_str();
  sub.add_option("--lr", o.lr, "Learning rate")->capture_default_str();
  sub.add_option("--seed", o.seed, "Seed of the weights, the shuffle and synthetic data")->capture_default_str();
  sub.add_option("--device", o.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub.add_option("--loss", o.loss, "bce or mse")->capture_default_str();
  sub.add_option("--activation", o.activation, "Hidden activation: relu, sigmoid, tanh, linear, leaky_relu, gelu")
      ->capture_default_str();
  sub.add_option("--output-activation", o.output_activation, "Output activation: sigmoid or linear")
      ->capture_default_str();
  sub.add_option("--optimizer", o.optimizer, "adam or sgd")->capture_default_str();
  sub.add_option("--weight-decay", o.weight_decay, "L2 weight decay")->capture_default_str();
  sub.add_flag("--adamw", o.adamw, "Decoupled weight decay (AdamW)");
  sub.add_flag("--epsilon-hat", o.epsilon_hat, "Keras-style Adam epsilon (epsilon hat)");
  sub.add_option("--init-scheme", o.init_scheme, "Weight initialisation: glorot_uniform or torch_default")
      ->capture_default_str();
  sub.add_option("--out", o.out, "Where to save the trained model (.safetensors; required)");
  sub.add_flag("--no-shuffle", o.no_shuffle, "Keep the data order in every epoch");
  sub.add_option("--init", o.init, "Start from the weights of this checkpoint (same layers)");
  sub.add_option("--metrics", o.metrics, "Write epoch,train_loss,val_loss,seconds,samples_per_s per epoch to this CSV");
  sub.add_option("--threads", o.threads, "CPU threads (0: all cores)")->capture_default_str();
  sub.add_option("--forward", o.forward, "CUDA forward: fused (hand-written kernel), cublas (SGEMM + "
                 "bias/activation kernel) or cudnn (a cuDNN fused graph, when cuDNN 9 is installed)")->capture_default_str();
  sub.add_flag("--no-cuda-graphs", o.no_cuda_graphs, "CUDA: launch every step's kernels instead of replaying a graph");
  sub.add_flag("--allow-tf32", o.allow_tf32, "CUDA: let cuBLAS use TF32 tensor cores (not exact FP32)");
  sub.add_option("--resume", o.resume,
                 "Continue an interrupted run from its checkpoint: weights, optimizer state and data order come "
                 "from it; --epochs counts the epochs it already did");
  sub.add_option("--checkpoint", o.checkpoint, "Where periodic and interrupt checkpoints go (default: --out)");
  sub.add_option("--checkpoint-every", o.checkpoint_every, "Save a checkpoint every N steps or epochs (0: only on "
                 "SIGINT/SIGTERM)")->capture_default_str();
  sub.add_option("--checkpoint-unit", o.checkpoint_unit, "What --checkpoint-every counts: steps or epochs")
      ->capture_default_str();
  sub.add_option("--clip-grad-norm", o.clip_grad_norm,
                 "Clip the gradient to this global L2 norm before each update (0: off)")
      ->capture_default_str();
  add_load_options(sub, o.load);
  sub.add_option("--config", o.config, "JSON file of the same options (keys are flag names); flags override it")
      ->configurable(false);
}

void add_apply_options(CLI::App& sub, ApplyOptions& o, const char* out_help) {
  sub.add_option("--model", o.model, "A model saved by cuae train (.safetensors)")->required();
  sub.add_option("--data", o.data, "Data: a file, fashion-mnist[:test], random:N,D or structured:N,D,K")->required();
  if (out_help != nullptr) sub.add_option("--out", o.out, out_help)->required();
  sub.add_option("--device", o.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sub.add_option("--batch", o.batch, "Rows per forward pass")->capture_default_str();
  sub.add_option("--threads", o.threads, "CPU threads (0: all cores)")->capture_default_str();
  sub.add_option("--seed", o.seed, "Seed of synthetic data")->capture_default_str();
  add_load_options(sub, o.load);
}

ModelAndData load_model_and_data(const ApplyOptions& o, std::string_view command) {
  if (o.batch < 1) throw Error("--batch must be >= 1, got " + std::to_string(o.batch));
  LoadOptions load = o.load;
  load.seed = o.seed;
  Dataset data = load_dataset(o.data, load);
  const Device device = resolve_device(o.device, command);
  Model model = Model::load(o.model, device, backend_options(o.threads));
  check_features(data, model.input_dim(), "model " + o.model);
  return {std::move(model), std::move(data)};
}

namespace {

std::string json_input(const nlohmann::json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number()) return value.dump();
  throw IoError(where + ": expected a string, number or boolean, got " + value.dump());
}

}  // namespace

void apply_json_config(CLI::App& sub, const fs::path& file) {
  const std::string name = file.string();
  std::ifstream in(file);
  if (!in) throw IoError(name + ": cannot open config file");
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(name + ": invalid JSON (" + e.what() + ")");
  }
  if (!config.is_object()) throw IoError(name + ": a config file holds one JSON object of options");

  for (const auto& [key, value] : config.items()) {
    const std::string where = name + ": \"" + key + "\"";
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    CLI::Option* option = sub.get_option_no_throw("--" + flag);
    if (option == nullptr || !option->get_configurable()) {
      throw IoError(where + " is not an option of cuae " + sub.get_name());
    }
    if (option->count() > 0) continue;  // given on the command line, which wins
    // An array is the comma-separated list a flag would take, e.g. "layers": [784, 64].
    std::string input;
    if (value.is_array()) {
      for (const auto& element : value) input += (input.empty() ? "" : ",") + json_input(element, where);
    } else {
      input = json_input(value, where);
    }
    if (option->get_expected_min() == 0 && !value.is_boolean()) throw IoError(where + ": expected true or false");
    try {
      option->add_result(input);
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw IoError(where + ": " + e.what());
    }
  }
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
      throw Error("--layers " + text + ": '" + item + "' is not a positive integer");
    }
    layers.push_back(value);
  }
  if (layers.size() < 2) throw Error("--layers " + text + ": give at least the input and code widths, e.g. 784,64");
  return layers;
}

namespace {
// The library's parsers name the accepted values; the user also needs to know which flag was wrong.
template <typename Parse>
auto parse_flag(const char* flag, const std::string& value, Parse parse) {
  try {
    return parse(value);
  } catch (const Error& e) {
    throw Error(std::string(flag) + " " + value + ": " + e.what());
  }
}
}  // namespace

ModelConfig model_config(const TrainOptions& o) {
  ModelConfig c = model_config_unvalidated(o);
  c.validate();
  return c;
}

ModelConfig model_config_unvalidated(const TrainOptions& o) {
  ModelConfig c;
  c.layers = parse_layers(o.layers);
  c.hidden_activation = parse_flag("--activation", o.activation, parse_activation);
  c.output_activation = parse_flag("--output-activation", o.output_activation, parse_activation);
  c.loss = parse_flag("--loss", o.loss, parse_loss);
  c.optimizer.kind = parse_flag("--optimizer", o.optimizer, parse_optimizer);
  c.optimizer.lr = o.lr;
  c.optimizer.weight_decay = o.weight_decay;
  c.optimizer.decoupled_weight_decay = o.adamw;
  c.optimizer.epsilon_hat = o.epsilon_hat;
  c.optimizer.global_clipnorm = o.clip_grad_norm;
  c.init = parse_flag("--init-scheme", o.init_scheme, parse_init);
  c.seed = o.seed;
  return c;
}

Device resolve_device(std::string_view spec, std::string_view command) {
  if (spec != "auto") return Device::parse(spec);
  const CudaStatus status = cuda_status();
  if (status.usable) return Device::cuda(0);
  if (status.built) {
    std::fprintf(stderr, "cuae %.*s: CUDA unusable (%s); using the CPU\n", static_cast<int>(command.size()),
                 command.data(), status.reason.c_str());
  }
  return Device::cpu();
}

BackendOptions backend_options(int threads) {
  if (threads < 0) throw Error("--threads must be >= 0, got " + std::to_string(threads));
  BackendOptions options;
  options.cpu_threads = threads;
  return options;
}

BackendOptions::Forward parse_forward(const std::string& name) {
  if (name == "fused") return BackendOptions::Forward::fused;
  if (name == "cublas") return BackendOptions::Forward::cublas;
  if (name == "cudnn") return BackendOptions::Forward::cudnn;
  throw Error("--forward must be fused, cublas or cudnn, got '" + name + "'");
}

BackendOptions backend_options(const TrainOptions& o) {
  BackendOptions options = backend_options(o.threads);
  options.forward = parse_forward(o.forward);
  options.cuda_graphs = !o.no_cuda_graphs;
  options.allow_tf32 = o.allow_tf32;
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
