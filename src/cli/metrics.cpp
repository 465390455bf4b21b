#include "cli/metrics.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "cuae/error.h"
#include "io/atomic_file.h"

namespace cuae::cli {

namespace {
constexpr const char* kHeader = "epoch,train_loss,val_loss,seconds,samples_per_s";

double parse_cell(const std::string& cell, const std::string& where) {
  char* end = nullptr;
  const double value = std::strtod(cell.c_str(), &end);
  if (cell.empty() || *end != '\0') throw IoError(where + ": '" + cell + "' is not a number");
  return value;
}
}  // namespace

void write_metrics_csv(const std::filesystem::path& path, const std::vector<EpochStats>& epochs) {
  std::string text = std::string(kHeader) + "\n";
  for (const EpochStats& e : epochs) {
    text += fmt::format("{},{:.9g},{:.9g},{:.6g},{:.6g}\n", e.epoch, e.train_loss, e.val_loss, e.seconds,
                        e.samples_per_second);
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
  if (!std::getline(in, line) || line.rfind(kHeader, 0) != 0) {
    throw IoError(name + ":1: not a cuae metrics file (expected the header " + kHeader + ")");
  }
  std::vector<EpochStats> epochs;
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = name + ":" + std::to_string(line_number);
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    if (cells.size() != 5) throw IoError(where + ": expected 5 columns, found " + std::to_string(cells.size()));
    EpochStats e;
    e.epoch = static_cast<int>(parse_cell(cells[0], where));
    e.train_loss = parse_cell(cells[1], where);
    e.val_loss = parse_cell(cells[2], where);
    e.seconds = parse_cell(cells[3], where);
    e.samples_per_second = parse_cell(cells[4], where);
    epochs.push_back(e);
  }
  if (epochs.empty()) throw IoError(name + ": metrics file has no epochs");
  return epochs;
}

}  // namespace cuae::cli
