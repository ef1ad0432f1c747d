// AvgPool2D (seed 004; LeNet-5's subsampling): z = Σ(window)/k², and each input of the window gets dZ/k². Padded,
// rectangular or dilated: the sum over the window's taps inside the input, divided by how many there are.
#include "cnn/layers/pool.h"
#include "kernels/kernels.h"
#include "layers/pool_window.h"

namespace cnn {

// z = (1/k²) Σ_{i,j<k} a[y·s + i][x·s + j]; in general z = Σ_{taps t inside the input} a[t] / |taps inside|
void AvgPool2D::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  const bool plain = !pads_.any() && win_.is_square();
  const int k = win_.kh, st = win_.sh;  // the plain path's square window
  const float inv = 1.0f / float(k * k);
  y.resize(out_.with_batch(N));
  for (int m = 0; m < N * C; ++m) {
    const float* a = x.data() + std::size_t(m) * H * W;
    float* z = y.data() + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        if (plain) {
          z[oy * Wo + ox] = kernels::window_sum(a, W, oy * st, ox * st, k) * inv;
          continue;
        }
        float sum = 0.0f;
        int count = 0;
        for_each_tap(win_, pads_, H, W, oy, ox, [&](int i) { sum += a[i], ++count; });
        z[oy * Wo + ox] = sum / float(count);
      }
  }
}

// dA[y·s + i][x·s + j] += dZ[y][x] / k²; in general dA[t] += dZ / |taps inside| at every tap t inside the input
void AvgPool2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  check_sample_shape("avgpool2d layer (backward dZ)", out_, dy.shape());
  if (!dx) return;
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  const bool plain = !pads_.any() && win_.is_square();
  const int k = win_.kh, st = win_.sh;  // the plain path's square window
  const float inv = 1.0f / float(k * k);
  dx->resize(x.shape());
  dx->fill(0.0f);
  for (int m = 0; m < N * C; ++m) {
    float* da = dx->data() + std::size_t(m) * H * W;
    const float* dz = dy.data() + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        if (plain) {
          const float g = dz[oy * Wo + ox] * inv;
          for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j) da[(oy * st + i) * W + ox * st + j] += g;
          continue;
        }
        int count = 0;
        for_each_tap(win_, pads_, H, W, oy, ox, [&](int) { ++count; });
        const float g = dz[oy * Wo + ox] / float(count);
        for_each_tap(win_, pads_, H, W, oy, ox, [&](int i) { da[i] += g; });
      }
  }
}

}  // namespace cnn
