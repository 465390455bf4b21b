// The one table of `cuae train` flags: flag, grammar key, kind of value, help.
#include "cli/train_flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string_view>

#include "cli/commands.h"
#include "cli/options.h"
#include "cuae/error.h"
#include "cuae/run_config.h"

namespace cuae::cli {

namespace {

using nlohmann::json;

enum class Kind {
  text,       // a string key
  choice,     // a string key with a fixed set of names
  integer,    // an integer key
  number,     // a floating-point key
  layers,     // "784,64" -> [784, 64]
  numbers,    // "0.2,0.1" -> [0.2, 0.1]
  set_true,   // a flag that sets a boolean key to true
  set_false,  // a flag that sets a boolean key to false (--no-shuffle)
};

template <typename Table>
std::vector<std::string> names_of(const Table& table) {
  std::vector<std::string> names;
  for (const auto& [value, name] : table) names.emplace_back(name);
  return names;
}

std::string joined(const std::vector<std::string>& names, const char* last) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == names.size() ? last : ", ") + names[i];
  }
  return text;
}

const char* type_name(Kind kind) {
  switch (kind) {
    case Kind::integer: return "INT";
    case Kind::number: return "FLOAT";
    case Kind::layers: return "INT,INT,...";
    case Kind::numbers: return "FLOAT,...";
    case Kind::choice: return "NAME";
    default: return "TEXT";
  }
}

}  // namespace

struct TrainFlags::Entry {
  const char* flag;
  const char* pointer;
  Kind kind;
  const char* help;
  std::vector<std::string> choices = {};
  std::string value = {};
  bool set = false;
  CLI::Option* option = nullptr;
};

