// Concat along channels: the inputs' maps stacked in input order, as torch.cat(dim=1) and ONNX Concat(axis=1).
//   y[n] = [x_1[n]; x_2[n]; …]        dx_i[n] = dy[n][the channels of input i]
#include <algorithm>

#include "cnn/layers/merge.h"

namespace cnn {

Shape Concat::infer(std::span<const Shape> in) {
  if (in.size() < 2) throw Error("concat layer: needs two or more inputs, got " + std::to_string(in.size()));
  int c = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i].h != in[0].h || in[i].w != in[0].w)
      throw Error("concat layer: input " + std::to_string(i + 1) + " is " + in[i].sample_str() + " but input 1 is " +
                  in[0].sample_str() + " (a concat along channels needs equal heights and widths)");
    c += in[i].c;
  }
  shapes_.assign(in.begin(), in.end());
  inputs_ = int(in.size());
  return {1, c, in[0].h, in[0].w};
}

// y[n] = [x_1[n]; x_2[n]; …]
void Concat::forward(std::span<const Tensor* const> xs, Tensor& y, const Context&) {
  check_inputs(xs);
  const int N = xs[0]->shape().n;
  y.resize(out_.with_batch(N));
  for (int n = 0; n < N; ++n) {
    float* out = y.sample(n);
    for (const Tensor* x : xs) out = std::copy(x->sample(n), x->sample(n) + x->shape().sample_size(), out);
  }
}

// dx_i[n] = the slice of dy[n] that x_i[n] was copied into
void Concat::backward(std::span<const Tensor* const> xs, const Tensor&, const Tensor& dy,
                      std::span<Tensor* const> dxs) {
  if (!out_.same_sample(dy.shape())) check_sample_shape("concat layer (backward)", out_, dy.shape());
  const int N = dy.shape().n;
  for (std::size_t i = 0; i < dxs.size(); ++i)
    if (dxs[i]) dxs[i]->resize(xs[i]->shape());
  for (int n = 0; n < N; ++n) {
    const float* d = dy.sample(n);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const std::size_t F = xs[i]->shape().sample_size();
      if (dxs[i]) std::copy(d, d + F, dxs[i]->sample(n));
      d += F;
    }
  }
}

}  // namespace cnn
