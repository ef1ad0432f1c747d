// Element-wise activations, and softmax over the features of each sample (seed 004):
//   ReLU       a = max(0, z)          dz = da where z ≥ 0, else 0 (the seed's rule, z = 0 included)
//   LeakyReLU  a = max(αz, z)         dz = da where z ≥ 0, else α·da   (α = 0.1 as in the seed)
//   Sigmoid    a = 1/(1 + e^−z)       dz = da·a(1 − a)
//   Tanh       a = tanh z             dz = da·(1 − a²)
//   Softmax    a_i = e^(z_i−m)/Σ_j e^(z_j−m), m = max z   dz_i = a_i(da_i − Σ_j da_j a_j)
//   LogSoftmax a_i = z_i − m − log Σ_j e^(z_j−m)         dz_i = da_i − e^(a_i) Σ_j da_j
// (i and j run over the values one softmax covers: a whole sample, or one line along an axis)
#pragma once

#include "cnn/layer.h"

namespace cnn {

class Activation : public Layer {
 protected:
  Shape infer(Shape input) override { return input; }
};

class ReLU : public Activation {
 public:
  std::string kind() const override { return "relu"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

class LeakyReLU : public Activation {
 public:
  explicit LeakyReLU(float alpha = 0.1f) : alpha_(alpha) {}
  std::string kind() const override { return "leaky_relu"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  float alpha() const { return alpha_; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 private:
  float alpha_;
};

class Sigmoid : public Activation {
 public:
  std::string kind() const override { return "sigmoid"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

class Tanh : public Activation {
 public:
  std::string kind() const override { return "tanh"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

// Softmax and LogSoftmax normalise along one axis of the batch [N, C, H, W], numbered as PyTorch's `dim`: 1 the
// channels at each pixel (a segmentation net's per-pixel classes), 2 each column's rows, 3 each row's columns; 0, the
// default, all C·H·W features of a sample as one (a classifier's, whatever shape its last layer has). Negative axes
// count from the end (−1 = 3), as in PyTorch and Keras.
class AxisSoftmax : public Activation {
 public:
  explicit AxisSoftmax(int axis);
  int axis() const { return axis_; }
  std::string summary() const override;
  nlohmann::json spec() const override;

 protected:
  // A sample as `outer` blocks of `inner` lines, each line `len` values `inner` apart: the values one softmax covers.
  struct Lines {
    int outer, len, inner;
  };
  Lines lines() const;

 private:
  int axis_;
};

class Softmax : public AxisSoftmax {
 public:
  explicit Softmax(int axis = 0) : AxisSoftmax(axis) {}
  std::string kind() const override { return "softmax"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

// The logarithm of softmax, as PyTorch's nn.LogSoftmax and ONNX's LogSoftmax end a classifier: finite where a
// softmax underflows to 0. softmax(log_softmax(z)) = softmax(z), so under softmax_cross_entropy it trains exactly as
// the logits would (a model trained with it and NLL loss elsewhere carries on here unchanged).
class LogSoftmax : public AxisSoftmax {
 public:
  explicit LogSoftmax(int axis = 0) : AxisSoftmax(axis) {}
  std::string kind() const override { return "log_softmax"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

// Numerically stable softmax of n values (used by the Softmax layer and the fused loss).
void softmax(const float* z, float* out, int n);

}  // namespace cnn
