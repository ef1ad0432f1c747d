// Pictures of every Conv2D layer's kernels: one grid per layer, output maps down, input channels across, all on
// one symmetric scale so that kernels of the same layer compare by colour — except a colour net's first layer,
// whose kernels are colour patches.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cnn/error.h"
#include "cnn/layers/conv2d.h"
#include "draw.h"

namespace cnn::show {

namespace {
// Past this many rows or columns a grid stops being readable; the title says how many were left out.
constexpr int kMaxTiles = 64;
// Colour patches are one per output map, so more of them fit on a screen.
constexpr int kMaxPatches = 256;

// The colour layer: each output map's kernel as one patch whose R, G, B are its three input slices, scaled by the
// kernel's own max|W| so every patch uses the whole colour range and hues compare across kernels.
cv::Mat colour_kernels(const Conv2D& conv, std::size_t layer) {
  const Tensor w = conv.weight();  // [out, 3, kh, kw]
  const int outs = w.shape().n, kh = w.shape().h, kw = w.shape().w, n = std::min(outs, kMaxPatches);
  const std::size_t plane = std::size_t(kh) * kw;
  const int cell = std::clamp(64 / std::max(kh, kw), 3, 16);
  const int tile_w = kw * cell, tile_h = kh * cell, gap = 8, label_h = 12, left = 10, top = 62;
  const int cols = std::min(n, std::max(8, int(std::ceil(std::sqrt(1.5 * n))))), rows = (n + cols - 1) / cols;
  const std::string title = "layer " + std::to_string(layer) + ": " + conv.summary();
  std::string sub =
      "each kernel W[out] as one colour: its in 0, 1, 2 slices as R, G, B, mid-grey at 0, scaled by "
      "the kernel's own max|W|";
  std::string sub2 = std::to_string(kh) + "x" + std::to_string(kw) + ", largest |W| of the layer " +
                     draw::number(draw::max_abs(w.data(), w.size()));
  if (n < outs) sub2 += ", first " + std::to_string(n) + " of " + std::to_string(outs) + " kernels";
  const int grid_w = cols * (tile_w + gap), grid_h = rows * (tile_h + gap + label_h);
  // The key: what a lone positive or negative weight in one slice looks like.
  const char* const key_names[] = {"+R", "-R", "+G", "-G", "+B", "-B", "0"};
  const double key_values[][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}, {0, 0, 0}};
  const int key_y = top + grid_h + 4, swatch = 14;
  cv::Mat img = draw::canvas(
      std::max({left + grid_w + 10, draw::text_width(title, 0.5) + 20, draw::text_width(sub) + 20, 7 * 44 + 80}),
      key_y + swatch + 12);
  draw::text(img, title, 10, 20, 0.5);
  draw::text(img, sub, 10, 38);
  draw::text(img, sub2, 10, 54);
  for (int o = 0; o < n; ++o) {
    const int x = left + (o % cols) * (tile_w + gap), y = top + (o / cols) * (tile_h + gap + label_h);
    draw::text(img, std::to_string(o), x, y + 9, 0.3, draw::kGrey);
    const float* k = w.data() + w.index(o, 0, 0, 0);
    draw::colour_tile(img, x, y + label_h, k, plane, kh, kw, cell, draw::max_abs(k, 3 * plane));
    cv::rectangle(img, cv::Rect(x - 1, y + label_h - 1, tile_w + 2, tile_h + 2), cv::Scalar(220, 220, 220));
  }
  draw::text(img, "key:", left, key_y + 11, 0.35, draw::kGrey);
  for (int k = 0; k < 7; ++k) {
    const int x = left + 36 + k * 44;
    const Rgb c = kernel_colour(key_values[k][0], key_values[k][1], key_values[k][2], 1.0);
    cv::rectangle(img, cv::Rect(x, key_y, swatch, swatch), draw::bgr(c), cv::FILLED);
    draw::text(img, key_names[k], x + swatch + 3, key_y + 11, 0.35, draw::kGrey);
  }
  return img;
}

// A layer that reads one channel (a grey net's first): one kernel per output map, laid out as a near-square grid of
// numbered tiles, as PyTorch's make_grid and Keras' filter plots show them, instead of one tall column.
cv::Mat one_channel_kernels(const Conv2D& conv, std::size_t layer) {
  const Tensor w = conv.weight();  // [out, 1, kh, kw]
  const int outs = w.shape().n, kh = w.shape().h, kw = w.shape().w, n = std::min(outs, kMaxPatches);
  const std::size_t plane = std::size_t(kh) * kw;
  const int cell = std::clamp(96 / std::max(kh, kw), 3, 24);
  const int tile_w = kw * cell, tile_h = kh * cell, gap = 8, label_h = 12, left = 10, top = 48;
  const int cols = std::max(1, int(std::ceil(std::sqrt(double(n))))), rows = (n + cols - 1) / cols;
  const double scale = draw::max_abs(w.data(), w.size());
  const std::string title = "layer " + std::to_string(layer) + ": " + conv.summary();
  std::string sub = "kernels W[out][0], " + std::to_string(kh) + "x" + std::to_string(kw) + ", colour scale +/-" +
                    draw::number(scale) + " (blue < 0 < red)";
  if (n < outs) sub += ", first " + std::to_string(n) + " of " + std::to_string(outs);
  const int grid_w = cols * (tile_w + gap), grid_h = rows * (tile_h + gap + label_h);
  const int legend_h = std::max(60, std::min(grid_h - gap, 240));
  cv::Mat img =
      draw::canvas(std::max({left + grid_w + 100, draw::text_width(title, 0.5) + 20, draw::text_width(sub) + 20}),
                   top + std::max(grid_h, legend_h) + 8);
  draw::text(img, title, 10, 20, 0.5);
  draw::text(img, sub, 10, 38);
  for (int o = 0; o < n; ++o) {
    const int x = left + (o % cols) * (tile_w + gap), y = top + (o / cols) * (tile_h + gap + label_h);
    draw::text(img, std::to_string(o), x, y + 9, 0.3, draw::kGrey);
    draw::signed_tile(img, x, y + label_h, w.data() + std::size_t(o) * plane, kh, kw, cell, scale);
  }
  draw::legend(img, left + grid_w + 10, top + label_h, legend_h, scale);
  return img;
}

}  // namespace

