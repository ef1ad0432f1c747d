// Colour maps and the drawing helpers every picture of src/show uses (OpenCV stays inside the library).
#include "draw.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cnn/error.h"
#include "cnn/model.h"

namespace cnn::show {

namespace {
// Piecewise-linear interpolation between evenly spaced colour stops, t in [0, 1].
template <std::size_t N>
Rgb interpolate(const std::array<Rgb, N>& stops, double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * double(N - 1);
  const std::size_t i = std::min(std::size_t(t), N - 2);
  const double f = t - double(i);
  auto mix = [&](std::uint8_t a, std::uint8_t b) { return std::uint8_t(std::lround(a + (b - a) * f)); };
  return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g), mix(stops[i].b, stops[i + 1].b)};
}
}  // namespace

Rgb diverging(double t) {
  // ColorBrewer RdBu, blue for negative: equal steps either side of a neutral white, so zero is unmistakable.
  static const std::array<Rgb, 9> stops{{{5, 48, 97},
                                         {33, 102, 172},
                                         {67, 147, 195},
                                         {146, 197, 222},
                                         {247, 247, 247},
                                         {244, 165, 130},
                                         {214, 96, 77},
                                         {178, 24, 43},
                                         {103, 0, 31}}};
  return interpolate(stops, std::isfinite(t) ? (t + 1.0) / 2.0 : 0.5);  // a NaN draws as zero, not as −1
}

Rgb sequential(double t) {
  static const std::array<Rgb, 5> stops{
      {{247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}}};
  return interpolate(stops, t);
}

Rgb kernel_colour(double r, double g, double b, double scale) {
  auto level = [scale](double v) {
    const double t = scale > 0.0 && std::isfinite(v) ? std::clamp(v / scale, -1.0, 1.0) : 0.0;
    return std::uint8_t(std::lround(127.5 + 127.5 * t));
  };
  return {level(r), level(g), level(b)};
}

namespace draw {

cv::Mat canvas(int w, int h) { return cv::Mat(std::max(h, 1), std::max(w, 1), CV_8UC3, kWhite); }

void signed_tile(cv::Mat& img, int x, int y, const float* values, int h, int w, int cell, double scale) {
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c)
      cv::rectangle(img, cv::Rect(x + c * cell, y + r * cell, cell, cell),
                    bgr(diverging(double(values[std::size_t(r) * w + c]) / scale)), cv::FILLED);
}

void colour_tile(cv::Mat& img, int x, int y, const float* planes, std::size_t stride, int h, int w, int cell,
                 double scale) {
  auto intensity = [](float v) {
    return std::uint8_t(std::lround(255.0 * std::clamp(std::isfinite(v) ? double(v) : 0.0, 0.0, 1.0)));
  };
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      const float* p = planes + std::size_t(r) * w + c;
      const Rgb colour = scale > 0.0 ? kernel_colour(p[0], p[stride], p[2 * stride], scale)
                                     : Rgb{intensity(p[0]), intensity(p[stride]), intensity(p[2 * stride])};
      cv::rectangle(img, cv::Rect(x + c * cell, y + r * cell, cell, cell), bgr(colour), cv::FILLED);
    }
}

void grey_tile(cv::Mat& img, int x, int y, const float* values, int h, int w, int cell, double lo, double hi) {
  const double span = hi > lo ? hi - lo : 1.0;
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      const double v = double(values[std::size_t(r) * w + c]);
      const double t = std::clamp(std::isfinite(v) ? (v - lo) / span : 0.0, 0.0, 1.0);
      cv::rectangle(img, cv::Rect(x + c * cell, y + r * cell, cell, cell), cv::Scalar::all(std::lround(255.0 * t)),
                    cv::FILLED);
    }
}

void text(cv::Mat& img, const std::string& s, int x, int y, double scale, cv::Scalar colour) {
  cv::putText(img, s, {x, y}, cv::FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv::LINE_AA);
}

int text_width(const std::string& s, double scale) {
  int baseline = 0;
  return cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline).width;
}

int legend(cv::Mat& img, int x, int y, int h, double scale) {
  const int bar = 14;
  for (int i = 0; i < h; ++i) {
    const double t = 1.0 - 2.0 * (double(i) + 0.5) / double(h);  // +1 at the top, −1 at the bottom
    cv::line(img, {x, y + i}, {x + bar - 1, y + i}, bgr(diverging(t)));
  }
  cv::rectangle(img, cv::Rect(x, y, bar, h), kGrey);
  // snprintf, not "+" + string: GCC 12 warns falsely (-Wrestrict) about the latter at -O3.
  char top_buf[40], bottom_buf[40];
  std::snprintf(top_buf, sizeof top_buf, "+%s", number(scale).c_str());
  std::snprintf(bottom_buf, sizeof bottom_buf, "-%s", number(scale).c_str());
  const std::string top = top_buf, bottom = bottom_buf;
  text(img, top, x + bar + 4, y + 8);
  text(img, "0", x + bar + 4, y + h / 2 + 4);
  text(img, bottom, x + bar + 4, y + h);
  return bar + 6 + std::max(text_width(top), text_width(bottom));
}

int grey_legend(cv::Mat& img, int x, int y, int h, double lo, double hi) {
  const int bar = 14;
  for (int i = 0; i < h; ++i) {
    const double t = 1.0 - (double(i) + 0.5) / double(h);  // white at the top
    cv::line(img, {x, y + i}, {x + bar - 1, y + i}, cv::Scalar::all(std::lround(255.0 * t)));
  }
  cv::rectangle(img, cv::Rect(x, y, bar, h), kGrey);
  const std::string top = number(hi), bottom = number(lo);
  text(img, top, x + bar + 4, y + 8);
  text(img, bottom, x + bar + 4, y + h);
  return bar + 6 + std::max(text_width(top), text_width(bottom));
}

double max_abs(const float* v, std::size_t n) {
  double m = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    if (std::isfinite(v[i])) m = std::max(m, double(std::fabs(v[i])));
  return m > 0.0 ? m : 1.0;
}

std::string number(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a != 0.0 && (a < 1e-3 || a >= 1e4))
    std::snprintf(buf, sizeof buf, "%.2e", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

void save_png(const cv::Mat& img, const std::string& path) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", img, bytes)) throw Error(path + ": cannot encode the picture as PNG");
  write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

void make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir))
    throw Error(dir + ": cannot create the folder" + (ec ? " (" + ec.message() + ")" : ""));
}

}  // namespace draw

void write_signed_png(const std::string& path, const float* values, int h, int w, int scale) {
  if (h <= 0 || w <= 0 || scale <= 0)
    throw Error(path + ": nothing to draw (" + std::to_string(h) + "x" + std::to_string(w) + ")");
  cv::Mat img = draw::canvas(w * scale, h * scale);
  draw::signed_tile(img, 0, 0, values, h, w, scale, draw::max_abs(values, std::size_t(h) * w));
  draw::save_png(img, path);
}

}  // namespace cnn::show
