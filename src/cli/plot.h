// Loss curves as an image: train and validation loss per epoch on labelled axes, with tick labels,
// axis titles, a title and a legend; below them the learning rate, when a schedule changed it. Text is drawn with stb_easy_font (a bitmap font as quads), so
// no font files are needed.
#pragma once

#include <string>
#include <vector>

#include "cli/png.h"
#include "cuae/fit.h"

namespace cuae::cli {

inline constexpr Rgb kTrainColor{31, 119, 180};  // blue
inline constexpr Rgb kValColor{255, 127, 14};    // orange: tells apart from blue for most colour vision
inline constexpr Rgb kLrColor{44, 160, 44};      // green

Image render_loss_plot(const std::vector<EpochStats>& epochs, const std::string& title);

// Text with its top-left corner at (x, y), each font pixel drawn as scale x scale pixels.
void draw_text(Image& image, int x, int y, const std::string& text, Rgb color, int scale);
int text_width(const std::string& text, int scale);

}  // namespace cuae::cli
