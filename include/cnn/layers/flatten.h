// Flatten: c×h×w → (c·h·w)×1×1. The data do not move; backward passes the gradient through unchanged.
#pragma once

#include "cnn/layer.h"

namespace cnn {

class Flatten : public Layer {
 public:
  std::string kind() const override { return "flatten"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 protected:
  Shape infer(Shape input) override { return {1, int(input.sample_size()), 1, 1}; }
};

}  // namespace cnn
