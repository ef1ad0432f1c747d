// Add (the residual connection, He et al. 2015): the element-wise sum of inputs of one shape.
//   y = Σ_i x_i          dx_i = ∂L/∂y · ∂y/∂x_i = dy
#include <algorithm>

#include "cnn/layers/merge.h"
#include "kernels/parallel.h"

namespace cnn {

Shape Add::infer(std::span<const Shape> in) {
  if (in.size() < 2) throw Error("add layer: needs two or more inputs, got " + std::to_string(in.size()));
  for (std::size_t i = 1; i < in.size(); ++i)
    if (!in[i].same_sample(in[0]))
      throw Error("add layer: input " + std::to_string(i + 1) + " is " + in[i].sample_str() + " but input 1 is " +
                  in[0].sample_str() + " (an add needs equal shapes)");
  shapes_.assign(in.begin(), in.end());
  inputs_ = int(in.size());
  return in[0];
}

// y = x_1 + x_2 + … in input order (the same bits for any thread count: each element is one sum)
void Add::forward(std::span<const Tensor* const> xs, Tensor& y, const Context&) {
  check_inputs(xs);
  y.resize(xs[0]->shape());
  const int N = y.shape().n, chunks = kernels::batch_chunks(N);
  const std::size_t F = out_.sample_size();
  kernels::parallel_for(chunks, [&](int c) {
    const std::size_t b = kernels::chunk_begin(N, chunks, c) * F, e = kernels::chunk_begin(N, chunks, c + 1) * F;
    float* out = y.data();
    const float* a = xs[0]->data();
    const float* b1 = xs[1]->data();
    for (std::size_t i = b; i < e; ++i) out[i] = a[i] + b1[i];
    for (std::size_t k = 2; k < xs.size(); ++k) {
      const float* x = xs[k]->data();
      for (std::size_t i = b; i < e; ++i) out[i] += x[i];
    }
  });
}

// dx_i = dy for every input
void Add::backward(std::span<const Tensor* const> xs, const Tensor&, const Tensor& dy, std::span<Tensor* const> dxs) {
  if (!out_.same_sample(dy.shape())) check_sample_shape("add layer (backward)", out_, dy.shape());
  for (std::size_t i = 0; i < dxs.size(); ++i) {
    if (!dxs[i]) continue;
    dxs[i]->resize(xs[i]->shape());
    std::copy(dy.data(), dy.data() + dy.size(), dxs[i]->data());
  }
}

}  // namespace cnn
