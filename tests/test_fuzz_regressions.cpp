// Every input the fuzzers (tests/fuzz/, scripts/fuzz.sh) found to crash a reader, kept as a test of the one-line
// refusal that replaced the crash. The inputs are the fuzzers' own, byte for byte, in
// tests/fuzz/regressions/<target>-crash-<sha1> (libFuzzer's name), and each goes through what its target does with
// it: the first byte is the target's switch.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "cnn/cnn.h"

namespace cnn {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a cnn::Error: ") + e.what();
  }
  return "(no error)";
}

std::string input(const std::string& name) {
  std::ifstream f(std::string(CNN_SOURCE_DIR) + "/tests/fuzz/regressions/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return {std::istreambuf_iterator<char>(f), {}};
}

// What fuzz_model does with its input: the first byte odd, the CRC-32 at the end recomputed; then a file to load.
std::string as_model_file(const std::string& in) {
  std::string b = in.substr(1);
  if ((in[0] & 1) && b.size() >= 4) {
    const auto crc = std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(b.data()), uInt(b.size() - 4)));
    for (int k = 0; k < 4; ++k) b[b.size() - 4 + std::size_t(k)] = char(crc >> (8 * k));
  }
  const std::string path = (std::filesystem::temp_directory_path() / ("cnn_fuzz_" + std::to_string(::getpid()) +
                                                                      ".cnn")).string();
  std::ofstream(path, std::ios::binary) << b;
  return path;
}

// fuzz_netfile, crash-e3f30a9d2fb55eb414f0523e5aba8fcdc0f47e95 (after 301,792 runs): a number too large for a double
// made nlohmann throw json::out_of_range (406) while parsing; network_from_text caught only json::parse_error, so
// the exception left the library as no cnn::Error, and std::terminate ended the fuzzer.
TEST(FuzzRegressions, NetfileNumberOverflowWhileParsingIsAnError) {
  const std::string text = input("netfile-crash-e3f30a9d2fb55eb414f0523e5aba8fcdc0f47e95");
  EXPECT_EQ(error_of([&] { network_from_text(text, "fuzz.json"); }),
            "fuzz.json: not valid JSON ([json.exception.out_of_range.406] number overflow parsing "
            "'22e2222222222222222222222220000000000000')");
}

// fuzz_model, crash-c715cab36bb1933785e04ba3fb5bd85ccfddb81e (after about 35,000 runs): a model file with a right
// checksum whose header names its description "jet", not "net"; h.at("net") threw json::out_of_range (403).
TEST(FuzzRegressions, ModelHeaderWithoutNetIsAnError) {
  const std::string path = as_model_file(input("model-crash-c715cab36bb1933785e04ba3fb5bd85ccfddb81e"));
  EXPECT_EQ(error_of([&] { load_model(path); }), path + ": the header has no \"net\" (the network's description)");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cnn
