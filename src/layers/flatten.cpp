// Flatten: the same numbers, read as one feature vector per sample.
#include "cnn/layers/flatten.h"

#include <algorithm>

namespace cnn {

void Flatten::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  y.resize(out_.with_batch(x.shape().n));
  std::copy(x.data(), x.data() + x.size(), y.data());
}

void Flatten::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_sample_shape("flatten layer (backward)", out_, dy.shape());
  if (!dx) return;
  dx->resize(x.shape());
  std::copy(dy.data(), dy.data() + dy.size(), dx->data());
}

}  // namespace cnn