TrainFlags::TrainFlags(CLI::App& sub) {
  const std::vector<std::string> activations = names_of(kActivationNames);
  entries_ = {
      {"--data", "/fit/data", Kind::text,
       "Training data: a .npy, .csv, .idx/-ubyte[.gz] or .raw file, fashion-mnist, random:N,D or structured:N,D,K"},
      {"--val", "/fit/validation", Kind::text,
       "Validation data (with --data fashion-mnist and no --val: fashion-mnist:test)"},
      {"--layers", "/layers", Kind::layers,
       "Encoder widths from the input to the code, comma-separated; the decoder mirrors them"},
      {"--epochs", "/fit/epochs", Kind::integer, "Passes over the training data (a resumed run counts its own)"},
      {"--batch", "/fit/batch_size", Kind::integer, "Rows per optimizer step"},
      {"--eval-batch", "/fit/eval_batch_size", Kind::integer, "Rows per evaluation batch"},
      {"--no-shuffle", "/fit/shuffle", Kind::set_false, "Keep the data order in every epoch"},
      {"--validation-split", "/fit/validation_split", Kind::number,
       "Validate on this last fraction of the training rows (taken before shuffling, as Keras does)"},
      {"--early-stopping", "/fit/early_stopping", Kind::integer,
       "Stop after PATIENCE epochs without improvement of --monitor (0: off)"},
      {"--min-delta", "/fit/min_delta", Kind::number, "The least change of --monitor that counts as an improvement"},
      {"--monitor", "/fit/monitor", Kind::choice, "The loss early stopping and plateau schedules watch",
       {"val_loss", "loss"}},
      {"--restore-best", "/fit/restore_best", Kind::set_true,
       "When early stopping ends the run, end with the weights of the best epoch"},
      {"--lr-schedule", "/fit/lr_schedule", Kind::text,
       "Learning rate per step: constant, step:EVERY:FACTOR, exp:GAMMA, cosine:WARMUP_STEPS or "
       "plateau:PATIENCE:FACTOR"},
      {"--lr", "/optimizer/lr", Kind::number, "Learning rate"},
      {"--seed", "/seed", Kind::integer, "Seed of the weights, the shuffle and synthetic data"},
      {"--loss", "/loss", Kind::choice, "Loss", names_of(kLossNames)},
      {"--activation", "/hidden_activation", Kind::choice, "Hidden activation", activations},
      {"--output-activation", "/output_activation", Kind::choice, "Output activation", {"sigmoid", "linear"}},
      {"--leaky-slope", "/leaky_relu_slope", Kind::number, "Negative slope of leaky_relu (torch.nn.LeakyReLU)"},
      {"--optimizer", "/optimizer/kind", Kind::choice, "Optimizer", {"adam", "sgd"}},
      {"--beta1", "/optimizer/beta1", Kind::number, "Adam's first-moment decay; SGD's momentum"},
      {"--beta2", "/optimizer/beta2", Kind::number, "Adam's second-moment decay"},
      {"--adam-eps", "/optimizer/eps", Kind::number, "Adam's epsilon (PyTorch 1e-8, Keras 1e-7)"},
      {"--weight-decay", "/optimizer/weight_decay", Kind::number, "L2 weight decay"},
      {"--adamw", "/optimizer/decoupled_weight_decay", Kind::set_true, "Decoupled weight decay (AdamW)"},
      {"--epsilon-hat", "/optimizer/epsilon_hat", Kind::set_true, "Keras-style Adam epsilon (epsilon hat)"},
      {"--clip-grad-norm", "/optimizer/global_clipnorm", Kind::number,
       "Clip the gradient to this global L2 norm before each update (0: off)"},
      {"--tied", "/tied", Kind::set_true,
       "Tied weights: each decoder layer uses its mirror encoder layer's weight, transposed (own bias)"},
      {"--noise", "/noise", Kind::text,
       "Denoising: corrupt each batch's input, train against the clean one: none, gaussian:SIGMA, mask:P or "
       "salt-pepper:P"},
      {"--dropout", "/dropout", Kind::numbers, "Inverted dropout on the hidden layers: RATE, or RATE,RATE,... per "
       "hidden layer (empty: none)"},
      {"--l1-activity", "/l1_activity", Kind::number, "L1 activity penalty on the code (Keras l1(LAMBDA))"},
      {"--kl-sparsity", "/kl_sparsity", Kind::text, "KL sparsity penalty of a sigmoid code: RHO:BETA (empty: off)"},
      {"--l2", "/l2", Kind::number, "Coupled L2 penalty on the weights (Keras kernel_regularizer=l2(LAMBDA))"},
      {"--init-scheme", "/init", Kind::choice, "Weight initialisation", {"glorot_uniform", "torch_default"}},
      {"--init", "/fit/init_from", Kind::text, "Start from the weights of this checkpoint (same layers)"},
      {"--out", "/fit/out", Kind::text, "Where to save the trained model (.safetensors; required)"},
      {"--metrics", "/fit/metrics", Kind::text,
       "Write epoch,train_loss,val_loss,seconds,samples_per_s per epoch to this CSV"},
      {"--checkpoint", "/fit/checkpoint", Kind::text, "Where periodic and interrupt checkpoints go (default: --out)"},
      {"--checkpoint-every", "/fit/checkpoint_every", Kind::integer,
       "Save a checkpoint every N steps or epochs (0: only on SIGINT/SIGTERM)"},
      {"--checkpoint-unit", "/fit/checkpoint_unit", Kind::choice, "What --checkpoint-every counts", {"steps", "epochs"}},
      {"--raw-cols", "/fit/load/raw_cols", Kind::integer, "Features per row of a raw float32 (.raw/.f32/.bin) file"},
      {"--csv-header", "/fit/load/csv_header", Kind::set_true,
       "The CSV file's first line is a header (text headers are detected)"},
      {"--drop-non-finite", "/fit/load/drop_non_finite", Kind::set_true,
       "Drop rows holding NaN/Inf instead of refusing the file"},
      {"--csv-skip-cols", "/fit/load/csv_skip_cols", Kind::integer,
       "CSV: drop this many leading columns (0: only a pandas index column)"},
      {"--csv-delimiter", "/fit/load/csv_delimiter", Kind::text, "CSV: the field separator (one character, or tab)"},
      {"--key", "/fit/load/npz_key", Kind::text, ".npz: the array to read (default: the archive's only array)"},
      {"--value-scale", "/fit/load/scale", Kind::number, "Multiply every value by this (e.g. 1/255)"},
      {"--strict", "/fit/init_strict", Kind::set_true,
       "Refuse tensors of the --init checkpoint that are not the model's parameters"},
      {"--device", "/device", Kind::text, "auto, cpu, cuda or cuda:N"},
      {"--threads", "/backend/cpu_threads", Kind::integer, "CPU threads (0: all cores)"},
      {"--forward", "/backend/forward", Kind::choice,
       "CUDA forward (fused: the hand-written kernel; cublas: SGEMM + our bias/activation kernel; cudnn: a cuDNN "
       "fused graph, when cuDNN 9 is installed)",
       names_of(kForwardNames)},
      {"--no-cuda-graphs", "/backend/cuda_graphs", Kind::set_false,
       "CUDA: launch every step's kernels instead of replaying a graph"},
      {"--allow-tf32", "/backend/allow_tf32", Kind::set_true, "CUDA: let cuBLAS use TF32 tensor cores (not exact FP32)"},
      {"--device-memory-budget", "/backend/device_memory_budget", Kind::integer,
       "CUDA: bytes the resident training set may use (0: what is free)"},
  };
  const RunConfig default_run;
  const json defaults = json::parse(to_json(default_run));
  for (Entry& e : entries_) {
    const json& fallback = defaults.at(json::json_pointer(e.pointer));
    std::string help = e.help;
    if (!e.choices.empty()) help += ": " + joined(e.choices, " or ");
    if (e.kind == Kind::set_true || e.kind == Kind::set_false) {
      e.option = sub.add_flag(e.flag, e.set, help);
    } else {
      std::string shown = fallback.is_string() ? fallback.get<std::string>() : fallback.dump();
      if (e.kind == Kind::layers || e.kind == Kind::numbers) shown = shown.substr(1, shown.size() - 2);
      if (!shown.empty()) help += " [default: " + shown + "]";
      e.option = sub.add_option(e.flag, e.value, help);
      e.option->type_name(type_name(e.kind));
    }
  }
}

