// Reporting a loader's notes (cuae/read_options.h) without printing from the library.
#pragma once

#include <string>

#include "cuae/read_options.h"

namespace cuae::data {

inline void note(const NoteSink& sink, const std::string& text) {
  if (sink) sink(text);
}

}  // namespace cuae::data
