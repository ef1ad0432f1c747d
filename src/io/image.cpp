#include "cnn/image.h"

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

cv::Mat decode_bytes(const std::string& bytes, int channels, std::string* why) {
  const auto refuse = [&](const std::string& reason) {
    if (why) *why = reason;
    return cv::Mat();
  };
  if (bytes.empty()) return refuse("not a readable image (the file is empty)");
  cv::Mat img;
  try {
    const cv::Mat buf(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
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
