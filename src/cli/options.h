// Options shared by the subcommands: the train configuration (flags or a JSON file holding the same
// names), data-loading flags, device selection and the checks every command makes on its inputs and
// outputs before doing any work.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/device.h"
#include "cuae/model.h"
#include "cuae/model_config.h"

namespace CLI {
class App;
}

namespace cuae::cli {

// Everything `cuae train` accepts. Defaults come from ModelConfig / FitOptions, so the CLI trains the
// same model as the library does by default.
struct TrainOptions {
  std::string data, val, out, init, metrics, config;
  std::string layers = "784,64";  // parsed by model_config(); a string so that a repeated flag replaces it
  int epochs = 5;
  int64_t batch = 256;
  float lr = ModelConfig{}.optimizer.lr;
  uint64_t seed = 0;
  std::string device = "auto";
  std::string loss{to_string(ModelConfig{}.loss)};
  std::string activation{to_string(ModelConfig{}.hidden_activation)};
  std::string output_activation{to_string(ModelConfig{}.output_activation)};
  std::string optimizer{to_string(ModelConfig{}.optimizer.kind)};
  float weight_decay = ModelConfig{}.optimizer.weight_decay;
  bool adamw = false;
  bool epsilon_hat = false;
  std::string init_scheme{to_string(ModelConfig{}.init)};
  bool no_shuffle = false;
  int threads = 0;
  LoadOptions load;
  // Reliability (src/cli/checkpointing.h): resuming, periodic checkpoints, gradient clipping.
  std::string resume, checkpoint;
  int64_t checkpoint_every = 0;
  std::string checkpoint_unit = "steps";
  float clip_grad_norm = 0.0f;
  // CUDA execution (no effect on the CPU backend).
  std::string forward = "fused";
  bool no_cuda_graphs = false;
  bool allow_tf32 = false;
};

// What eval, encode and reconstruct share: a saved model applied to a data set.
struct ApplyOptions {
  std::string model, data, out;
  std::string device = "auto";
  int64_t batch = 1024;
  int threads = 0;
  uint64_t seed = 0;  // synthetic data only
  LoadOptions load;
};

// --model, --data, --device, --batch, --threads, --seed, the load flags, and --out when out_help is set.
void add_apply_options(CLI::App& sub, ApplyOptions& options, const char* out_help);

struct ModelAndData {
  Model model;
  Dataset data;
};
// Loads both and checks that the data has the model's input width.
ModelAndData load_model_and_data(const ApplyOptions& options, std::string_view command);

// Registers the train flags on `sub`, bound to `options`.
void add_train_options(CLI::App& sub, TrainOptions& options);

// Fills every option of `sub` that was not given on the command line from the JSON object in `file`,
// whose keys are the flag names without "--" ('_' may stand for '-'); so flags override the file.
// Unknown keys and values of the wrong type are errors naming the file and the key.
void apply_json_config(CLI::App& sub, const std::filesystem::path& file);

// "784,64" -> {784, 64}; throws naming the flag and the bad item.
std::vector<int64_t> parse_layers(const std::string& text);

// The ModelConfig the options describe; throws naming the first invalid option.
ModelConfig model_config(const TrainOptions& options);
// The same, each flag parsed but the combination not validated (for comparing single fields).
ModelConfig model_config_unvalidated(const TrainOptions& options);

// --raw-cols, --csv-header, --drop-non-finite.
void add_load_options(CLI::App& sub, LoadOptions& options);

// "auto" is the first usable CUDA device, else the CPU; when CUDA was built but is unusable it says so
// once on stderr, prefixed "cuae <command>:". Other specs go to Device::parse.
Device resolve_device(std::string_view spec, std::string_view command);

BackendOptions backend_options(int threads);
// backend_options(threads) plus the CUDA execution flags of `cuae train`.
BackendOptions backend_options(const TrainOptions& options);
// "fused", "cublas" or "cudnn"; throws naming the flag otherwise.
BackendOptions::Forward parse_forward(const std::string& name);

// Throws ShapeError when the data's rows do not have the model's input width.
void check_features(const Dataset& data, int64_t expected, std::string_view what);

// Fails early (before any training or loading) when `path` cannot be written: missing directory,
// a directory in the way, or a wrong extension. `extensions` empty means any.
void check_output_path(const std::filesystem::path& path, std::string_view flag,
                       const std::vector<std::string_view>& extensions = {});

}  // namespace cuae::cli
