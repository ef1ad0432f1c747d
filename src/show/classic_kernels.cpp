// The classic hand-made kernels of seed 004 ("卷积核的物理意义": a kernel is a feature written as a matrix), and
// their responses computed by this library's own Conv2D, so what a student sees is what the network computes.
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cnn/error.h"
#include "cnn/layers/conv2d.h"
#include "cnn/show.h"
#include "draw.h"
#include "io/picture.h"

namespace cnn::show {

namespace {

ClassicKernel gaussian(double sigma, int size) {
  ClassicKernel k{"gaussian", "", size, size, {}};
  k.description = "Gaussian blur, sigma " + std::to_string(sigma).substr(0, 3) + ", " + std::to_string(size) + "x" +
                  std::to_string(size) + ", 1/(2 pi sigma^2) exp(-(x^2+y^2)/(2 sigma^2)) normalised to sum 1";
  double sum = 0;
  std::vector<double> g;
  const int r = size / 2;
  for (int y = -r; y <= r; ++y)
    for (int x = -r; x <= r; ++x) {
      g.push_back(std::exp(-(x * x + y * y) / (2 * sigma * sigma)) / (2 * std::numbers::pi * sigma * sigma));
      sum += g.back();
    }
  for (double v : g) k.weights.push_back(float(v / sum));  // the cut-off tails would otherwise darken the image
  return k;
}

}  // namespace

std::vector<ClassicKernel> classic_kernels() {
  return {
      {"sobel-x", "Sobel X: horizontal change (vertical edges)", 3, 3, {-1, 0, 1, -2, 0, 2, -1, 0, 1}},
      {"sobel-y",
       "Sobel Y: vertical change (horizontal edges), as the seed writes it (top row positive)",
       3,
       3,
       {1, 2, 1, 0, 0, 0, -1, -2, -1}},
      // The seed's slide prints Scharr X's last row as "-1 0 3", a typo: Scharr X is symmetric like Sobel X.
      {"scharr-x", "Scharr X: a rotation-accurate Sobel X", 3, 3, {-3, 0, 3, -10, 0, 10, -3, 0, 3}},
      {"scharr-y", "Scharr Y, as the seed writes it (bottom row positive)", 3, 3, {-3, -10, -3, 0, 0, 0, 3, 10, 3}},
      {"laplacian", "Laplacian (8-neighbour): spots and edges in every direction", 3, 3, {1, 1, 1, 1, -8, 1, 1, 1, 1}},
      gaussian(1.0, 5),
      {"edge-1", "edge feature 1: a bright right column", 3, 3, {-1, -1, 5, -1, -1, 5, -1, -1, 5}},
      {"edge-2", "edge feature 2: a bright top row", 3, 3, {5, 5, 5, -1, -1, -1, -1, -1, -1}},
      {"line", "line feature: a bright vertical line", 3, 3, {-1, 5, -1, -1, 5, -1, -1, 5, -1}},
      {"diagonal", "diagonal feature: a bright main diagonal", 3, 3, {5, -1, -1, -1, 5, -1, -1, -1, 5}},
      {"nine-upper-stroke",
       "the upper stroke of a 9: a ring of 1 around a -1 hole",
       3,
       3,
       {1, 1, 1, 1, -1, 1, 1, 1, 1}},
  };
}

Tensor apply_kernel(const Tensor& image, const ClassicKernel& kernel) {
  const Shape s = image.shape();
  if (s.n != 1 || s.c != 1) throw Error("kernels: expected one grey image (1x1xHxW), got " + s.str());
  if (kernel.h <= 0 || kernel.w <= 0 || kernel.weights.size() != std::size_t(kernel.h) * kernel.w)
    throw Error("kernels: kernel " + kernel.name + " has " + std::to_string(kernel.weights.size()) +
                " weights, expected " + std::to_string(kernel.h) + "x" + std::to_string(kernel.w));
  // A one-layer network: exactly the Conv2D a trained model runs, with the weights set by hand.
  Network net(s);
  net.add<Conv2D>(1, KernelSize{kernel.h, kernel.w}, 1, Padding::same);
  net.init(1);
  auto& conv = dynamic_cast<Conv2D&>(net.layer(0));
  Tensor w = conv.weight(), b = conv.bias();
  std::memcpy(w.data(), kernel.weights.data(), kernel.weights.size() * sizeof(float));
  b.fill(0.0f);
  const Tensor& out = net.forward(image);
  Tensor response(out.shape());
  std::memcpy(response.data(), out.data(), out.size() * sizeof(float));
  return response;
}

Tensor load_grey(const std::string& path, int max_side, Invert invert, bool* inverted) {
  std::string why;
  cv::Mat img = picture::decode(path, 1, &why);
  if (img.empty()) throw Error(path + ": " + why);
  const bool flip = invert == Invert::always || (invert == Invert::automatic && picture::dark_on_light(img, Fit::pad));
  if (flip) cv::bitwise_not(img, img);
  if (inverted) *inverted = flip;
  if (max_side > 0 && std::max(img.rows, img.cols) > max_side) {
    const double f = double(max_side) / std::max(img.rows, img.cols);
    cv::resize(img, img, cv::Size(std::max(1, int(img.cols * f + 0.5)), std::max(1, int(img.rows * f + 0.5))), 0, 0,
               cv::INTER_AREA);
  }
  Tensor t({1, 1, img.rows, img.cols});
  for (int r = 0; r < img.rows; ++r)
    for (int c = 0; c < img.cols; ++c) t.at(0, 0, r, c) = float(img.at<std::uint8_t>(r, c)) / 255.0f;
  return t;
}

Pads padding_frame(const ClassicKernel& k) {
  // Conv2D `same` pads (k − 1)/2 before and k/2 after (the odd one of an even kernel after).
  return {.top = (k.h - 1) / 2, .left = (k.w - 1) / 2, .bottom = k.h / 2, .right = k.w / 2};
}

std::pair<float, float> inner_range(const Tensor& r, const Pads& f) {
  const int h = r.shape().h, w = r.shape().w;
  const bool inside = f.top + f.bottom < h && f.left + f.right < w;
  const int y0 = inside ? f.top : 0, y1 = inside ? h - f.bottom : h, x0 = inside ? f.left : 0,
            x1 = inside ? w - f.right : w;
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const float v = r.at(0, 0, y, x);
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  return lo <= hi ? std::pair{lo, hi} : std::pair{0.0f, 0.0f};
}

void write_map_picture(const std::string& path, const Tensor& map, const std::string& title, const std::string& note,
                       bool grey, const Pads& frame, int min_side) {
  const int h = map.shape().h, w = map.shape().w;
  if (h <= 0 || w <= 0) throw Error(path + ": nothing to draw (" + map.shape().str() + ")");
  const int cell = std::max(1, min_side / std::max(h, w));
  const auto [lo, hi] = inner_range(map, frame);
  const double largest = std::max(std::fabs(double(lo)), std::fabs(double(hi))), scale = largest > 0 ? largest : 1.0;
  const int left = 10, top = 48, legend_h = std::max(80, std::min(h * cell, 300));
  cv::Mat img =
      draw::canvas(std::max({left + w * cell + 110, draw::text_width(title, 0.5) + 20, draw::text_width(note) + 20}),
                   top + std::max(h * cell, legend_h) + 10);
  draw::text(img, title, 10, 20, 0.5);
  draw::text(img, note, 10, 38);
  if (grey)
    draw::grey_tile(img, left, top, map.data(), h, w, cell);
  else
    draw::signed_tile(img, left, top, map.data(), h, w, cell, scale);
  cv::rectangle(img, cv::Rect(left - 1, top - 1, w * cell + 2, h * cell + 2), draw::kGrey);
  if (!grey && frame.any() && frame.top + frame.bottom < h &&
      frame.left + frame.right < w)  // where the padding reached: outside the scale, so marked
    cv::rectangle(img,
                  cv::Rect(left + frame.left * cell, top + frame.top * cell, (w - frame.left - frame.right) * cell,
                           (h - frame.top - frame.bottom) * cell),
                  cv::Scalar(160, 160, 160));
  if (grey)
    draw::grey_legend(img, left + w * cell + 12, top, legend_h);
  else
    draw::legend(img, left + w * cell + 12, top, legend_h, scale);
  draw::save_png(img, path);
}

}  // namespace cnn::show
