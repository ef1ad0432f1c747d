// MaxPool2D (seeds 000, 001, 004): z = max(window); the gradient goes back only to where the maximum was.
// MaxPoolIndices: where that maximum was, as values.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "cnn/layers/pool.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "layers/pool_window.h"

namespace cnn {

namespace {
// The literal pooling of `planes` maps (padded, rectangular or dilated windows): the maximum of the window's taps
// inside the map (of max(x, 0) with relu), the first on ties, in row-major order.
void window_max(const float* x, int planes, int H, int W, const PoolWindow& win, Pads p, int Ho, int Wo, float* y,
                std::uint32_t* arg, bool relu) {
  for (int m = 0; m < planes; ++m, x += std::size_t(H) * W)
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox, ++y, ++arg) {
        float best = 0;
        std::uint32_t at = 0;
        bool first = true;
        for_each_tap(win, p, H, W, oy, ox, [&](int i) {
          const float e = relu ? std::max(x[i], 0.0f) : x[i];
          if (first || e > best) best = e, at = std::uint32_t(i), first = false;
        });
        *y = best;
        *arg = at;
      }
}
}  // namespace

// z = max over the window; remember where it was (the first maximum on ties). Fused: one pass writes both.
void MaxPool2D::forward(const Tensor& x, Tensor& y, const Context&) { run_forward(x, y, false); }
void MaxPool2D::forward_through_relu(const Tensor& z, Tensor& y) { run_forward(z, y, true); }

void MaxPool2D::run_forward(const Tensor& x, Tensor& y, bool relu) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  y.resize(out_.with_batch(N));
  argmax_.resize(y.size());
  const int chunks = kernels::batch_chunks(N);
  kernels::parallel_for(chunks, [&](int c) {
    const int n0 = kernels::chunk_begin(N, chunks, c), n1 = kernels::chunk_begin(N, chunks, c + 1);
    const std::size_t first = std::size_t(n0) * C;
    if (pads_.any() || !win_.is_square())
      return window_max(x.data() + first * H * W, (n1 - n0) * C, H, W, win_, pads_, Ho, Wo, y.data() + first * Ho * Wo,
                        argmax_.data() + first * Ho * Wo, relu);
    kernels::maxpool_forward(x.data() + first * H * W, (n1 - n0) * C, H, W, win_.kh, win_.sh, Ho, Wo,
                             y.data() + first * Ho * Wo, argmax_.data() + first * Ho * Wo, relu);
  });
}

// dA = dZ at the argmax of each window, 0 elsewhere (overlapping windows add up); relu_z not null: times
// [z ≥ 0] as well (the ReLU before this layer, seed 004's rule, folded into the same pass).
void MaxPool2D::run_backward(const Tensor& x, const Tensor& dy, const Tensor* relu_z, Tensor* dx_out) {
  check_input(x);
  if (!out_.same_sample(dy.shape())) check_sample_shape("maxpool2d layer (backward dZ)", out_, dy.shape());
  if (relu_z && !(relu_z->shape() == x.shape()))
    check_shape("maxpool2d layer (fused relu)", x.shape(), relu_z->shape());
  if (!dx_out) return;
  Tensor& dx = *dx_out;
  const int N = x.shape().n, C = in_.c, HW = in_.h * in_.w, HWo = out_.h * out_.w;
  dx.resize(x.shape());
  const int chunks = kernels::batch_chunks(N);
  kernels::parallel_for(chunks, [&](int c) {
    const int m0 = kernels::chunk_begin(N, chunks, c) * C, m1 = kernels::chunk_begin(N, chunks, c + 1) * C;
    if (pads_.any() || !win_.is_square()) {  // the argmax says where each window's maximum was: scatter there
      float* d = dx.data() + std::size_t(m0) * HW;
      std::fill(d, d + std::size_t(m1 - m0) * HW, 0.0f);
      for (int m = m0; m < m1; ++m, d += HW)
        for (int o = 0; o < HWo; ++o) {
          const std::size_t at = std::size_t(m) * HWo + std::size_t(o);
          d[argmax_[at]] += dy.data()[at];
        }
      if (relu_z) {
        const float* z = relu_z->data() + std::size_t(m0) * HW;
        float* g = dx.data() + std::size_t(m0) * HW;
        for (std::size_t i = 0; i < std::size_t(m1 - m0) * HW; ++i) g[i] = z[i] >= 0.0f ? g[i] : 0.0f;
      }
      return;
    }
    kernels::maxpool_backward(dy.data() + std::size_t(m0) * HWo, argmax_.data() + std::size_t(m0) * HWo,
                              relu_z ? relu_z->data() + std::size_t(m0) * HW : nullptr, m1 - m0, in_.h, in_.w, win_.kh,
                              win_.sh, out_.h, out_.w, dx.data() + std::size_t(m0) * HW);
  });
}

void MaxPool2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  run_backward(x, dy, nullptr, dx);
}

void MaxPool2D::backward_through_relu(const Tensor& x, const Tensor& dy, const Tensor& z, Tensor& dz) {
  run_backward(x, dy, &z, &dz);
}

// y = the flat index within its map of the window's first maximum (u·W + v, or v·H + u by columns): the taps in the
// order max pooling takes them, so that ties pick the same pixel.
Shape MaxPoolIndices::infer(Shape in) {
  if (std::int64_t(in.h) * in.w > (std::int64_t(1) << 24))
    throw Error(kind() + " layer: a " + std::to_string(in.h) + "x" + std::to_string(in.w) +
                " map has more pixels than float32 counts exactly (2^24)");
  return Pool2D::infer(in);
}

void MaxPoolIndices::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w, planes = x.shape().n * in_.c;
  y.resize(out_.with_batch(x.shape().n));
  float* out = y.data();
  for (int m = 0; m < planes; ++m) {
    const float* a = x.data() + std::size_t(m) * H * W;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        int at = -1;
        for_each_tap(win_, pads_, H, W, oy, ox, [&](int i) {
          if (at < 0 || a[i] > a[at]) at = i;
        });
        *out++ = float(order_ == Order::rows ? at : at % W * H + at / W);
      }
  }
}

// dA = 0
void MaxPoolIndices::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  if (!out_.same_sample(dy.shape())) check_sample_shape("maxpool2d_indices layer (backward dZ)", out_, dy.shape());
  if (!dx) return;
  dx->resize(x.shape());
  std::fill(dx->data(), dx->data() + dx->size(), 0.0f);
}

std::string MaxPoolIndices::summary() const {
  return Pool2D::summary() + (order_ == Order::columns ? " by columns" : "");
}

nlohmann::json MaxPoolIndices::spec() const {
  nlohmann::json j = Pool2D::spec();
  if (order_ == Order::columns) j["order"] = "columns";
  return j;
}

}  // namespace cnn
