// MaxPool2D (seeds 000, 001, 004): z = max(window); the gradient goes back only to where the maximum was.
#include <algorithm>

#include "cnn/layers/pool.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace cnn {

// z = max over the k×k window; remember where it was (the first maximum on ties). Fused: one pass writes both.
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
    kernels::maxpool_forward(x.data() + first * H * W, (n1 - n0) * C, H, W, k_, stride_, Ho, Wo,
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
    kernels::maxpool_backward(dy.data() + std::size_t(m0) * HWo, argmax_.data() + std::size_t(m0) * HWo,
                              relu_z ? relu_z->data() + std::size_t(m0) * HW : nullptr, m1 - m0, in_.h, in_.w, k_,
                              stride_, out_.h, out_.w, dx.data() + std::size_t(m0) * HW);
  });
}

void MaxPool2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  run_backward(x, dy, nullptr, dx);
}

void MaxPool2D::backward_through_relu(const Tensor& x, const Tensor& dy, const Tensor& z, Tensor& dz) {
  run_backward(x, dy, &z, &dz);
}

}  // namespace cnn