TrainFlags::~TrainFlags() = default;

void TrainFlags::apply(json& run) const {
  for (const Entry& e : entries_) {
    if (e.option->count() == 0) continue;
    const std::string& v = e.value;
    const auto invalid = [&](const std::string& why) { throw UsageError(std::string(e.flag) + " " + v + ": " + why); };
    json value;
    switch (e.kind) {
      case Kind::text: value = v; break;
      case Kind::choice:
        if (std::find(e.choices.begin(), e.choices.end(), v) == e.choices.end()) {
          throw UsageError(std::string(e.flag) + " must be " + joined(e.choices, " or ") + ", got '" + v + "'");
        }
        value = v;
        break;
      case Kind::integer: {
        size_t end = 0;
        long long parsed = 0;
        try {
          parsed = std::stoll(v, &end);
        } catch (const std::exception&) {
          end = 0;
        }
        if (end == 0 || end != v.size()) invalid("not an integer");
        value = static_cast<int64_t>(parsed);
        break;
      }
      case Kind::number: value = parse_number(e.flag, v); break;
      case Kind::layers: value = parse_layers(v); break;
      case Kind::numbers: {
        value = json::array();
        std::stringstream list(v);
        for (std::string item; std::getline(list, item, ',');) value.push_back(parse_number(e.flag, item));
        break;
      }
      case Kind::set_true: value = true; break;
      case Kind::set_false: value = false; break;
    }
    run[json::json_pointer(e.pointer)] = value;
  }
}

std::vector<TrainFlags::Given> TrainFlags::given() const {
  std::vector<Given> out;
  for (const Entry& e : entries_) {
    if (e.option->count() == 0) continue;
    const bool boolean = e.kind == Kind::set_true || e.kind == Kind::set_false;
    out.push_back({e.flag, e.pointer, boolean ? std::string() : e.value});
  }
  return out;
}

bool is_model_key(const std::string& pointer) {
  for (std::string_view run_part : {"/fit", "/device", "/backend"}) {
    if (pointer.starts_with(run_part) && (pointer.size() == run_part.size() || pointer[run_part.size()] == '/')) {
      return false;
    }
  }
  return true;
}

}  // namespace cuae::cli
