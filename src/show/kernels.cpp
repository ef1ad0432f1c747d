// Pictures of every Conv2D layer's kernels: one grid per layer, output maps down, input channels across, all on
// one symmetric scale so that kernels of the same layer compare by colour.
#include <algorithm>
#include <filesystem>

#include "cnn/error.h"
#include "cnn/layers/conv2d.h"
#include "draw.h"

namespace cnn::show {

namespace {
// Past this many rows or columns a grid stops being readable; the title says how many were left out.
constexpr int kMaxTiles = 64;
}  // namespace

std::vector<std::string> write_kernels(const Network& net, const std::string& dir) {
  draw::make_dir(dir);
  std::vector<std::string> written;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const auto* conv = dynamic_cast<const Conv2D*>(&net.layer(i));
    if (!conv) continue;
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
