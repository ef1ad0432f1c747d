// Element-wise activations, and softmax over the features of each sample (seed 004):
//   ReLU       a = max(0, z)          dz = da where z ≥ 0, else 0 (the seed's rule, z = 0 included)
//   LeakyReLU  a = max(αz, z)         dz = da where z ≥ 0, else α·da   (α = 0.1 as in the seed)
//   Sigmoid    a = 1/(1 + e^−z)       dz = da·a(1 − a)
//   Tanh       a = tanh z             dz = da·(1 − a²)
//   Softmax    a_i = e^(z_i−m)/Σ_j e^(z_j−m), m = max z   dz_i = a_i(da_i − Σ_j da_j a_j)
//   LogSoftmax a_i = z_i − m − log Σ_j e^(z_j−m)         dz_i = da_i − e^(a_i) Σ_j da_j
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

class Softmax : public Activation {
 public:
  std::string kind() const override { return "softmax"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

// The logarithm of softmax, as PyTorch's nn.LogSoftmax and ONNX's LogSoftmax end a classifier: finite where a
// softmax underflows to 0. softmax(log_softmax(z)) = softmax(z), so under softmax_cross_entropy it trains exactly as
// the logits would (a model trained with it and NLL loss elsewhere carries on here unchanged).
class LogSoftmax : public Activation {
 public:
  std::string kind() const override { return "log_softmax"; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

// Numerically stable softmax of n values (used by the Softmax layer and the fused loss).
void softmax(const float* z, float* out, int n);

}  // namespace cnn
