#include "cnn/image.h"

#include <png.h>

#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/picture.h"

namespace cnn {

Fit parse_fit(const std::string& name) {
  if (name == "crop") return Fit::crop;
  if (name == "stretch") return Fit::stretch;
  if (name == "pad") return Fit::pad;
  throw Error("fit: expected crop, stretch or pad, got \"" + name + "\"");
}

std::string fit_name(Fit fit) {
  switch (fit) {
    case Fit::crop:
      return "crop";
    case Fit::stretch:
      return "stretch";
    case Fit::pad:
      return "pad";
  }
  return "pad";
}

namespace picture {

namespace {

// What libpng said about a PNG: the error that stopped it, and its warnings.
struct PngReport {
  std::string error;
  std::vector<std::string> warnings;
};

struct PngInput {
  const std::string& bytes;
  std::size_t at = 0;
  PngReport& report;
};

void png_on_error(png_structp png, png_const_charp message) {
  static_cast<PngInput*>(png_get_error_ptr(png))->report.error = message;
  png_longjmp(png, 1);
}
void png_on_warning(png_structp png, png_const_charp message) {
  static_cast<PngInput*>(png_get_error_ptr(png))->report.warnings.emplace_back(message);
}
void png_on_read(png_structp png, png_bytep out, png_size_t n) {
  auto* in = static_cast<PngInput*>(png_get_io_ptr(png));
  if (n > in->bytes.size() - in->at) png_error(png, "the file ends early");
  std::memcpy(out, in->bytes.data() + in->at, n);
  in->at += n;
}

// The reading itself, in a frame of its own: libpng's errors longjmp back into it, so nothing here may need a
// destructor or be read after the jump (the row lives in the caller).
void read_png(png_structp png, png_infop info, PngInput& in, std::vector<png_byte>& row) {
  if (setjmp(png_jmpbuf(png))) return;
  png_set_read_fn(png, &in, png_on_read);
  png_read_info(png, info);
  const std::uint64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (w * h > (std::uint64_t(1) << 30)) {  // OpenCV's own ceiling (CV_IO_MAX_IMAGE_PIXELS)
    in.report.error = std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the 2^30 OpenCV reads";
    return;
  }
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  row.resize(png_get_rowbytes(png, info));
  for (int p = 0; p < passes; ++p)
    for (std::uint64_t y = 0; y < h; ++y) png_read_row(png, row.data(), nullptr);
  png_read_end(png, info);
}

// Reads the whole PNG through libpng, row by row into one row's space, and reports what libpng says. OpenCV creates
// its PNG reader with no error or warning functions (png_create_read_struct(…, 0, 0, 0)), so libpng's defaults
// write "libpng error: …" and "libpng warning: …" to stderr, around the project's own message and from any thread;
// so a PNG reaches OpenCV only after this pass, whose functions keep the messages instead.
PngReport check_png(const std::string& bytes) {
  PngReport report;
  PngInput in{bytes, 0, report};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &in, png_on_error, png_on_warning);
  if (!png) return report;  // out of memory: OpenCV's own attempt will say so
  png_infop info = png_create_info_struct(png);
  std::vector<png_byte> row;
  if (info) read_png(png, info, in, row);
  png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  return report;
}

// The PNG without its ancillary chunk `name` (tEXt, iCCP, …: nothing OpenCV draws with), every copy of it.
std::string without_chunk(const std::string& b, const std::string& name) {
  std::string out = b.substr(0, 8);
  std::size_t at = 8;
  while (at + 12 <= b.size()) {
    const auto u8 = [&](std::size_t i) { return std::uint32_t(std::uint8_t(b[i])); };
    const std::uint32_t len = u8(at) << 24 | u8(at + 1) << 16 | u8(at + 2) << 8 | u8(at + 3);
    if (len > b.size() - at - 12) break;
    if (b.compare(at + 4, 4, name) != 0) out.append(b, at, 12 + len);
    at += 12 + std::size_t(len);
  }
  return out.append(b, std::min(at, b.size()));
}

// The ancillary chunk a libpng warning names ("tEXt: CRC error", "iCCP: known incorrect sRGB profile"), or "".
std::string ancillary_chunk_of(const std::string& warning) {
  if (warning.size() < 6 || warning.compare(4, 2, ": ") != 0) return "";
  const std::string name = warning.substr(0, 4);
  const bool letters = std::all_of(name.begin(), name.end(), [](char c) { return std::isalpha((unsigned char)c); });
  return letters && std::islower((unsigned char)name[0]) ? name : "";  // a lower-case first letter: ancillary
}

}  // namespace

cv::Mat decode_bytes(const std::string& given, int channels, std::string* why) {
  const auto refuse = [&](const std::string& reason) {
    if (why) *why = reason;
    return cv::Mat();
  };
  if (given.empty()) return refuse("not a readable image (the file is empty)");
  std::string bytes = given;
  if (bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) {
    // A warning about an ancillary chunk (a damaged text, a known bad colour profile) costs that chunk, which the
    // decoder ignores anyway; any other message means the picture itself is damaged.
    for (int round = 0;; ++round) {
      const PngReport r = check_png(bytes);
      if (!r.error.empty()) return refuse("not a readable image (a damaged PNG: libpng says \"" + r.error + "\")");
      if (r.warnings.empty()) break;
      const std::string chunk = ancillary_chunk_of(r.warnings.front());
      if (chunk.empty() || round == 8)
        return refuse("not a readable image (a damaged PNG: libpng says \"" + r.warnings.front() + "\")");
      bytes = without_chunk(bytes, chunk);
    }
  }
  cv::Mat img;
  try {
    const cv::Mat buf(1, int(bytes.size()), CV_8U, bytes.data());
    img = cv::imdecode(buf, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    img = cv::Mat();
  }
  if (img.empty()) return refuse("not a readable image (PNG, JPEG, BMP, …)");
  if (channels == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  return img;
}

cv::Mat decode(const std::string& path, int channels, std::string* why) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (why) *why = "cannot open";
    return {};
  }
  return decode_bytes(std::string(std::istreambuf_iterator<char>(f), {}), channels, why);
}

namespace {

// Area averaging when the picture shrinks (no aliasing of fine strokes), bilinear when it grows.
cv::Mat resized(const cv::Mat& img, int h, int w) {
  if (img.rows == h && img.cols == w) return img.clone();
  cv::Mat out;
  const bool shrinks = h <= img.rows && w <= img.cols;
  cv::resize(img, out, cv::Size(w, h), 0, 0, shrinks ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

}  // namespace

cv::Mat fit_to(const cv::Mat& img, int h, int w, Fit fit) {
  if (fit == Fit::stretch) return resized(img, h, w);
  const double sy = double(h) / img.rows, sx = double(w) / img.cols;
  const double scale = fit == Fit::crop ? std::max(sy, sx) : std::min(sy, sx);
  const int nh = int(std::lround(img.rows * scale)), nw = int(std::lround(img.cols * scale));
  if (fit == Fit::crop) {
    // At least the input size, so rounding never leaves a row or column to fill.
    const cv::Mat big = resized(img, std::max(h, nh), std::max(w, nw));
    return big(cv::Rect((big.cols - w) / 2, (big.rows - h) / 2, w, h)).clone();
  }
  const cv::Mat small = resized(img, std::clamp(nh, 1, h), std::clamp(nw, 1, w));
  cv::Mat canvas = cv::Mat::zeros(h, w, img.type());
  small.copyTo(canvas(cv::Rect((w - small.cols) / 2, (h - small.rows) / 2, small.cols, small.rows)));
  return canvas;
}

void to_planes(const cv::Mat& img, std::uint8_t* out) {
  const int h = img.rows, w = img.cols, c = img.channels();
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* row = img.ptr<std::uint8_t>(y);
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) out[(std::size_t(k) * h + y) * w + x] = row[x * c + k];
  }
}

}  // namespace picture

