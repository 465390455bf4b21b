// Shared by the loader tests: a fresh directory per test, byte-level writers (so that a reader is
// not tested against our own writer), the fixtures in tests/data written by NumPy, pandas, PyTorch
// and safetensors (tests/data/make_fixtures.py), the formulas their values follow, and a note sink.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "cuae/dataset.h"

namespace cuae::test {

namespace fs = std::filesystem;

inline constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();

// A fresh directory per test, removed afterwards.
class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / (std::string("cuae_data_") + info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file(const std::string& name) const { return dir_ / name; }
  fs::path dir_;
};

// A file of tests/data, written by the real tool.
inline fs::path fixture(const std::string& relative) { return fs::path(CUAE_SOURCE_DIR) / "tests/data" / relative; }

// make_fixtures.py's values: arrays hold k * 0.25 - 3 at C-order index k, parameters k * 0.125 - 1.
inline std::vector<float> arange_values(size_t n) {
  std::vector<float> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<float>(k) * 0.25f - 3.0f;
  return v;
}
inline std::vector<float> parameter_values(size_t n) {
  std::vector<float> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<float>(k) * 0.125f - 1.0f;
  return v;
}

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

template <typename T>
std::string as_bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

// A .npy file with a hand-written header.
inline std::string npy_bytes(const std::string& descr, const std::string& shape, const std::string& payload,
                             int major = 1, const std::string& order = "False") {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
  const size_t prefix = 8 + (major == 1 ? 2 : 4);
  dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  const size_t n = dict.size();
  s += static_cast<char>(n & 0xFF);
  s += static_cast<char>((n >> 8) & 0xFF);
  if (major != 1) s += std::string(2, '\0');
  return s + dict + payload;
}

// All rows as float32 through a poisoned buffer, so a row the loader failed to fill shows as NaN.
inline std::vector<float> rows_of(const Dataset& d) {
  std::vector<float> out(static_cast<size_t>(d.rows() * d.cols()), kPoison);
  d.copy_rows(0, d.rows(), out.data());
  return out;
}

// Whether p lies in a memory map of `file` (/proc/self/maps), i.e. the loader did not copy it.
inline bool is_mapped_from(const void* p, const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  const std::string target = fs::canonical(file).string();
  const auto address = reinterpret_cast<uintptr_t>(p);
  std::string line;
  while (std::getline(maps, line)) {
    if (!line.ends_with(target)) continue;
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && address >= lo && address < hi) return true;
  }
  return false;
}

// Collects the notes a loader reports.
struct Notes {
  std::vector<std::string> seen;
  NoteSink sink() {
    return [this](std::string_view text) { seen.emplace_back(text); };
  }
  std::string all() const {
    std::string text;
    for (const std::string& s : seen) text += s + "\n";
    return text;
  }
};

}  // namespace cuae::test
