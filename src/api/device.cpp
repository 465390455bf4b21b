// Device names: "cpu", "cuda", "cuda:N".
#include "cuae/device.h"

#include <charconv>
#include <string>

#include "cuae/error.h"

namespace cuae {

Device Device::best() { return cuda_status().usable ? cuda(0) : cpu(); }

Device Device::parse(std::string_view text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  constexpr std::string_view kPrefix = "cuda:";
  if (text.starts_with(kPrefix)) {
    const std::string_view digits = text.substr(kPrefix.size());
    int index = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() && index >= 0) {
      return cuda(index);
    }
  }
  throw Error("device: unknown device '" + std::string(text) + "'; accepted: cpu, cuda, cuda:N (N >= 0)");
}

std::string Device::str() const {
  return kind == DeviceKind::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

}  // namespace cuae