Tensor load_image(const std::string& path, Shape sample, Invert invert, bool* inverted, Fit fit) {
  if (!std::filesystem::exists(path)) throw Error(path + ": no such file");
  if (sample.c != 1 && sample.c != 3)
    throw Error(path + ": the network takes " + std::to_string(sample.c) + " channels; images give 1 or 3");
  std::string why;
  cv::Mat img = picture::decode(path, sample.c, &why);
  if (img.empty()) throw Error(path + ": " + why);

  // Border brightness decides whether this is dark ink on a light page.
  cv::Mat grey;
  if (sample.c == 1)
    grey = img;
  else
    cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
  const int bh = std::max(1, grey.rows / 10), bw = std::max(1, grey.cols / 10);
  cv::Mat mask = cv::Mat::ones(grey.size(), CV_8U) * 255;
  mask(cv::Rect(bw, bh, std::max(0, grey.cols - 2 * bw), std::max(0, grey.rows - 2 * bh))).setTo(0);
  const double border = cv::mean(grey, mask)[0] / 255.0;
  // A colour network was trained on photos, not on strokes: a photo with a bright sky is no page of ink, so `auto`
  // never inverts one (only `always` does).
  const bool inv = invert == Invert::always || (invert == Invert::automatic && sample.c == 1 && border > 0.5);
  if (inv) cv::bitwise_not(img, img);  // 255 − v, exact
  if (inverted) *inverted = inv;

  const cv::Mat fitted = picture::fit_to(img, sample.h, sample.w, fit);
  std::vector<std::uint8_t> planes(sample.sample_size());
  picture::to_planes(fitted, planes.data());
  Tensor x(sample.with_batch(1));
  constexpr float inv255 = 1.0f / 255.0f;  // as Dataset::batch scales, so the same picture gives the same floats
  for (std::size_t i = 0; i < planes.size(); ++i) x[i] = float(planes[i]) * inv255;
  return x;
}

void save_grey_png(const std::string& path, const float* pixels, int h, int w) {
  cv::Mat m(h, w, CV_8UC1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(std::lround(pixels[y * w + x] * 255.0f));
  if (!cv::imwrite(path, m)) throw Error(path + ": cannot write PNG");
}

}  // namespace cnn
