// The one exception type of the library. Its message names what was wrong, where, and what was expected, so the
// command-line tool can print it on one line and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace cnn {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace cnn
