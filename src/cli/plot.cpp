#include "cli/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include <stb_easy_font.h>

#include "cuae/error.h"

namespace cuae::cli {

namespace {

constexpr Rgb kBlack{0, 0, 0}, kGrid{225, 225, 225}, kWhite{255, 255, 255}, kGrey{90, 90, 90};
constexpr int kTextScale = 2;

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks over `range`.
double nice_step(double range, int target) {
  const double raw = range / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
}

std::string tick_label(double value, double step) {
  char text[32];
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// A 2-pixel-wide segment: a plain DDA, plenty for a few dozen points.
void draw_line(Image& image, double x0, double y0, double x1, double y1, Rgb color) {
  const int steps = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    image.fill_rect(static_cast<int>(std::lround(x0 + t * (x1 - x0))), static_cast<int>(std::lround(y0 + t * (y1 - y0))),
                    2, 2, color);
  }
}

struct Axes {
  int left, top, right, bottom;  // pixel box of the plot area
  double x_min, x_max, y_min, y_max;
  double px(double x) const { return left + (x - x_min) / (x_max - x_min) * (right - left); }
  double py(double y) const { return bottom - (y - y_min) / (y_max - y_min) * (bottom - top); }
};

using Value = double (*)(const EpochStats&);
double train_value(const EpochStats& e) { return e.train_loss; }
double val_value(const EpochStats& e) { return e.val_loss; }
double lr_value(const EpochStats& e) { return e.learning_rate; }

void draw_series(Image& image, const Axes& axes, const std::vector<EpochStats>& epochs, Value value, Rgb color) {
  bool have_previous = false;
  double px = 0, py = 0;
  for (const EpochStats& e : epochs) {
    if (!e.complete) continue;  // an interrupted epoch's partial row; its resumed run adds the finished one
    const double v = value(e);
    if (!std::isfinite(v)) {
      have_previous = false;
      continue;
    }
    const double x = axes.px(e.epoch), y = axes.py(v);
    if (have_previous) draw_line(image, px, py, x, y, color);
    image.fill_rect(static_cast<int>(x) - 3, static_cast<int>(y) - 3, 7, 7, color);
    px = x;
    py = y;
    have_previous = true;
  }
}

}  // namespace

int text_width(const std::string& text, int scale) {
  std::string copy = text;
  return stb_easy_font_width(copy.data()) * scale;
}

void draw_text(Image& image, int x, int y, const std::string& text, Rgb color, int scale) {
  std::string copy = text;
  // 64 bytes per quad and up to ~14 segments per glyph; stb_easy_font silently truncates when short.
  std::vector<char> quads(std::max<size_t>(1, text.size()) * 1024);
  unsigned char rgba[4] = {color.r, color.g, color.b, 255};
  const int count = stb_easy_font_print(0, 0, copy.data(), rgba, quads.data(), static_cast<int>(quads.size()));
  for (int q = 0; q < count; ++q) {
    // Each quad is 4 vertices of {float x, y, z; uint8 rgba[4]}; they are axis-aligned rectangles.
    float corner0[2], corner2[2];
    std::memcpy(corner0, quads.data() + q * 64, sizeof corner0);
    std::memcpy(corner2, quads.data() + q * 64 + 32, sizeof corner2);
    // Scale before rounding: the font's coordinates have half-pixel steps.
    const float fx = std::min(corner0[0], corner2[0]) * scale, fy = std::min(corner0[1], corner2[1]) * scale;
    const float fw = std::abs(corner2[0] - corner0[0]) * scale, fh = std::abs(corner2[1] - corner0[1]) * scale;
    const int x0 = static_cast<int>(std::lround(fx)), y0 = static_cast<int>(std::lround(fy));
    const int w = static_cast<int>(std::lround(fx + fw)) - x0, h = static_cast<int>(std::lround(fy + fh)) - y0;
    image.fill_rect(x + x0, y + y0, w, h, color);
  }
}

namespace {

// The finite range of `values` over the complete epochs, padded, or false when there is none.
bool value_range(const std::vector<EpochStats>& epochs, std::initializer_list<Value> values, double& lo, double& hi) {
  lo = std::numeric_limits<double>::infinity();
  hi = -lo;
  for (const EpochStats& e : epochs) {
    if (!e.complete) continue;
    for (const Value value : values)
      if (std::isfinite(value(e))) lo = std::min(lo, value(e)), hi = std::max(hi, value(e));
  }
  if (!std::isfinite(lo)) return false;
  const double pad = hi > lo ? 0.08 * (hi - lo) : 0.05 * std::abs(hi) + 1e-3;
  lo -= pad;
  hi += pad;
  return true;
}

// Grid, ticks, axes and the y axis title of one panel.
void draw_frame(Image& image, const Axes& axes, const std::string& y_title, bool x_labels) {
  const double y_step = nice_step(axes.y_max - axes.y_min, 6);
  for (double y = std::ceil(axes.y_min / y_step) * y_step; y <= axes.y_max; y += y_step) {
    const int py = static_cast<int>(axes.py(y));
    image.fill_rect(axes.left, py, axes.right - axes.left, 1, kGrid);
    image.fill_rect(axes.left - 6, py, 6, 1, kBlack);
    const std::string label = tick_label(y, y_step);
    draw_text(image, axes.left - 10 - text_width(label, kTextScale), py - 6, label, kBlack, kTextScale);
  }
  const double x_step = std::max(1.0, nice_step(axes.x_max - axes.x_min, 10));
  for (double x = axes.x_min; x <= axes.x_max + 1e-9; x += x_step) {
    const int px = static_cast<int>(axes.px(x));
    image.fill_rect(px, axes.top, 1, axes.bottom - axes.top, kGrid);
    image.fill_rect(px, axes.bottom, 1, 6, kBlack);
    const std::string label = tick_label(x, 1);
    if (x_labels) draw_text(image, px - text_width(label, kTextScale) / 2, axes.bottom + 12, label, kBlack, kTextScale);
  }
  image.fill_rect(axes.left, axes.top, 2, axes.bottom - axes.top + 1, kBlack);      // y axis
  image.fill_rect(axes.left, axes.bottom, axes.right - axes.left + 1, 2, kBlack);   // x axis
  draw_text(image, 12, axes.top - 26, y_title, kGrey, kTextScale);
}

}  // namespace

// The loss panel, and below it a learning-rate panel when the rate changed during the run.
Image render_loss_plot(const std::vector<EpochStats>& epochs, const std::string& title) {
  if (epochs.empty()) throw Error("plot: no epochs to draw");
  int last_epoch = 1;
  bool has_val = false, lr_varies = false;
  for (const EpochStats& e : epochs) {
    last_epoch = std::max(last_epoch, e.epoch);
    has_val = has_val || std::isfinite(e.val_loss);
    lr_varies = lr_varies || (e.complete && e.learning_rate != epochs.front().learning_rate);
  }
  const int lr_panel = lr_varies ? 220 : 0;
  Image image(900, 560 + lr_panel, kWhite);
  Axes axes{110, 60, 870, 470, 1, static_cast<double>(std::max(last_epoch, 2)), 0, 1};
  if (!value_range(epochs, {train_value, val_value}, axes.y_min, axes.y_max)) {
    throw Error("plot: every loss in the metrics is NaN or Inf");
  }
  draw_frame(image, axes, "loss", true);
  draw_text(image, (image.width() - text_width(title, 3)) / 2, 14, title, kBlack, 3);
  const int x_title_y = axes.bottom + 40 + lr_panel;
  draw_text(image, (axes.left + axes.right - text_width("epoch", kTextScale)) / 2, x_title_y, "epoch", kGrey,
            kTextScale);
  draw_series(image, axes, epochs, train_value, kTrainColor);
  if (has_val) draw_series(image, axes, epochs, val_value, kValColor);
  if (lr_varies) {
    Axes lr{axes.left, axes.bottom + 70, axes.right, axes.bottom + 70 + lr_panel - 40, axes.x_min, axes.x_max, 0, 1};
    value_range(epochs, {lr_value}, lr.y_min, lr.y_max);
    draw_frame(image, lr, "learning rate (last step of the epoch)", true);
    draw_series(image, lr, epochs, lr_value, kLrColor);
  }

  // Legend, top right inside the loss panel.
  const int lx = axes.right - 190, ly = axes.top + 12;
  const int rows = has_val ? 2 : 1;
  image.fill_rect(lx - 1, ly - 1, 182, 20 * rows + 14, kGrey);
  image.fill_rect(lx, ly, 180, 20 * rows + 12, kWhite);
  draw_line(image, lx + 10, ly + 14, lx + 40, ly + 14, kTrainColor);
  draw_text(image, lx + 50, ly + 8, "train", kBlack, kTextScale);
  if (has_val) {
    draw_line(image, lx + 10, ly + 34, lx + 40, ly + 34, kValColor);
    draw_text(image, lx + 50, ly + 28, "validation", kBlack, kTextScale);
  }
  return image;
}

}  // namespace cuae::cli
