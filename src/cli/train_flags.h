// The flags of `cuae train` and where each lands in the configuration grammar (cuae/run_config.h):
// one table (train_flags.cpp), so --help, --config, --print-config and --resume agree on every
// option, and a flag is a key of the grammar written on the command line.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace cuae::cli {

class TrainFlags {
 public:
  // Registers every flag of the table on `sub`; its help text shows the grammar's default.
  explicit TrainFlags(CLI::App& sub);
  ~TrainFlags();
  TrainFlags(const TrainFlags&) = delete;
  TrainFlags& operator=(const TrainFlags&) = delete;

  // Writes the value of every flag given on the command line into `run` (a run configuration's JSON).
  // Throws cuae::Error naming the flag for a value of the wrong kind ("--epochs x: not an integer").
  void apply(nlohmann::json& run) const;

  struct Given {
    std::string flag;     // "--lr"
    std::string pointer;  // "/optimizer/lr"
    std::string value;    // as typed
  };
  // The flags given on the command line, in table order.
  std::vector<Given> given() const;

 private:
  struct Entry;
  std::vector<Entry> entries_;
};

// Whether a grammar key (a JSON pointer) belongs to the model rather than to how it is trained:
// what --resume may not change.
bool is_model_key(const std::string& pointer);

}  // namespace cuae::cli
