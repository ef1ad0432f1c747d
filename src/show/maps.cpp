// Feature maps (what every layer outputs for one image) and gradient maps (dL/dA: how the loss for one class
// would change with each of those outputs — seed 004's backward pass made visible).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "cnn/error.h"
#include "draw.h"

namespace cnn::show {

namespace {

Tensor copy_of(const Tensor& t) {
  Tensor c(t.shape());
  if (t.size()) std::memcpy(c.data(), t.data(), t.size() * sizeof(float));
  return c;
}

// One picture of a 1×c×h×w tensor: every channel a tile (a vector of units: one strip of cells), one symmetric
// colour scale for the whole layer so channels compare by colour.
void write_tensor_grid(const Tensor& t, const std::string& title, const std::string& path) {
  const int c = t.shape().c, h = t.shape().h, w = t.shape().w;
  const double scale = draw::max_abs(t.data(), t.size());
  float lo = 0, hi = 0;
  if (t.size()) {
    lo = *std::min_element(t.data(), t.data() + t.size());
    hi = *std::max_element(t.data(), t.data() + t.size());
  }
  const std::string sub = std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w) + ", values " +
                          draw::number(lo) + " .. " + draw::number(hi) + ", colour scale +/-" + draw::number(scale);
  const int left = 10, top = 48, gap = 6;
  int tile_w, tile_h, cols, cell, per_tile_h = h, per_tile_w = w;
  const bool units = h == 1 && w == 1;  // a dense layer's outputs: one cell per unit
  if (units) {
    cell = 18;
    cols = std::min(c, 32);
    tile_w = tile_h = cell;
  } else {
    cell = std::clamp(84 / std::max(h, w), 1, 8);
    cols = std::min(c, 8);
    tile_w = w * cell;
    tile_h = h * cell;
  }
  const int g = units ? 2 : gap;
  const int rows = (c + cols - 1) / cols, label_h = units ? 0 : 12;
  const int grid_w = cols * (tile_w + g), grid_h = rows * (tile_h + g + label_h);
  const int legend_h = std::max(60, std::min(grid_h, 200));
  cv::Mat img =
      draw::canvas(std::max({left + grid_w + 100, draw::text_width(title, 0.5) + 20, draw::text_width(sub) + 20}),
                   top + std::max(grid_h, legend_h) + (units ? 16 : 4));
  draw::text(img, title, 10, 20, 0.5);
  draw::text(img, sub, 10, 38);
  for (int k = 0; k < c; ++k) {
    const int x = left + (k % cols) * (tile_w + g), y = top + (k / cols) * (tile_h + g + label_h);
    if (!units) draw::text(img, std::to_string(k), x, y + 9, 0.3, draw::kGrey);
    draw::signed_tile(img, x, y + label_h, t.data() + std::size_t(k) * per_tile_h * per_tile_w, per_tile_h, per_tile_w,
                      cell, scale);
  }
  if (units)  // number every unit under its cell when there is room: they are classes for the last layer
    for (int k = 0; k < c && c <= 32; ++k)
      draw::text(img, std::to_string(k), left + k * (tile_w + g) + 3, top + tile_h + 12, 0.3, draw::kGrey);
  draw::legend(img, left + grid_w + 10, top, legend_h, scale);
  draw::save_png(img, path);
}

// A colour image (1×3×h×w) as the picture itself, then its three channels as tiles: grey intensities for the input,
// the diverging colours on one symmetric scale (with its legend) for a gradient, whose composite is drawn by
// kernel_colour's rule on that same scale (mid-grey at 0).
void write_colour_picture(const Tensor& t, bool is_gradient, const std::string& title, const std::string& path) {
  const int h = t.shape().h, w = t.shape().w;
  const std::size_t plane = std::size_t(h) * w;
  const double scale = draw::max_abs(t.data(), t.size());
  float lo = 0, hi = 0;
  if (t.size()) {
    lo = *std::min_element(t.data(), t.data() + t.size());
    hi = *std::max_element(t.data(), t.data() + t.size());
  }
  const std::string sub = "3x" + std::to_string(h) + "x" + std::to_string(w) + ", values " + draw::number(lo) + " .. " +
                          draw::number(hi) +
                          (is_gradient ? ": R, G, B = each channel's gradient, mid-grey at 0, +/-" +
                                             draw::number(scale) + " at the ends; then each channel (blue < 0 < red)"
                                       : ": the picture, then its R, G, B channels (black 0, white 1)");
  const int left = 10, top = 48, label_h = 14, gap = 14;
  const int big = std::clamp(160 / std::max(h, w), 1, 8), small = std::clamp(96 / std::max(h, w), 1, 8);
  const int big_w = w * big, small_w = w * small;
  const int planes_x = left + big_w + 2 * gap;
  const int grid_right = planes_x + 3 * (small_w + gap);
  const int legend_h = std::max(60, h * small);
  cv::Mat img = draw::canvas(
      std::max({grid_right + (is_gradient ? 100 : 0), draw::text_width(title, 0.5) + 20, draw::text_width(sub) + 20}),
      top + label_h + std::max(h * big, legend_h) + 8);
  draw::text(img, title, 10, 20, 0.5);
  draw::text(img, sub, 10, 38);
  draw::text(img, is_gradient ? "colour map" : "colour", left, top + 10, 0.35, draw::kGrey);
  draw::colour_tile(img, left, top + label_h, t.data(), plane, h, w, big, is_gradient ? scale : 0.0);
  const char* const names[] = {"R", "G", "B"};
  for (int c = 0; c < 3; ++c) {
    const int x = planes_x + c * (small_w + gap);
    draw::text(img, names[c], x, top + 10, 0.35, draw::kGrey);
    const float* p = t.data() + std::size_t(c) * plane;
    if (is_gradient) {
      draw::signed_tile(img, x, top + label_h, p, h, w, small, scale);
    } else {
      for (int r = 0; r < h; ++r)  // grey: the same intensity in all three of the picture's colours
        for (int k = 0; k < w; ++k) {
          const double v = std::clamp(double(p[std::size_t(r) * w + k]), 0.0, 1.0) * 255.0;
          cv::rectangle(img, cv::Rect(x + k * small, top + label_h + r * small, small, small), cv::Scalar::all(v),
                        cv::FILLED);
        }
    }
  }
  if (is_gradient) draw::legend(img, grid_right, top + label_h, legend_h, scale);
  draw::save_png(img, path);
}

// A grey input (1×1×h×w, intensities in [0, 1]) as the picture it is: black 0, white 1, with its grey bar.
void write_grey_picture(const Tensor& t, const std::string& title, const std::string& path) {
  const int h = t.shape().h, w = t.shape().w;
  float lo = 0, hi = 0;
  if (t.size()) {
    lo = *std::min_element(t.data(), t.data() + t.size());
    hi = *std::max_element(t.data(), t.data() + t.size());
  }
  const std::string sub = "1x" + std::to_string(h) + "x" + std::to_string(w) + ", values " + draw::number(lo) + " .. " +
                          draw::number(hi) + ", grey: black 0, white 1";
  const int left = 10, top = 48, cell = std::clamp(224 / std::max(h, w), 1, 8);
  const int legend_h = std::max(60, std::min(h * cell, 200));
  cv::Mat img =
      draw::canvas(std::max({left + w * cell + 100, draw::text_width(title, 0.5) + 20, draw::text_width(sub) + 20}),
                   top + std::max(h * cell, legend_h) + 8);
  draw::text(img, title, 10, 20, 0.5);
  draw::text(img, sub, 10, 38);
  draw::grey_tile(img, left, top, t.data(), h, w, cell);
  cv::rectangle(img, cv::Rect(left - 1, top - 1, w * cell + 2, h * cell + 2), draw::kGrey);
  draw::grey_legend(img, left + w * cell + 10, top, legend_h);
  draw::save_png(img, path);
}

// One sheet of the whole pass: a row per layer (the input first), its first feature maps on the left and their
// gradients dL/dA on the right, each half on its own symmetric scale (printed), so the layers read top to bottom
// as the image flows through the net, without opening 2 + 2·layers files.
constexpr int kSheetTile = 56, kSheetTiles = 8, kSheetGap = 6, kSheetStrip = kSheetTiles * (kSheetTile + kSheetGap);

// Pixels per value for a map of h×w on the sheet: about kSheetTile pixels a side, whole pixels per value.
int sheet_cell(int h, int w) { return std::max(1, int(std::lround(double(kSheetTile) / std::max(h, w)))); }
bool is_units(const Tensor& t) { return t.shape().h == 1 && t.shape().w == 1; }
// How many channels (or a dense layer's units) a half shows, and each unit's width in a strip.
int unit_width(int c) { return std::clamp(kSheetStrip / std::max(c, 1), 2, kSheetTile); }
int shown(const Tensor& t) {
  return is_units(t) ? std::min(t.shape().c, kSheetStrip / unit_width(t.shape().c))
                     : std::min(t.shape().c, kSheetTiles);
}
// The height of a half's drawing.
int sheet_height(const Tensor& t) {
  return is_units(t) ? kSheetTile / 2 : t.shape().h * sheet_cell(t.shape().h, t.shape().w);
}
// The width of a half's drawing.
int sheet_width(const Tensor& t) {
  if (is_units(t)) return shown(t) * unit_width(t.shape().c);
  return shown(t) * (t.shape().w * sheet_cell(t.shape().h, t.shape().w) + kSheetGap) - kSheetGap;
}

// `t`'s first channels (or a dense layer's first units, as a strip) at (x, y); `grey`: intensities in [0, 1].
void sheet_half(cv::Mat& img, int x, int y, const Tensor& t, bool grey) {
  const int h = t.shape().h, w = t.shape().w, n = shown(t);
  const double scale = draw::max_abs(t.data(), t.size());
  if (is_units(t)) {
    const int cell = unit_width(t.shape().c);
    for (int k = 0; k < n; ++k)
      cv::rectangle(img, cv::Rect(x + k * cell, y, cell, kSheetTile / 2),
                    draw::bgr(diverging(double(t[std::size_t(k)]) / scale)), cv::FILLED);
    return;
  }
  const int cell = sheet_cell(h, w);
  const std::size_t plane = std::size_t(h) * w;
  for (int k = 0; k < n; ++k) {
    const int tx = x + k * (w * cell + kSheetGap);
    if (grey)
      draw::grey_tile(img, tx, y, t.data() + k * plane, h, w, cell);
    else
      draw::signed_tile(img, tx, y, t.data() + k * plane, h, w, cell, scale);
  }
}

std::string sheet_note(const Tensor& t, const std::string& what) {
  std::string s = what + " +/-" + draw::number(draw::max_abs(t.data(), t.size()));
  if (shown(t) < t.shape().c) s += " (first " + std::to_string(shown(t)) + " of " + std::to_string(t.shape().c) + ")";
  return s;
}

void write_overview(const MapsReport& r, const std::string& cls, const std::string& path) {
  const Shape in = r.input.shape();
  struct Row {
    std::string left, right;
    const Tensor *maps, *grads;
  };
  std::vector<Row> rows;
  rows.push_back({"input " + std::to_string(in.c) + "x" + std::to_string(in.h) + "x" + std::to_string(in.w) +
                      (in.c == 3   ? ", colour"
                       : in.c == 1 ? ", grey 0..1"
                                   : ""),
                  sheet_note(r.input_gradient, "dL/d(input)"), &r.input, &r.input_gradient});
  for (const LayerMaps& m : r.layers) {
    const Shape s = m.activation.shape();
    rows.push_back({std::to_string(m.layer) + " " + m.summary + ": " + std::to_string(s.c) + "x" + std::to_string(s.h) +
                        "x" + std::to_string(s.w) + ", " + sheet_note(m.activation, "maps"),
                    sheet_note(m.gradient, "dL/dA"), &m.activation, &m.gradient});
  }
  const int left = 10, top = 62, label_h = 14, row_gap = 12;
  int left_w = 0, right_w = 0, height = top;
  for (const Row& row : rows) {
    const bool colour = row.maps == &r.input && in.c == 3;
    const int pic_w = colour ? in.w * sheet_cell(in.h, in.w) : sheet_width(*row.maps);
    left_w = std::max({left_w, pic_w, draw::text_width(row.left, 0.35)});
    right_w = std::max({right_w, colour ? pic_w : sheet_width(*row.grads), draw::text_width(row.right, 0.35)});
    height += label_h + (colour ? in.h * sheet_cell(in.h, in.w) : sheet_height(*row.maps)) + row_gap;
  }
  const int mid = left + left_w + 30;
  const std::string title = "every layer for one image: feature maps on the left; on the right dL/dA for " + cls;
  const std::string sub =
      "each half of a row on its own scale (blue < 0 < red, white 0); the input as a picture; a dense layer's units "
      "as a strip";
  cv::Mat img = draw::canvas(
      std::max({mid + right_w + 10, draw::text_width(title, 0.5) + 20, draw::text_width(sub) + 20}), height);
  draw::text(img, title, 10, 20, 0.5);
  draw::text(img, sub, 10, 38);
  int y = top;
  for (const Row& row : rows) {
    draw::text(img, row.left, left, y + 9, 0.35);
    draw::text(img, row.right, mid, y + 9, 0.35);
    y += label_h;
    if (row.maps == &r.input && in.c == 3) {  // the picture in colour, its gradient as kernel_colour's colour map
      const int cell = sheet_cell(in.h, in.w);
      const std::size_t plane = std::size_t(in.h) * in.w;
      draw::colour_tile(img, left, y, r.input.data(), plane, in.h, in.w, cell);
      draw::colour_tile(img, mid, y, r.input_gradient.data(), plane, in.h, in.w, cell,
                        draw::max_abs(r.input_gradient.data(), r.input_gradient.size()));
      y += in.h * cell + row_gap;
      continue;
    }
    sheet_half(img, left, y, *row.maps, row.maps == &r.input && in.c == 1);
    sheet_half(img, mid, y, *row.grads, false);
    y += sheet_height(*row.maps) + row_gap;
  }
  cv::line(img, {mid - 15, top}, {mid - 15, height - 8}, cv::Scalar(220, 220, 220));
  draw::save_png(img, path);
}

}  // namespace

