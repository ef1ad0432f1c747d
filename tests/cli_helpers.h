// What the tests that run the `cnn` tool share: a scratch folder per test, a file's bytes, eval's accuracy.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

namespace cnn::test {

// A folder of its own for the running test (prefix, process, test name), removed after it.
struct Scratch {
  std::filesystem::path dir;
  explicit Scratch(const std::string& prefix = "cnn_cli_") {
    dir = std::filesystem::temp_directory_path() /
          (prefix + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
  }
  ~Scratch() { std::filesystem::remove_all(dir); }
  std::string operator/(const std::string& n) const { return (dir / n).string(); }
};

inline std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// The accuracy `cnn eval` printed, as a fraction (−1 when it printed none).
inline double accuracy_of(const std::string& eval_output) {
  std::smatch m;
  if (!std::regex_search(eval_output, m, std::regex("accuracy ([0-9.]+)%"))) return -1;
  return std::stod(m[1]) / 100.0;
}

}  // namespace cnn::test
