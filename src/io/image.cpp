#include "cnn/image.h"

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace cnn {

Tensor load_image(const std::string& path, Shape sample, Invert invert, bool* inverted) {
  if (!std::filesystem::exists(path)) throw Error(path + ": no such file");
  if (sample.c != 1 && sample.c != 3)
    throw Error(path + ": the network takes " + std::to_string(sample.c) + " channels; images give 1 or 3");
  cv::Mat img;
  try {
    img = cv::imread(path, sample.c == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
  }
  if (img.empty()) throw Error(path + ": not a readable image (PNG, JPEG, BMP, …)");
  if (sample.c == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  cv::Mat f;
  img.convertTo(f, sample.c == 1 ? CV_32FC1 : CV_32FC3, 1.0 / 255.0);

  // Border brightness decides whether this is dark ink on a light page.
  cv::Mat grey;
  if (sample.c == 1)
    grey = f;
  else
    cv::cvtColor(f, grey, cv::COLOR_RGB2GRAY);
  const int bh = std::max(1, grey.rows / 10), bw = std::max(1, grey.cols / 10);
  cv::Mat mask = cv::Mat::ones(grey.size(), CV_8U) * 255;
  mask(cv::Rect(bw, bh, std::max(0, grey.cols - 2 * bw), std::max(0, grey.rows - 2 * bh))).setTo(0);
  const double border = cv::mean(grey, mask)[0];
  // A colour network was trained on photos, not on strokes: a photo with a bright sky is no page of ink, so `auto`
  // never inverts one (only `always` does).
  const bool inv = invert == Invert::always || (invert == Invert::automatic && sample.c == 1 && border > 0.5);
  if (inv) f = cv::Scalar::all(1.0) - f;
  if (inverted) *inverted = inv;

  // Fit into h×w keeping the aspect ratio, centred on black.
  const double scale = std::min(double(sample.h) / f.rows, double(sample.w) / f.cols);
  const int nh = std::max(1, int(std::lround(f.rows * scale))), nw = std::max(1, int(std::lround(f.cols * scale)));
  cv::Mat resized;
  cv::resize(f, resized, cv::Size(nw, nh), 0, 0, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Mat canvas = cv::Mat::zeros(sample.h, sample.w, resized.type());
  resized.copyTo(canvas(cv::Rect((sample.w - nw) / 2, (sample.h - nh) / 2, nw, nh)));

  Tensor x(sample.with_batch(1));
  for (int y = 0; y < sample.h; ++y)
    for (int xx = 0; xx < sample.w; ++xx)
      for (int c = 0; c < sample.c; ++c)
        x.at(0, c, y, xx) = sample.c == 1 ? canvas.at<float>(y, xx) : canvas.at<cv::Vec3f>(y, xx)[c];
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
