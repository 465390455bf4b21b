// Options shared by the subcommands that apply a saved model (eval, encode, reconstruct), device
// selection, and the checks every command makes on its inputs and outputs before doing any work.
// `cuae train`'s flags are the table of train_flags.h.
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

// What eval, encode and reconstruct share: a saved model applied to a data set.
struct ApplyOptions {
  std::string model, data, out;
  std::string value_scale = "1";  // --value-scale, a number or a fraction such as 1/255
  std::string csv_delimiter = ",";
  bool strict = false;            // --strict: refuse tensors of a PyTorch file that are not parameters
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

// "784,64" -> {784, 64}; throws naming the flag and the bad item.
std::vector<int64_t> parse_layers(const std::string& text);

// A decimal number, or a fraction of two ("1/255"); throws UsageError naming `flag` otherwise.
double parse_number(std::string_view flag, const std::string& text);

// Prints a reader's notes as "cuae <command>: note: ...".
NoteSink print_notes(std::string_view command);

// "auto" is the first usable CUDA device, else the CPU; when CUDA was built but is unusable it says so
// once on stderr, prefixed "cuae <command>:". Other specs go to Device::parse.
Device resolve_device(std::string_view spec, std::string_view command);

BackendOptions backend_options(int threads);

// Throws ShapeError when the data's rows do not have the model's input width.
void check_features(const Dataset& data, int64_t expected, std::string_view what);

// Fails early (before any training or loading) when `path` cannot be written: missing directory,
// a directory in the way, or a wrong extension. `extensions` empty means any.
void check_output_path(const std::filesystem::path& path, std::string_view flag,
                       const std::vector<std::string_view>& extensions = {});

}  // namespace cuae::cli
