// Picture decoding (src/io/image.cpp, src/io/picture.h: OpenCV's decoders behind the project's checks), then the
// fitting every reader applies, as `cnn serve` does for an upload: the declared size first (web_body.cpp), then
// decoding as grey and as colour, fitting by crop, pad and stretch. The first byte picks the fit and whether a PNG's
// chunk CRCs are recomputed (so mutations reach the decoder past libpng's checksums).
#include <zlib.h>

#include "io/picture.h"
#include "web_body.h"

namespace {

void fix_png_crcs(std::string& b) {
  if (b.size() < 8 || b.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return;
  std::size_t at = 8;
  while (at + 12 <= b.size()) {
    const auto u8 = [&](std::size_t i) { return std::uint32_t(std::uint8_t(b[i])); };
    const std::uint32_t len = u8(at) << 24 | u8(at + 1) << 16 | u8(at + 2) << 8 | u8(at + 3);
    if (len > b.size() - at - 12) return;
    const std::uint32_t crc = std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(b.data() + at + 4), len + 4));
    for (int k = 0; k < 4; ++k) b[at + 8 + len + std::size_t(k)] = char(crc >> (24 - 8 * k));
    at += 12 + len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // OpenCV's own ceiling (2^30 pixels) is far above what a fuzzer's memory allows; the server's is 4096×4096
  setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "16777216", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 0x80) fix_png_crcs(bytes);
  const auto [w, h] = cnn::tool::web::declared_size(bytes);
  if (w * h > 4096 * 4096 || w > 65535 || h > 65535) return 0;  // refused before decoding, as the server does
  const cnn::Fit fit = cnn::Fit(data[0] % 3);
  for (const int channels : {1, 3}) {
    std::string why;
    const cv::Mat img = cnn::picture::decode_bytes(bytes, channels, &why);
    if (img.empty()) {
      if (why.empty()) __builtin_trap();  // every refusal says why
      continue;
    }
    if (img.channels() != channels || img.depth() != CV_8U) __builtin_trap();
    const cv::Mat fitted = cnn::picture::fit_to(img, 7, 5, fit);
    if (fitted.rows != 7 || fitted.cols != 5) __builtin_trap();
    std::vector<std::uint8_t> planes(std::size_t(channels) * 7 * 5);
    cnn::picture::to_planes(fitted, planes.data());
  }
  return 0;
}
