// AvgPool2D (seed 004; LeNet-5's subsampling): z = Σ(window)/k², and each input of the window gets dZ/k². Padded:
// the window clipped to the input, divided by the pixels it holds.
#include <algorithm>
#include "cnn/layers/pool.h"

#include "kernels/kernels.h"

namespace cnn {

namespace {
// Rows [y0, y1) and columns [x0, x1) of the input that output (oy, ox)'s padded window covers.
struct Window {
  int y0, y1, x0, x1;
  int count() const { return (y1 - y0) * (x1 - x0); }
};
Window clipped(int oy, int ox, int k, int s, Pads p, int H, int W) {
  return {std::max(0, oy * s - p.top), std::min(H, oy * s - p.top + k), std::max(0, ox * s - p.left),
          std::min(W, ox * s - p.left + k)};
}
}  // namespace

// z = (1/k²) Σ_{i,j<k} a[y·s + i][x·s + j]
void AvgPool2D::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  const float inv = 1.0f / float(k_ * k_);
  y.resize(out_.with_batch(N));
  for (int m = 0; m < N * C; ++m) {
    const float* a = x.data() + std::size_t(m) * H * W;
    float* z = y.data() + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        if (!pads_.any()) {
          z[oy * Wo + ox] = kernels::window_sum(a, W, oy * stride_, ox * stride_, k_) * inv;
          continue;
        }
        // z = Σ_{(u,v) ∈ window ∩ input} a[u][v] / |window ∩ input|
        const Window w = clipped(oy, ox, k_, stride_, pads_, H, W);
        float sum = 0.0f;
        for (int u = w.y0; u < w.y1; ++u)
          for (int v = w.x0; v < w.x1; ++v) sum += a[u * W + v];
        z[oy * Wo + ox] = sum / float(w.count());
      }
  }
}

// dA[y·s + i][x·s + j] += dZ[y][x] / k²
void AvgPool2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  check_sample_shape("avgpool2d layer (backward dZ)", out_, dy.shape());
  if (!dx) return;
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  const float inv = 1.0f / float(k_ * k_);
  dx->resize(x.shape());
  dx->fill(0.0f);
  for (int m = 0; m < N * C; ++m) {
    float* da = dx->data() + std::size_t(m) * H * W;
    const float* dz = dy.data() + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        if (!pads_.any()) {
          const float g = dz[oy * Wo + ox] * inv;
          for (int i = 0; i < k_; ++i)
            for (int j = 0; j < k_; ++j) da[(oy * stride_ + i) * W + ox * stride_ + j] += g;
          continue;
        }
        // dA[u][v] += dZ / |window ∩ input| for every (u, v) of the clipped window
        const Window w = clipped(oy, ox, k_, stride_, pads_, H, W);
        const float g = dz[oy * Wo + ox] / float(w.count());
        for (int u = w.y0; u < w.y1; ++u)
          for (int v = w.x0; v < w.x1; ++v) da[u * W + v] += g;
      }
  }
}

}  // namespace cnn
