// The classic hand-made kernels of seed 004 ("卷积核的物理意义": a kernel is a feature written as a matrix), and
// their responses computed by this library's own Conv2D, so what a student sees is what the network computes.
#include <cmath>
#include <cstring>
#include <numbers>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cnn/error.h"
#include "cnn/layers/conv2d.h"
#include "cnn/show.h"

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

Tensor load_grey(const std::string& path, int max_side) {
  cv::Mat img = cv::imread(path, cv::IMREAD_GRAYSCALE);
  if (img.empty()) throw Error(path + ": cannot read the picture (missing, or not PNG/JPEG/BMP/...)");
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

}  // namespace cnn::show