MapsReport compute_maps(Network& net, const Tensor& image, int label) {
  check_sample_shape("show maps: image", net.input_shape(), image.shape());
  if (image.shape().n != 1)
    throw Error("show maps: one image at a time, got a batch of " + std::to_string(image.shape().n));
  MapsReport r;
  r.input = copy_of(image);
  const Tensor& out = net.forward(image);
  Tensor probs;
  net.loss().probabilities(out, probs);
  r.probabilities.assign(probs.data(), probs.data() + probs.size());
  const int K = int(out.shape().sample_size());
  if (label >= K)
    throw Error("show maps: class " + std::to_string(label) + " but the network has " + std::to_string(K) + " outputs");
  r.target_is_label = label >= 0;
  r.target = label >= 0
                 ? label
                 : int(std::max_element(r.probabilities.begin(), r.probabilities.end()) - r.probabilities.begin());
  for (std::size_t i = 0; i < net.size(); ++i) {
    LayerMaps m;
    m.layer = i;
    m.kind = net.layer(i).kind();
    m.summary = net.layer(i).summary();
    m.activation = copy_of(net.activation(i));
    r.layers.push_back(std::move(m));
  }
  Tensor dout;
  net.loss().compute(out, &r.target, &dout);
  net.set_need_input_gradient(true);
  net.backward(dout);
  net.set_need_input_gradient(false);
  r.input_gradient = copy_of(net.input_gradient(0));
  // ∂L/∂(output of layer i) is ∂L/∂(input of layer i + 1); the last layer's is the loss's own dL/dout.
  for (std::size_t i = 0; i < net.size(); ++i)
    r.layers[i].gradient = i + 1 < net.size() ? copy_of(net.input_gradient(i + 1)) : copy_of(dout);
  return r;
}

