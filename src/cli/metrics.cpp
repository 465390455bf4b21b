#include "cli/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "cuae/error.h"
#include "io/atomic_file.h"

namespace cuae::cli {

namespace {

// The columns in the order they are written. Readers go by the header's names, so a file written
// before a column existed still reads (a missing `complete` means every epoch finished).
constexpr const char* kHeader =
    "epoch,train_loss,val_loss,seconds,samples_per_s,lr,recon_loss,l1_activity,kl_sparsity,l2,kl,complete";

double parse_cell(const std::string& cell, const std::string& where) {
  char* end = nullptr;
  const double value = std::strtod(cell.c_str(), &end);
  if (cell.empty() || *end != '\0') throw IoError(where + ": '" + cell + "' is not a number");
  return value;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream row(line);
  for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
  return cells;
}

}  // namespace

void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochStats>& epochs) {
  std::string text = std::string(kHeader) + "\n";
  for (const EpochStats& e : epochs) {
    const LossTerms& t = e.terms;
    text += fmt::format("{},{:.9g},{:.9g},{:.6g},{:.6g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{}\n", e.epoch,
                        e.train_loss, e.val_loss, e.seconds, e.samples_per_second, e.learning_rate, t.reconstruction,
                        t.l1_activity, t.kl_sparsity, t.l2, t.latent_kl, e.complete ? 1 : 0);
  }
  data::AtomicFile file(path);
  file.write(text);
  file.commit();
}

std::vector<EpochStats> read_metrics_csv(const std::filesystem::path& path) {
  const std::string name = path.string();
  if (!std::filesystem::is_regular_file(path)) throw IoError(name + ": no such file");
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const std::vector<std::string> header = split(line);
  const auto column = [&](const char* wanted) {
    const auto it = std::find(header.begin(), header.end(), wanted);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int epoch = column("epoch"), train = column("train_loss"), val = column("val_loss");
  const int seconds = column("seconds"), rate = column("samples_per_s"), complete = column("complete");
  const int lr = column("lr"), recon = column("recon_loss"), l1 = column("l1_activity"), kl_sparsity = column("kl_sparsity");
  const int l2 = column("l2"), kl = column("kl");
  if (epoch < 0 || train < 0 || val < 0) {
    throw IoError(name + ":1: not a cuae metrics file (expected a header with epoch,train_loss,val_loss, as " +
                  kHeader + ")");
  }
  std::vector<EpochStats> epochs;
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = name + ":" + std::to_string(line_number);
    const std::vector<std::string> cells = split(line);
    if (cells.size() != header.size()) {
      throw IoError(where + ": expected " + std::to_string(header.size()) + " columns, found " +
                    std::to_string(cells.size()));
    }
    const auto cell = [&](int i) { return i < 0 ? 0.0 : parse_cell(cells[static_cast<size_t>(i)], where); };
    EpochStats e;
    e.epoch = static_cast<int>(cell(epoch));
    e.train_loss = cell(train);
    e.val_loss = cell(val);
    e.seconds = cell(seconds);
    e.samples_per_second = cell(rate);
    e.complete = complete < 0 || cell(complete) != 0;
    e.learning_rate = cell(lr);
    e.terms = {recon < 0 ? e.train_loss : cell(recon), cell(l1), cell(kl_sparsity), cell(l2), cell(kl)};
    epochs.push_back(e);
  }
  if (epochs.empty()) throw IoError(name + ": metrics file has no epochs");
  return epochs;
}

std::vector<EpochStats> metrics_before(const std::filesystem::path& path, int64_t epochs_completed) {
  if (!std::filesystem::exists(path)) return {};
  std::vector<EpochStats> kept;
  for (const EpochStats& e : read_metrics_csv(path)) {
    // Finished epochs the checkpoint holds, and the part of the epoch it was interrupted in.
    if (e.epoch <= epochs_completed || (!e.complete && e.epoch == epochs_completed + 1)) kept.push_back(e);
  }
  return kept;
}

}  // namespace cuae::cli
