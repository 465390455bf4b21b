// `cuae reconstruct`: the model's reconstructions, either every row as float32 .npy, or, for
// image-shaped data (a square number of features), a PNG grid of the first --count images in rows of
// --columns, each row of originals above the row of their reconstructions, scaled up --scale times.
// With --noise SPEC the model reconstructs corrupted inputs (the corruption training applies, drawn
// from the model's seed), and the grid shows corrupted, restored and original rows: what a denoising
// model restores.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/png.h"
#include "cuae/dataset.h"
#include "cuae/error.h"
#include "cuae/regularization.h"

namespace cuae::cli {

namespace {

struct GridOptions {
  int64_t count = 16;
  int64_t columns = 8;
  int scale = 3;  // 28x28 images become 84x84: readable on any screen
};

int64_t square_side(int64_t features) {
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(features))));
  return side * side == features ? side : 0;
}

void draw_tile(Image& image, const float* pixels, int64_t side, int x0, int y0, int scale) {
  for (int64_t y = 0; y < side; ++y)
    for (int64_t x = 0; x < side; ++x) {
      // Linear outputs may leave [0, 1]; a diverged model may give NaN, drawn black rather than UB.
      const float v = pixels[y * side + x];
      const auto g = static_cast<uint8_t>(std::isnan(v) ? 0 : std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
      image.fill_rect(x0 + static_cast<int>(x) * scale, y0 + static_cast<int>(y) * scale, scale, scale, {g, g, g});
    }
}

// Rows of `columns` images: for each group, one row per entry of `shown` (e.g. originals, then
// their reconstructions right below).
void write_grid(const std::string& out, const std::vector<Matrix>& shown, const GridOptions& g) {
  const int64_t side = square_side(shown.front().cols);
  if (side == 0) {
    throw Error(out + ": a PNG grid needs square images, and " + std::to_string(shown.front().cols) +
                " features is not a square number (write .npy instead)");
  }
  const int64_t n = shown.front().rows;
  const int64_t columns = std::min(g.columns, n);
  const int64_t rows = (n + columns - 1) / columns;
  constexpr int kGap = 2, kGroupGap = 8;  // between tiles, and between a group of rows and the next
  const int tile = static_cast<int>(side) * g.scale;
  const int kinds = static_cast<int>(shown.size());
  const int group_height = kinds * (tile + kGap) - kGap + kGroupGap;
  Image image(static_cast<int>(columns) * (tile + kGap) + kGap, static_cast<int>(rows) * group_height + kGap,
              {128, 128, 128});
  for (int64_t i = 0; i < n; ++i) {
    const int x = kGap + static_cast<int>(i % columns) * (tile + kGap);
    const int y = kGap + static_cast<int>(i / columns) * group_height;
    for (int k = 0; k < kinds; ++k) draw_tile(image, shown[static_cast<size_t>(k)].row(i), side, x, y + k * (tile + kGap), g.scale);
  }
  write_png(out, image);
}

// The inputs as training with `noise` corrupts them (the model's seed, step 0).
Dataset corrupted(const Dataset& data, const Noise& noise, const Model& model) {
  Matrix m = data.to_matrix();
  const bool clip = model.config().output_activation == Activation::sigmoid;
  apply_noise(noise, model.config().seed, 0, clip, m.data, m.data);
  return Dataset::from_floats(std::move(m.data), data.rows(), data.cols(), data.name() + " with " + to_string(noise));
}

}  // namespace

void add_reconstruct_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("reconstruct", "Write reconstructions as .npy, or a .png grid for square images");
  auto o = std::make_shared<ApplyOptions>();
  auto grid = std::make_shared<GridOptions>();
  add_apply_options(*sub, *o, "Output: .npy (every row) or .png (a grid of originals above reconstructions)");
  sub->add_option("--count", grid->count, "Images in a .png grid")->capture_default_str();
  sub->add_option("--columns", grid->columns, "Images per row of a .png grid")->capture_default_str();
  sub->add_option("--scale", grid->scale, "Pixels per image pixel in a .png grid")->capture_default_str();
  auto noise = std::make_shared<std::string>("none");
  sub->add_option("--noise", *noise,
                  "Reconstruct inputs corrupted by gaussian:SIGMA, mask:P or salt-pepper:P (a .png grid shows "
                  "corrupted, restored and original rows)")
      ->capture_default_str();
  sub->callback([o, grid, noise] {
    check_output_path(o->out, "--out", {".npy", ".png"});
    if (grid->count < 1 || grid->columns < 1 || grid->scale < 1 || grid->scale > 16) {
      throw UsageError("--count and --columns must be >= 1 and --scale in [1, 16]");
    }
    Noise corruption;
    try {
      corruption = parse_noise(*noise);
    } catch (const Error& e) {
      throw UsageError(std::string("--noise: ") + e.what());
    }
    ModelAndData m = load_model_and_data(*o, "reconstruct");
    const bool noisy = corruption.kind != Noise::Kind::none;
    if (o->out.ends_with(".png")) {
      const Dataset first = m.data.slice(0, std::min(grid->count, m.data.rows()));
      const Dataset input = noisy ? corrupted(first, corruption, m.model) : first;
      std::vector<Matrix> shown;  // top to bottom in each group of rows
      if (noisy) shown.push_back(input.to_matrix());  // corrupted, restored, original
      if (!noisy) shown.push_back(first.to_matrix());  // original, reconstruction
      shown.push_back(m.model.reconstruct(input));
      if (noisy) shown.push_back(first.to_matrix());
      write_grid(o->out, shown, *grid);
      std::printf("wrote %s (%lld images in rows of %lld: %s)\n", o->out.c_str(), static_cast<long long>(first.rows()),
                  static_cast<long long>(std::min(grid->columns, first.rows())),
                  noisy ? "corrupted above restored above original" : "each original above its reconstruction");
      return;
    }
    const Matrix recon = m.model.reconstruct(noisy ? corrupted(m.data, corruption, m.model) : m.data);
    save_npy(o->out, recon.view());
    std::printf("wrote %s [%lld, %lld]\n", o->out.c_str(), static_cast<long long>(recon.rows),
                static_cast<long long>(recon.cols));
  });
}

}  // namespace cuae::cli
