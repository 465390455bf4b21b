// message_of<E>(fn): the message of the cuae::Error subtype E that fn throws, for HasSubstr checks.
// When fn throws something else or nothing, the returned text says so, so the check still fails
// with a readable message.
#pragma once

#include <exception>
#include <string>

#include "cuae/error.h"

namespace cuae {

template <typename E = Error, typename Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

}  // namespace cuae
