// MaxPool2D (seeds 000, 001, 004): z = max(window); the gradient goes back only to where the maximum was.
#include "cnn/layers/pool.h"

namespace cnn {

// z = max over the k×k window; remember where it was (the first maximum on ties).
void MaxPool2D::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  y.resize(out_.with_batch(N));
  argmax_.resize(y.size());
  for (int m = 0; m < N * C; ++m) {
    const float* a = x.data() + std::size_t(m) * H * W;
    float* z = y.data() + std::size_t(m) * Ho * Wo;
    std::uint32_t* arg = argmax_.data() + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        int best = (oy * stride_) * W + ox * stride_;
        for (int i = 0; i < k_; ++i)
          for (int j = 0; j < k_; ++j) {
            const int idx = (oy * stride_ + i) * W + ox * stride_ + j;
            if (a[idx] > a[best]) best = idx;
          }
        z[oy * Wo + ox] = a[best];
        arg[oy * Wo + ox] = std::uint32_t(best);
      }
  }
}

// dA = dZ at the argmax of each window, 0 elsewhere (overlapping windows add up).
void MaxPool2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  check_sample_shape("maxpool2d layer (backward dZ)", out_, dy.shape());
  if (!dx) return;
  const int N = x.shape().n, C = in_.c, HW = in_.h * in_.w, HWo = out_.h * out_.w;
  dx->resize(x.shape());
  dx->fill(0.0f);
  for (int m = 0; m < N * C; ++m) {
    float* da = dx->data() + std::size_t(m) * HW;
    const float* dz = dy.data() + std::size_t(m) * HWo;
    const std::uint32_t* arg = argmax_.data() + std::size_t(m) * HWo;
    for (int p = 0; p < HWo; ++p) da[arg[p]] += dz[p];
  }
}

}  // namespace cnn
