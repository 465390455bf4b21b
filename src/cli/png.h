// An RGB8 image in memory and its PNG writer (stb_image_write from Debian's libstb-dev). Written
// atomically: an existing file is replaced only by a complete PNG.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace cuae::cli {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

class Image {
 public:
  Image(int width, int height, Rgb background);

  int width() const { return width_; }
  int height() const { return height_; }
  // Pixels outside the image are ignored, so drawing code need not clip.
  void set(int x, int y, Rgb color);
  void fill_rect(int x, int y, int w, int h, Rgb color);
  const uint8_t* pixels() const { return pixels_.data(); }

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;  // row-major, 3 bytes per pixel
};

void write_png(const std::filesystem::path& path, const Image& image);

}  // namespace cuae::cli