int colour_kernel_layer(const Network& net) {
  if (net.input_shape().c != 3) return -1;
  for (std::size_t i = 0; i < net.size(); ++i)
    if (const auto* conv = dynamic_cast<const Conv2D*>(&net.layer(i)))
      return conv->weight().shape().c == 3 ? int(i) : -1;
  return -1;
}

std::vector<std::string> write_kernels(const Network& net, const std::string& dir) {
  draw::make_dir(dir);
  std::vector<std::string> written;
  const int colour_layer = colour_kernel_layer(net);
  for (std::size_t i = 0; i < net.size(); ++i) {
    const auto* conv = dynamic_cast<const Conv2D*>(&net.layer(i));
    if (!conv) continue;
    if (int(i) == colour_layer || conv->weight().shape().c == 1) {
      const std::string path = (std::filesystem::path(dir) / ("kernels-layer" + std::to_string(i) + ".png")).string();
      draw::save_png(int(i) == colour_layer ? colour_kernels(*conv, i) : one_channel_kernels(*conv, i), path);
      written.push_back(path);
      continue;
    }
    const Tensor w = conv->weight();  // [out, in, kh, kw]
    const int outs = w.shape().n, ins = w.shape().c, kh = w.shape().h, kw = w.shape().w;
    const int rows = std::min(outs, kMaxTiles), cols = std::min(ins, kMaxTiles);
    // Big enough cells that a 3×3 kernel is not a speck, small enough that an 11×11 one stays on the screen.
    const int cell = std::clamp(96 / std::max(kh, kw), 3, 24);
    const int tile_w = kw * cell, tile_h = kh * cell, gap = 6;
    const int left = 58, top = 54;
    const double scale = draw::max_abs(w.data(), w.size());
    const int grid_w = cols * (tile_w + gap), grid_h = rows * (tile_h + gap);
    const std::string title = "layer " + std::to_string(i) + ": " + conv->summary();
    const int legend_h = std::max(60, std::min(grid_h - gap, 240));
    cv::Mat img = draw::canvas(std::max(left + grid_w + 110, draw::text_width(title, 0.5) + 20),
                               top + std::max(grid_h, legend_h) + 14);
    draw::text(img, title, 10, 20, 0.5);
    std::string sub = "kernels W[out][in], " + std::to_string(kh) + "x" + std::to_string(kw) + ", colour scale +/-" +
                      draw::number(scale) + " (blue < 0 < red)";
    if (rows < outs || cols < ins)
      sub += ", first " + std::to_string(rows) + " of " + std::to_string(outs) + " out x " + std::to_string(cols) +
             " of " + std::to_string(ins) + " in";
    draw::text(img, sub, 10, 38);
    for (int c = 0; c < cols; ++c)
      draw::text(img, "in " + std::to_string(c), left + c * (tile_w + gap), top - 4, 0.35, draw::kGrey);
    for (int o = 0; o < rows; ++o) {
      const int y = top + o * (tile_h + gap);
      draw::text(img, "out " + std::to_string(o), 6, y + std::min(tile_h, 14), 0.35, draw::kGrey);
      for (int c = 0; c < cols; ++c)
        draw::signed_tile(img, left + c * (tile_w + gap), y, w.data() + w.index(o, c, 0, 0), kh, kw, cell, scale);
    }
    draw::legend(img, left + grid_w + 10, top, legend_h, scale);
    const std::string path = (std::filesystem::path(dir) / ("kernels-layer" + std::to_string(i) + ".png")).string();
    draw::save_png(img, path);
    written.push_back(path);
  }
  if (written.empty()) throw Error("the network has no conv2d layer, so it has no kernels to show");
  return written;
}

}  // namespace cnn::show
