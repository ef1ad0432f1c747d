// GlobalAvgPool2D: the mean of each map; its gradient spreads evenly back over the map.
#include "cnn/layers/pool.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace cnn {

// y[n][c] = (1/HW) Σ x[n][c][·]
void GlobalAvgPool2D::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, chunks = kernels::batch_chunks(N);
  const std::size_t HW = std::size_t(in_.h) * in_.w;
  y.resize(out_.with_batch(N));
  const float inv = 1.0f / float(HW);
  kernels::parallel_for(chunks, [&](int k) {
    for (int m = kernels::chunk_begin(N, chunks, k) * C; m < kernels::chunk_begin(N, chunks, k + 1) * C; ++m)
      y[std::size_t(m)] = kernels::sum(x.data() + std::size_t(m) * HW, HW) * inv;
  });
}

// dx[n][c][·] = dy[n][c]/HW
void GlobalAvgPool2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!out_.same_sample(dy.shape())) check_sample_shape("global_avgpool2d layer (backward)", out_, dy.shape());
  if (!dx) return;
  dx->resize(x.shape());
  const std::size_t HW = std::size_t(in_.h) * in_.w, maps = std::size_t(x.shape().n) * in_.c;
  const float inv = 1.0f / float(HW);
  for (std::size_t m = 0; m < maps; ++m) {
    const float g = dy[m] * inv;
    float* d = dx->data() + m * HW;
    for (std::size_t i = 0; i < HW; ++i) d[i] = g;
  }
}

}  // namespace cnn
