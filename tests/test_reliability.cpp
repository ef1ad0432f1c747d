// Bad input met as a user meets it: one line from the project, never a library's own message around it (libpng's
// through OpenCV), and numbers that are not numbers (NaN, infinities, 1e400, denormals) refused or given a meaning.
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include <onnx/onnx_pb.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "helpers.h"
#include "io/picture.h"
#include "web_body.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() / ("cnn_reliability_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string operator/(const std::string& n) const { return (dir / n).string(); }
  std::string put(const std::string& name, const std::string& bytes) const {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return *this / name;
  }
};

// A PNG chunk: length, type, data, CRC-32 of type and data (or a wrong one).
std::string chunk(const std::string& type, const std::string& data, bool good_crc = true) {
  std::string c;
  for (int s = 24; s >= 0; s -= 8) c += char((data.size() >> s) & 0xff);
  c += type + data;
  std::uint32_t crc = std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(c.data() + 4), uInt(c.size() - 4)));
  if (!good_crc) crc ^= 1;
  for (int s = 24; s >= 0; s -= 8) c += char((crc >> s) & 0xff);
  return c;
}

// A 28×28 grey PNG of a diagonal gradient, its IDAT made of `idat` (the zlib stream) and `extra` chunks before it.
std::string png(const std::function<std::string(const std::string&)>& idat, const std::string& extra = "") {
  std::string ihdr = {0, 0, 0, 28, 0, 0, 0, 28, 8, 0, 0, 0, 0};
  std::string raw;
  for (int y = 0; y < 28; ++y) {
    raw += '\0';
    for (int x = 0; x < 28; ++x) raw += char((x * 9 + y * 5) & 0xff);
  }
  std::string z(compressBound(uLong(raw.size())), '\0');
  uLongf zn = uLongf(z.size());
  compress(reinterpret_cast<Bytef*>(z.data()), &zn, reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()));
  z.resize(zn);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + extra + chunk("IDAT", idat(z)) +
         chunk("IEND", "");
}
std::string same(const std::string& z) { return z; }
std::string flipped(const std::string& z) {  // a damaged byte inside the stream, the chunk's CRC still right
  std::string d = z;
  d[d.size() - 2] = char(d[d.size() - 2] ^ 0x55);
  return d;
}

// What `f` writes to stderr (file descriptor 2, where libpng's default handlers write).
std::string stderr_of(const std::function<void()>& f) {
  std::fflush(stderr);
  const std::string path = (fs::temp_directory_path() / ("cnn_stderr_" + std::to_string(::getpid()))).string();
  const int saved = ::dup(2);
  FILE* sink = std::fopen(path.c_str(), "w");
  ::dup2(::fileno(sink), 2);
  f();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(sink);
  const std::string text = read_all(path);
  fs::remove(path);
  return text;
}

struct CmdResult {
  int code;
  std::string out;
};
CmdResult cnn_cmd(const std::string& args) {
  FILE* p = popen((std::string(CNN_BINARY_DIR) + "/cnn " + args + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

const Shape kGrey{1, 1, 28, 28};

TEST(OneLine, ADamagedPngIsRefusedInTheProjectsWordsAndLibpngSaysNothing) {
  Scratch s;
  const std::string bad = s.put("bad.png", png(flipped));
  const std::string cut = s.put("cut.png", png(same).substr(0, 60));
  std::string e1, e2;
  const std::string said = stderr_of([&] {
    e1 = error_of([&] { load_image(bad, kGrey); });
    e2 = error_of([&] { load_image(cut, kGrey); });
  });
  EXPECT_EQ(said, "");
  EXPECT_EQ(e1, bad + ": not a readable image (a damaged PNG: libpng says \"IDAT: incorrect data check\")");
  EXPECT_EQ(e2, cut + ": not a readable image (a damaged PNG: libpng says \"the file ends early\")");
}

TEST(OneLine, AWarningAboutAnAncillaryChunkCostsThatChunkNotThePicture) {
  Scratch s;
  const std::string clean = s.put("clean.png", png(same));
  const std::string text = s.put("text.png", png(same, chunk("tEXt", std::string("Comment\0hello", 13), false)));
  Tensor a, b;
  const std::string said = stderr_of([&] {
    a = load_image(clean, kGrey);
    b = load_image(text, kGrey);
  });
  EXPECT_EQ(said, "");  // libpng's "tEXt: CRC error" warning is not printed
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

TEST(OneLine, APngWarningAboutTheImageDataRefusesThePicture) {
  // more rows of data than the header declares: libpng warns ("IDAT: Too much image data"), OpenCV would decode
  std::string raw;
  for (int y = 0; y < 40; ++y) raw += '\0' + std::string(28, '\x40');
  const auto longer = [&](const std::string&) {
    std::string z(compressBound(uLong(raw.size())), '\0');
    uLongf zn = uLongf(z.size());
    compress(reinterpret_cast<Bytef*>(z.data()), &zn, reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()));
    return z.substr(0, zn);
  };
  std::string why;
  std::string said = stderr_of([&] { EXPECT_TRUE(picture::decode_bytes(png(longer), 1, &why).empty()); });
  EXPECT_EQ(said, "");
  EXPECT_NE(why.find("a damaged PNG: libpng says \"IDAT:"), std::string::npos) << why;
}

TEST(OneLine, PredictOnADamagedPngPrintsOneLine) {
  Scratch s;
  const std::string bad = s.put("bad.png", png(flipped));
  const CmdResult r = cnn_cmd("predict --model " + std::string(CNN_SOURCE_DIR) + "/tests/data/model_v1.cnn " + bad);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "cnn: error: " + bad + ": not a readable image (a damaged PNG: libpng says \"IDAT: incorrect data "
                   "check\")\n");
  const CmdResult ok = cnn_cmd("predict --model " + std::string(CNN_SOURCE_DIR) + "/tests/data/model_v1.cnn " +
                         s.put("text.png", png(same, chunk("tEXt", std::string("a\0b", 3), false))));
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(ok.out.find("libpng"), std::string::npos) << ok.out;
}

}  // namespace
}  // namespace cnn
