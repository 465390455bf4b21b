// load_dataset: turns a source string into a Dataset, picking the loader from the spec or the file
// extension, applies LoadOptions::scale, and refuses non-finite values (which would silently turn
// every loss into NaN) unless the caller asked to drop those rows. The non-finite check is the
// data set's value_range() pass, so the range is known afterwards without reading the file again.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cuae/dataset.h"
#include "cuae/error.h"
#include "io/notes.h"

namespace cuae {

namespace {

constexpr std::string_view kFashionDir = "/usr/share/datasets/fashion-mnist";

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

// "N,D" or "N,D,K" after the "kind:" prefix; every number a positive integer.
std::vector<int64_t> parse_dims(std::string_view spec, std::string_view list, size_t count) {
  std::vector<int64_t> dims;
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view part = list.substr(0, comma);
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (ec != std::errc() || end != part.data() + part.size() || value <= 0) {
      throw Error(std::string(spec) + ": '" + std::string(part) + "' is not a positive integer");
    }
    dims.push_back(value);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (dims.size() != count) {
    throw Error(std::string(spec) + ": expected " + std::to_string(count) + " comma-separated sizes, got " +
                std::to_string(dims.size()));
  }
  return dims;
}

Dataset load_fashion_mnist(std::string_view split) {
  const char* override_dir = std::getenv("CUAE_FASHION_MNIST_DIR");  // lets tests point elsewhere
  const std::filesystem::path dir = override_dir ? override_dir : std::string(kFashionDir);
  std::string file;
  if (split.empty() || split == "train") file = "train-images-idx3-ubyte.gz";
  else if (split == "test") file = "t10k-images-idx3-ubyte.gz";
  else throw Error("fashion-mnist:" + std::string(split) + ": unknown split (use fashion-mnist or fashion-mnist:test)");
  const std::filesystem::path path = dir / file;
  if (!std::filesystem::exists(path)) {
    throw IoError(path.string() + ": Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
  }
  return load_idx(path);
}

Dataset load_file(std::string_view source, const LoadOptions& options) {
  const std::filesystem::path path{std::string(source)};
  std::string_view stem = source;
  if (ends_with(stem, ".gz")) stem.remove_suffix(3);
  if (ends_with(stem, ".idx") || ends_with(stem, "-ubyte")) return load_idx(path);
  if (ends_with(source, ".npy")) return load_npy(path, options);
  if (ends_with(source, ".npz")) return load_npz(path, options);
  if (ends_with(source, ".csv")) return load_csv(path, options);
  if (ends_with(source, ".raw") || ends_with(source, ".f32") || ends_with(source, ".bin")) {
    return load_raw_f32(path, options.raw_cols);
  }
  throw IoError(std::string(source) +
                ": unknown data source (expected a .npy, .npz, .csv, .idx/-ubyte[.gz] or .raw/.f32/.bin file, "
                "fashion-mnist[:test], random:N,D or structured:N,D,K)");
}

// Why a file may hold NaN or Inf beyond "the data has gaps", by format.
std::string non_finite_hint(std::string_view source) {
  if (ends_with(source, ".csv")) return " (an empty CSV cell counts as NaN)";
  if (ends_with(source, ".raw") || ends_with(source, ".f32") || ends_with(source, ".bin")) {
    return " (is the file float32? float64 or integers read as float32 give such values)";
  }
  return "";
}

int64_t first_non_finite_row(const Dataset& data) {
  const auto* values = static_cast<const float*>(data.raw());
  const int64_t n = data.rows() * data.cols();
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(values[i])) return i / data.cols();
  return -1;
}

Dataset check_finite(Dataset data, std::string_view source, const LoadOptions& options) {
  if (data.dtype() != DType::f32) return data;  // uint8 is finite by construction
  if (data.value_range().finite) return data;   // the one pass over the values, cached
  if (!options.drop_non_finite) {
    throw IoError(data.name() + ": row " + std::to_string(first_non_finite_row(data)) + " (0-based) holds NaN or Inf" +
                  non_finite_hint(source) + "; fix the data or drop such rows (--drop-non-finite)");
  }
  const auto* values = static_cast<const float*>(data.raw());
  std::vector<float> kept;
  int64_t rows = 0;
  for (int64_t r = 0; r < data.rows(); ++r) {
    const float* row = values + r * data.cols();
    bool finite = true;
    for (int64_t c = 0; c < data.cols(); ++c) finite = finite && std::isfinite(row[c]);
    if (!finite) continue;
    kept.insert(kept.end(), row, row + data.cols());
    ++rows;
  }
  if (rows == 0) throw IoError(data.name() + ": every row holds NaN or Inf" + non_finite_hint(source));
  data::note(options.note, data.name() + ": dropped " + std::to_string(data.rows() - rows) + " of " +
                               std::to_string(data.rows()) + " rows holding NaN or Inf");
  return Dataset::from_floats(std::move(kept), rows, data.cols(), data.name());
}

// Every value times options.scale, in float32 (computed in double, so 255 * (1.0 / 255) is 1).
Dataset scaled(const Dataset& data, const LoadOptions& options) {
  if (options.scale == 1.0) return data;
  if (!std::isfinite(options.scale) || options.scale == 0.0) {
    throw Error(data.name() + ": scale " + std::to_string(options.scale) + " must be finite and non-zero");
  }
  std::vector<float> values(static_cast<size_t>(data.rows() * data.cols()));
  data.copy_rows(0, data.rows(), values.data());
  for (float& v : values) v = static_cast<float>(static_cast<double>(v) * options.scale);
  return Dataset::from_floats(std::move(values), data.rows(), data.cols(), data.name());
}

}  // namespace

Dataset load_dataset(std::string_view source, const LoadOptions& options) {
  if (source.empty()) throw Error("load_dataset: empty data source");
  if (source == "fashion-mnist") return scaled(load_fashion_mnist(""), options);
  if (source.starts_with("fashion-mnist:")) return scaled(load_fashion_mnist(source.substr(14)), options);
  if (source.starts_with("random:")) {
    const auto d = parse_dims(source, source.substr(7), 2);
    return scaled(make_random(d[0], d[1], options.seed), options);
  }
  if (source.starts_with("structured:")) {
    const auto d = parse_dims(source, source.substr(11), 3);
    return scaled(make_structured(d[0], d[1], d[2], options.seed), options);
  }
  return check_finite(scaled(load_file(source, options), options), source, options);
}

}  // namespace cuae
