// `cuae reconstruct`: the model's reconstructions, either every row as float32 .npy, or, for
// image-shaped data (a square number of features), a PNG grid of the first --count images in rows of
// --columns, each row of originals above the row of their reconstructions, scaled up --scale times.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/png.h"
#include "cuae/dataset.h"
#include "cuae/error.h"

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

// Rows of `columns` images: a row of originals, then the row of their reconstructions right below.
void write_grid(const std::string& out, const Dataset& data, Model& model, const GridOptions& g) {
  const int64_t side = square_side(data.cols());
  if (side == 0) {
    throw Error(out + ": a PNG grid needs square images, and " + std::to_string(data.cols()) +
                " features is not a square number (write .npy instead)");
  }
  if (g.count < 1 || g.columns < 1 || g.scale < 1 || g.scale > 16) {
    throw Error("--count and --columns must be >= 1 and --scale in [1, 16]");
  }
  const int64_t n = std::min(g.count, data.rows());
  const int64_t columns = std::min(g.columns, n);
  const int64_t rows = (n + columns - 1) / columns;
  const Dataset first = data.slice(0, n);
  const Matrix originals = first.to_matrix();
  const Matrix recon = model.reconstruct(first);
  constexpr int kGap = 2, kPairGap = 8;  // between tiles, and between a pair of rows and the next
  const int tile = static_cast<int>(side) * g.scale;
  const int pair_height = 2 * tile + kGap + kPairGap;
  Image image(static_cast<int>(columns) * (tile + kGap) + kGap, static_cast<int>(rows) * pair_height + kGap,
              {128, 128, 128});
  for (int64_t i = 0; i < n; ++i) {
    const int x = kGap + static_cast<int>(i % columns) * (tile + kGap);
    const int y = kGap + static_cast<int>(i / columns) * pair_height;
    draw_tile(image, originals.row(i), side, x, y, g.scale);
    draw_tile(image, recon.row(i), side, x, y + tile + kGap, g.scale);
  }
  write_png(out, image);
  std::printf("wrote %s (%lld originals, each above its reconstruction, %lld per row)\n", out.c_str(),
              static_cast<long long>(n), static_cast<long long>(columns));
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
  sub->callback([o, grid] {
    check_output_path(o->out, "--out", {".npy", ".png"});
    ModelAndData m = load_model_and_data(*o, "reconstruct");
    if (o->out.ends_with(".png")) {
      write_grid(o->out, m.data, m.model, *grid);
      return;
    }
    const Matrix recon = m.model.reconstruct(m.data);
    save_npy(o->out, recon.view());
    std::printf("wrote %s [%lld, %lld]\n", o->out.c_str(), static_cast<long long>(recon.rows),
                static_cast<long long>(recon.cols));
  });
}

}  // namespace cuae::cli
