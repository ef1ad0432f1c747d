// Layers that join branches of a graph: they take two or more inputs (the "inputs" of a description file).
//   Add     y = Σ_i x_i              (equal shapes; the residual connection of He et al. 2015)
//           dx_i = dy
//   Concat  y = [x_1; x_2; …]         (along channels by default, with equal heights and widths: Inception,
//           dx_i = the part of dy       DenseNet; or along rows or columns, torch.cat's dim 2 or 3)
//                  that x_i filled
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
  // axis 1 channels, 2 rows, 3 columns of [N, C, H, W] (negatives count from the end, −1 = 3)
  explicit Concat(int axis = 1);
  std::string kind() const override { return "concat"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  int axis() const { return axis_; }
  void forward(std::span<const Tensor* const> xs, Tensor& y, const Context& ctx) override;
  void backward(std::span<const Tensor* const> xs, const Tensor& y, const Tensor& dy,
                std::span<Tensor* const> dxs) override;
  using Merge::backward;
  using Merge::forward;

 protected:
  Shape infer(std::span<const Shape> inputs) override;
  using Merge::infer;

 private:
  // A sample as `outer` blocks, input i contributing a run of chunk(i) values to each.
  int outer() const;
  std::size_t chunk(std::size_t i) const;
  int axis_;
};

}  // namespace cnn
