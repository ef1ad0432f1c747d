// Layers that join branches of a graph: they take two or more inputs (the "inputs" of a description file).
//   Add     y = Σ_i x_i              (equal shapes; the residual connection of He et al. 2015)
//           dx_i = dy
//   Concat  y = [x_1; x_2; …]         (along channels; equal heights and widths; Inception, DenseNet)
//           dx_i = the channels of dy that x_i filled
#pragma once

#include "cnn/layer.h"

namespace cnn {

class Merge : public Layer {
 public:
  int arity() const override { return 0; }
  int inputs() const { return inputs_; }
  // A merge layer has no one-input form: the network always calls the graph forms.
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  using Layer::backward;
  using Layer::forward;

 protected:
  Shape infer(Shape input) override;
  void check_inputs(std::span<const Tensor* const> xs) const;
  std::vector<Shape> shapes_;  // every input's per-sample shape
  int inputs_ = 0;
};

class Add : public Merge {
 public:
  std::string kind() const override { return "add"; }
  std::size_t macs_per_sample() const override { return out_.sample_size() * std::size_t(inputs_ - 1); }
  void forward(std::span<const Tensor* const> xs, Tensor& y, const Context& ctx) override;
  void backward(std::span<const Tensor* const> xs, const Tensor& y, const Tensor& dy,
                std::span<Tensor* const> dxs) override;
  using Merge::backward;
  using Merge::forward;

 protected:
  Shape infer(std::span<const Shape> inputs) override;
  using Merge::infer;
};

class Concat : public Merge {
 public:
  std::string kind() const override { return "concat"; }
  void forward(std::span<const Tensor* const> xs, Tensor& y, const Context& ctx) override;
  void backward(std::span<const Tensor* const> xs, const Tensor& y, const Tensor& dy,
                std::span<Tensor* const> dxs) override;
  using Merge::backward;
  using Merge::forward;

 protected:
  Shape infer(std::span<const Shape> inputs) override;
  using Merge::infer;
};

}  // namespace cnn
