// What Add and Concat share: a merge layer is only ever run through the graph forms.
#include "cnn/layers/merge.h"

namespace cnn {

Shape Merge::infer(Shape) { throw Error(kind() + " layer: needs two or more inputs, got 1"); }

void Merge::forward(const Tensor&, Tensor&, const Context&) {
  throw Error(kind() + " layer: needs " + std::to_string(inputs_) + " inputs, got 1");
}

void Merge::backward(const Tensor&, const Tensor&, const Tensor&, Tensor*) {
  throw Error(kind() + " layer: needs " + std::to_string(inputs_) + " inputs, got 1");
}

void Merge::check_inputs(std::span<const Tensor* const> xs) const {
  if (int(xs.size()) != inputs_)
    throw Error(kind() + " layer: set up for " + std::to_string(inputs_) + " inputs, got " + std::to_string(xs.size()));
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!shapes_[i].same_sample(xs[i]->shape()))
      check_sample_shape(kind() + " layer (input " + std::to_string(i + 1) + ")", shapes_[i], xs[i]->shape());
    if (xs[i]->shape().n != xs[0]->shape().n)
      throw Error(kind() + " layer: input " + std::to_string(i + 1) + " has a batch of " +
                  std::to_string(xs[i]->shape().n) + ", input 1 of " + std::to_string(xs[0]->shape().n));
  }
}

}  // namespace cnn
