// Pooling over kh×kw windows moved by (sh, sw) (output floor((H − kh)/sh) + 1 down, floor((W − kw)/sw) + 1 across;
// max and average pooling may pad, and a window's taps may be spread by a dilation, below):
//   MaxPool2D  z = max(window)      dA = dZ at the window's argmax (the first maximum on ties), 0 elsewhere
//   AvgPool2D  z = Σ(window)/|window|  dA = dZ/|window| at every position of the window
//   L2Pool2D   z = √Σ(window²)      dA = dZ·a/z (0 where z = 0)                       (seed 001)
// The seeds' nets pool square k×k windows with one stride, which the fast kernels take; any other window (PyTorch's
// MaxPool2d((2, 3), stride=(1, 2), dilation=2), ONNX's 1-D pooling) goes through the literal loop over its taps.
#pragma once

#include <cstdint>

#include "cnn/layer.h"

namespace cnn {

// A window of kh×kw taps, dh rows and dw columns apart (dilation 1: next to each other), moved by sh rows and sw
// columns from one output to the next. It spans (kh − 1)·dh + 1 rows and (kw − 1)·dw + 1 columns.
struct PoolWindow {
  int kh = 2, kw = 2, sh = 2, sw = 2, dh = 1, dw = 1;
  static PoolWindow square(int k, int stride) { return {k, k, stride, stride, 1, 1}; }
  int span_h() const { return span(kh, dh); }
  int span_w() const { return span(kw, dw); }
  // (k − 1)·d + 1, held below 2^29 so that no size computed from it overflows: such a window fits no input.
  static int span(int k, int d) {
    const std::int64_t s = std::int64_t(k - 1) * d + 1;
    return s > (std::int64_t(1) << 29) ? 1 << 29 : int(s);
  }
  bool is_square() const { return kh == kw && sh == sw && dh == 1 && dw == 1; }
};

// Padding (max and average pooling only): Ho = (H + top + bottom − span_h)/sh + 1, every window holding at least one
// pixel of the input.
class Pool2D : public Layer {
 public:
  Pool2D(PoolWindow window, Pads pads = {}) : win_(window), pads_(pads) {}
  std::string summary() const override;
  nlohmann::json spec() const override;
  std::size_t macs_per_sample() const override { return out_.sample_size() * std::size_t(win_.kh) * win_.kw; }
  const PoolWindow& window() const { return win_; }
  Pads pads() const { return pads_; }

 protected:
  Shape infer(Shape input) override;
  PoolWindow win_;
  Pads pads_;
};

// Max pooling may pad its input (PyTorch's MaxPool2d(padding=…), ONNX's pads, auto_pad and ceil_mode): a padded
// position is −∞, never the maximum.
class MaxPool2D : public Pool2D {
 public:
  explicit MaxPool2D(int kernel = 2, int stride = 0, Pads pads = {})
      : Pool2D(PoolWindow::square(kernel, stride ? stride : kernel), pads) {}
  explicit MaxPool2D(PoolWindow window, Pads pads = {}) : Pool2D(window, pads) {}
  std::string kind() const override { return "maxpool2d"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  // Where each output of the last forward pass came from (flat index within its input map).
  const std::vector<std::uint32_t>& argmax() const { return argmax_; }
  // Conv2D → ReLU → MaxPool2D backward without the ReLU's own pass: dZ = dR·[z ≥ 0] with dR = dY at the argmax and
  // 0 elsewhere, written straight to dz (x: this layer's input, the ReLU's output; z: the ReLU's input).
  void backward_through_relu(const Tensor& x, const Tensor& dy, const Tensor& z, Tensor& dz);
  // Its forward: y = max over the window of max(z, 0), straight from the ReLU's input z (the same y and argmax as
  // pooling the ReLU's output, which need not be written at all).
  void forward_through_relu(const Tensor& z, Tensor& y);

 private:
  void run_forward(const Tensor& x, Tensor& y, bool relu);
  void run_backward(const Tensor& x, const Tensor& dy, const Tensor* relu_z, Tensor* dx);
  std::vector<std::uint32_t> argmax_;  // per output element: the flat index (within its map) of the maximum
};

// Where max pooling found each maximum, as values (PyTorch's MaxPool2d(return_indices=True), ONNX MaxPool's second
// output, Indices): each output is the flat index, within its H×W input map, of its window's first maximum — u·W + v
// (rows: PyTorch's order and ONNX's storage_order 0) or v·H + u (columns: storage_order 1). The windows are max
// pooling's, padding included. An index is piecewise constant in the input, so dA = 0. Exact in float32: the layer
// refuses maps of more than 2^24 pixels.
class MaxPoolIndices : public Pool2D {
 public:
  enum class Order { rows, columns };
  explicit MaxPoolIndices(PoolWindow window, Pads pads = {}, Order order = Order::rows)
      : Pool2D(window, pads), order_(order) {}
  std::string kind() const override { return "maxpool2d_indices"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  Order order() const { return order_; }

 protected:
  Shape infer(Shape input) override;
  using Layer::infer;

 private:
  Order order_;
};

// Average pooling may pad too: a window is then clipped to the input and divided by the pixels it holds (PyTorch's
// AvgPool2d(padding=…, count_include_pad=False), ONNX's AveragePool with pads or ceil_mode and its default
// count_include_pad = 0): the padding is not counted.
//   z = Σ(window ∩ input)/|window ∩ input|      dA = dZ/|window ∩ input| at every pixel of it
class AvgPool2D : public Pool2D {
 public:
  explicit AvgPool2D(int kernel = 2, int stride = 0, Pads pads = {})
      : Pool2D(PoolWindow::square(kernel, stride ? stride : kernel), pads) {}
  explicit AvgPool2D(PoolWindow window, Pads pads = {}) : Pool2D(window, pads) {}
  std::string kind() const override { return "avgpool2d"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

class L2Pool2D : public Pool2D {
 public:
  explicit L2Pool2D(int kernel = 2, int stride = 0) : Pool2D(PoolWindow::square(kernel, stride ? stride : kernel)) {}
  explicit L2Pool2D(PoolWindow window) : Pool2D(window) {}
  std::string kind() const override { return "l2pool2d"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

// Global average pooling (Lin et al. 2014; ResNet's last pooling): one mean per map, C×H×W → C×1×1.
//   y[c] = (1/HW) Σ_{h,w} x[c][h][w]        dx[c][h][w] = dy[c]/HW
class GlobalAvgPool2D : public Layer {
 public:
  std::string kind() const override { return "global_avgpool2d"; }
  std::size_t macs_per_sample() const override { return in_.sample_size(); }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  using Layer::backward;
  using Layer::forward;

 protected:
  Shape infer(Shape input) override { return {1, input.c, 1, 1}; }
  using Layer::infer;
};

}  // namespace cnn
