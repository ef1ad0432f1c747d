// L2Pool2D (seed 001 names it beside max and average pooling): z = √Σ(window²); ∂z/∂a = a/z.
#include <cmath>

#include "cnn/layers/pool.h"
#include "layers/pool_window.h"

namespace cnn {

// z = √(Σ_{i,j<k} a[y·s + i][x·s + j]²)   (over the window's taps: a kh×kw window, spread by its dilation)
void L2Pool2D::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  y.resize(out_.with_batch(N));
  for (int m = 0; m < N * C; ++m) {
    const float* a = x.data() + std::size_t(m) * H * W;
    float* z = y.data() + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        float s = 0.0f;
        for_each_tap(win_, pads_, H, W, oy, ox, [&](int i) { s += a[i] * a[i]; });
        z[oy * Wo + ox] = std::sqrt(s);
      }
  }
}

// dA[y·s + i][x·s + j] += dZ[y][x] · a/z   (nothing flows back through an all-zero window, where z = 0)
void L2Pool2D::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  check_input(x);
  check_sample_shape("l2pool2d layer (backward dZ)", out_, dy.shape());
  if (!dx) return;
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  dx->resize(x.shape());
  dx->fill(0.0f);
  for (int m = 0; m < N * C; ++m) {
    const float* a = x.data() + std::size_t(m) * H * W;
    const float* z = y.data() + std::size_t(m) * Ho * Wo;
    float* da = dx->data() + std::size_t(m) * H * W;
    const float* dz = dy.data() + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        const float zz = z[oy * Wo + ox];
        if (zz == 0.0f) continue;
        const float g = dz[oy * Wo + ox] / zz;
        for_each_tap(win_, pads_, H, W, oy, ox, [&](int i) { da[i] += g * a[i]; });
      }
  }
}

}  // namespace cnn