std::vector<std::string> write_maps(const MapsReport& r, const std::string& dir) {
  draw::make_dir(dir);
  namespace fs = std::filesystem;
  std::vector<std::string> written;
  const std::string cls =
      "class " + std::to_string(r.target) + (r.target_is_label ? " (the image's label)" : " (predicted)");
  auto put = [&](const Tensor& t, const std::string& title, const std::string& name) {
    const std::string path = (fs::path(dir) / name).string();
    write_tensor_grid(t, title, path);
    written.push_back(path);
  };
  if (r.input.shape().c == 3) {  // a colour picture: shown as one, not as three unrelated maps
    for (const bool gradient : {false, true}) {
      const std::string path = (fs::path(dir) / (gradient ? "input-gradient.png" : "input.png")).string();
      write_colour_picture(gradient ? r.input_gradient : r.input, gradient,
                           gradient ? "dL/d(input) for " + cls : "input image", path);
      written.push_back(path);
    }
  } else if (r.input.shape().c == 1) {  // a grey picture: its own tones, not a signed map
    const std::string path = (fs::path(dir) / "input.png").string();
    write_grey_picture(r.input, "input image", path);
    written.push_back(path);
    put(r.input_gradient, "dL/d(input) for " + cls, "input-gradient.png");
  } else {
    put(r.input, "input image", "input.png");
    put(r.input_gradient, "dL/d(input) for " + cls, "input-gradient.png");
  }
  for (const LayerMaps& m : r.layers) {
    const std::string stem = "layer" + std::to_string(m.layer) + "-" + m.kind + ".png";
    put(m.activation, "layer " + std::to_string(m.layer) + ": " + m.summary + " - feature maps", "maps-" + stem);
    put(m.gradient, "layer " + std::to_string(m.layer) + ": " + m.summary + " - dL/dA for " + cls, "grad-" + stem);
  }
  const std::string overview = (fs::path(dir) / "overview.png").string();
  write_overview(r, cls, overview);
  written.insert(written.begin(), overview);
  return written;
}

}  // namespace cnn::show
