// Numeric CSV: comma-separated floats, one row per line, every row the same width. The first line is
// a header when LoadOptions::csv_header says so, or when none of its fields is a number (so a
// "x0,x1,..." header needs no flag); otherwise every field must parse. Blank lines are skipped.
// Errors point at file:line:column (1-based) so the offending cell can be found in an editor.
#include <charconv>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/io_checks.h"

namespace cuae {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The fields of one line with the 1-based column where each starts (after leading blanks).
struct Field {
  std::string_view text;
  int64_t column;
};

std::vector<Field> split(std::string_view line) {
  std::vector<Field> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    const std::string_view raw = line.substr(start, comma == std::string_view::npos ? line.npos : comma - start);
    size_t lead = 0;
    while (lead < raw.size() && is_space(raw[lead])) ++lead;
    fields.push_back({trim(raw), static_cast<int64_t>(start + lead + 1)});
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

bool parse_float(std::string_view text, float& value) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);  // from_chars rejects a leading '+'
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

Dataset load_csv(const std::filesystem::path& path, bool header) {
  const std::string name = path.string();
  data::require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(name + ": cannot open CSV file");

  std::vector<float> values;
  int64_t cols = 0, rows = 0, line_number = 0;
  std::string line;
  bool first_content_line = true;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const std::vector<Field> fields = split(line);
    if (first_content_line) {
      first_content_line = false;
      bool any_number = false;
      float ignored = 0;
      for (const Field& f : fields) any_number = any_number || parse_float(f.text, ignored);
      if (header || !any_number) continue;
    }
    if (cols == 0) cols = static_cast<int64_t>(fields.size());
    if (static_cast<int64_t>(fields.size()) != cols) {
      throw IoError(name + ":" + std::to_string(line_number) + ": row has " + std::to_string(fields.size()) +
                    " fields, earlier rows have " + std::to_string(cols));
    }
    for (const Field& f : fields) {
      float v = 0;
      if (!parse_float(f.text, v)) {
        throw IoError(name + ":" + std::to_string(line_number) + ":" + std::to_string(f.column) + ": '" +
                      std::string(f.text.substr(0, 40)) + "' is not a number");
      }
      values.push_back(v);
    }
    ++rows;
  }
  if (in.bad()) throw IoError(name + ": read error");
  if (rows == 0) throw IoError(name + ": CSV file has no data rows");
  return Dataset::from_floats(std::move(values), rows, cols, name);
}

}  // namespace cuae
