// Numeric CSV as spreadsheets and pandas write it: one row per line, every row the same width, a
// delimiter of choice (LoadOptions::csv_delimiter), fields optionally in double quotes
// (QUOTE_ALL / QUOTE_NONNUMERIC), an empty field read as NaN (pandas writes NaN so; load_dataset then
// refuses or drops the row). Blank lines are skipped.
//
// The first line is a header when LoadOptions::csv_header says so, when none of its fields is a
// number ("x0,x1,..."), or when its fields count 0, 1, 2, ... (pandas' default column names). Leading
// header cells that are empty or "Unnamed: N" mark pandas index columns (to_csv() writes the index
// first, under an empty name): they are dropped with a note. LoadOptions::csv_skip_cols > 0 drops
// exactly that many leading columns instead. Errors point at file:line:column (1-based).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/io_checks.h"
#include "io/notes.h"

namespace cuae {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A field's text without its quotes (a doubled quote inside stays doubled: numbers have none) and
// the 1-based column where it starts.
struct Field {
  std::string_view text;
  int64_t column;
};

class LineSplitter {
 public:
  LineSplitter(const std::string& file, char delimiter) : file_(file), delimiter_(delimiter) {}

  const std::vector<Field>& split(std::string_view line, int64_t line_number) {
    fields_.clear();
    size_t pos = 0;
    while (true) {
      while (pos < line.size() && line[pos] != delimiter_ && is_space(line[pos])) ++pos;
      const auto column = static_cast<int64_t>(pos + 1);
      size_t end = pos;
      std::string_view text;
      if (pos < line.size() && line[pos] == '"') {
        end = closing_quote(line, pos + 1, line_number, column);
        text = trim(line.substr(pos + 1, end - pos - 1));
        ++end;
        while (end < line.size() && line[end] != delimiter_ && is_space(line[end])) ++end;
        if (end < line.size() && line[end] != delimiter_) fail(line_number, end + 1, "text after a closing quote");
      } else {
        end = line.find(delimiter_, pos);
        if (end == std::string_view::npos) end = line.size();
        text = trim(line.substr(pos, end - pos));
      }
      fields_.push_back({text, column});
      if (end >= line.size()) break;
      pos = end + 1;
    }
    return fields_;
  }

 private:
  size_t closing_quote(std::string_view line, size_t pos, int64_t line_number, int64_t column) const {
    for (; pos < line.size(); ++pos) {
      if (line[pos] != '"') continue;
      if (pos + 1 < line.size() && line[pos + 1] == '"') {
        ++pos;  // "" is an escaped quote
        continue;
      }
      return pos;
    }
    fail(line_number, static_cast<size_t>(column),
         "unterminated quoted field (a line break inside quotes is not supported)");
  }
  [[noreturn]] void fail(int64_t line, size_t column, const std::string& what) const {
    throw IoError(file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what);
  }

  const std::string& file_;
  char delimiter_;
  std::vector<Field> fields_;
};

bool parse_float(std::string_view text, float& value) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);  // from_chars rejects a leading '+'
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// A field that holds another common delimiter was probably split with the wrong one.
std::string delimiter_hint(std::string_view text, char delimiter) {
  for (const char c : {',', ';', '\t', '|'}) {
    if (c == delimiter || text.find(c) == std::string_view::npos) continue;
    return std::string(" (are the fields separated by '") + (c == '\t' ? std::string("\\t") : std::string(1, c)) +
           "'? set the delimiter with --csv-delimiter)";
  }
  return "";
}

bool is_pandas_index_name(std::string_view cell) {
  if (cell.empty()) return true;
  if (!cell.starts_with("Unnamed: ") || cell.size() == 9) return false;
  for (const char c : cell.substr(9))
    if (c < '0' || c > '9') return false;
  return true;
}

// What the first line says: whether it is a header, and how many leading index columns it names.
struct HeaderInfo {
  bool is_header = false;
  int64_t index_columns = 0;
  bool numbered = false;  // pandas' default column names 0, 1, 2, ...
};

