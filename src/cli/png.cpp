#include "cli/png.h"

#include <cstddef>
#include <span>
#include <string>

#include "cuae/error.h"
#include "io/atomic_file.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace cuae::cli {

Image::Image(int width, int height, Rgb background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0 || width > 1 << 15 || height > 1 << 15) {
    throw Error("image: size " + std::to_string(width) + "x" + std::to_string(height) + " is out of range");
  }
  pixels_.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  fill_rect(0, 0, width, height, background);
}

void Image::set(int x, int y, Rgb color) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  uint8_t* p = pixels_.data() + (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  p[0] = color.r;
  p[1] = color.g;
  p[2] = color.b;
}

void Image::fill_rect(int x, int y, int w, int h, Rgb color) {
  for (int j = y; j < y + h; ++j)
    for (int i = x; i < x + w; ++i) set(i, j, color);
}

namespace {

void append(void* context, void* data, int size) {
  auto* bytes = static_cast<std::vector<std::byte>*>(context);
  const auto* begin = static_cast<const std::byte*>(data);
  bytes->insert(bytes->end(), begin, begin + size);
}

}  // namespace

void write_png(const std::filesystem::path& path, const Image& image) {
  std::vector<std::byte> encoded;
  if (stbi_write_png_to_func(append, &encoded, image.width(), image.height(), 3, image.pixels(), image.width() * 3) ==
      0) {
    throw IoError(path.string() + ": PNG encoding failed");
  }
  data::write_file_atomically(path, encoded);
}

}  // namespace cuae::cli