HeaderInfo classify_first_line(const std::vector<Field>& fields, bool header_flag) {
  HeaderInfo info;
  while (info.index_columns < static_cast<int64_t>(fields.size()) &&
         is_pandas_index_name(fields[static_cast<size_t>(info.index_columns)].text)) {
    ++info.index_columns;
  }
  bool any_number = false;
  int64_t counting = 0;  // fields after the index names that read 0, 1, 2, ...
  for (size_t i = 0; i < fields.size(); ++i) {
    float v = 0;
    const bool number = parse_float(fields[i].text, v);
    any_number = any_number || number;
    if (static_cast<int64_t>(i) >= info.index_columns && counting == static_cast<int64_t>(i) - info.index_columns &&
        number && fields[i].text == std::to_string(counting)) {
      ++counting;
    }
  }
  const int64_t named = static_cast<int64_t>(fields.size()) - info.index_columns;
  info.numbered = counting == named && named >= 3;
  info.is_header = header_flag || !any_number || info.numbered;
  if (!info.is_header || info.index_columns == static_cast<int64_t>(fields.size())) info.index_columns = 0;
  return info;
}

}  // namespace

Dataset load_csv(const std::filesystem::path& path, const LoadOptions& options) {
  const std::string name = path.string();
  data::require_regular_file(path);
  if (options.csv_skip_cols < 0) throw IoError(name + ": negative number of columns to skip");
  const char delimiter = options.csv_delimiter;
  if (delimiter == '"' || delimiter == '\n' || delimiter == '\r' || delimiter == '\0') {
    throw IoError(name + ": the CSV delimiter cannot be a quote, a line break or NUL");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(name + ": cannot open CSV file");

  LineSplitter splitter(name, delimiter);
  std::vector<float> values;
  int64_t cols = -1, rows = 0, line_number = 0, skip = options.csv_skip_cols;
  std::string line;
  bool first_content_line = true;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const std::vector<Field>& fields = splitter.split(line, line_number);
    if (first_content_line) {
      first_content_line = false;
      const HeaderInfo header = classify_first_line(fields, options.csv_header);
      if (header.numbered) {
        data::note(options.note, name + ": first line read as pandas' default column names 0, 1, 2, ...");
      }
      if (skip == 0 && header.index_columns > 0) {
        skip = header.index_columns;
        data::note(options.note, name + ": dropped " + std::to_string(skip) + " leading index column" +
                                     (skip > 1 ? "s" : "") + " (unnamed in the header, as pandas' to_csv() writes " +
                                     "the index; save with index=False to leave it out)");
      }
      if (header.is_header) continue;
    }
    const auto width = static_cast<int64_t>(fields.size());
    if (width <= skip) {
      throw IoError(name + ":" + std::to_string(line_number) + ": row has " + std::to_string(width) +
                    " fields, none left after skipping " + std::to_string(skip) + " columns");
    }
    if (cols < 0) cols = width - skip;
    if (width - skip != cols) {
      throw IoError(name + ":" + std::to_string(line_number) + ": row has " + std::to_string(width) +
                    " fields, earlier rows have " + std::to_string(cols + skip));
    }
    for (size_t i = static_cast<size_t>(skip); i < fields.size(); ++i) {
      const Field& f = fields[i];
      float v = std::numeric_limits<float>::quiet_NaN();  // an empty field is a missing value
      if (!f.text.empty() && !parse_float(f.text, v)) {
        throw IoError(name + ":" + std::to_string(line_number) + ":" + std::to_string(f.column) + ": '" +
                      std::string(f.text.substr(0, 40)) + "' is not a number" + delimiter_hint(f.text, delimiter));
      }
      values.push_back(v);
    }
    ++rows;
  }
  if (in.bad()) throw IoError(name + ": read error");
  if (rows == 0) throw IoError(name + ": CSV file has no data rows");
  if (skip == 0 && rows >= 3 && cols > 1) {
    bool counts = true;
    for (int64_t r = 0; r < rows && counts; ++r)
      counts = values[static_cast<size_t>(r * cols)] == static_cast<float>(r);
    if (counts) {
      data::note(options.note, name +
                                   ": the first column counts 0, 1, 2, ...: if it is an index, drop it "
                                   "(--csv-skip-cols 1)");
    }
  }
  return Dataset::from_floats(std::move(values), rows, cols, name);
}

}  // namespace cuae
