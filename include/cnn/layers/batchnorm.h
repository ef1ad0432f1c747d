// Batch normalisation over the channels of image maps (Ioffe & Szegedy 2015; PyTorch's BatchNorm2d), per channel c
// over the M = N·H·W values of a batch:
//   train:  μ = (1/M) Σ x,  σ² = (1/M) Σ (x − μ)²,  x̂ = (x − μ)/√(σ² + ε),  y = γ·x̂ + β
//           running μ ← (1 − m)·running μ + m·μ,  running σ² ← (1 − m)·running σ² + m·σ²·M/(M − 1)
//   eval:   y = γ·(x − running μ)/√(running σ² + ε) + β     (an affine map per channel: foldable into a conv)
//   backward (train), through the batch statistics:
//           dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/√(σ² + ε) · (dy − (1/M) Σ dy − x̂·(1/M) Σ dy·x̂)
// m = 0.1 and ε = 1e-5, PyTorch's defaults. γ and β are parameters; the running estimates are buffers, saved in the
// model file but never touched by the optimizer.
#pragma once

#include <vector>

#include "cnn/layer.h"

namespace cnn {

class BatchNorm2D : public Layer {
 public:
  explicit BatchNorm2D(float momentum = 0.1f, float eps = 1e-5f);

  std::string kind() const override { return "batchnorm2d"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  std::size_t param_count() const override { return 2 * std::size_t(in_.c); }
  bool gradient_is_global() const override { return true; }
  std::size_t buffer_count() const override { return 2 * std::size_t(in_.c); }
  void bind(float* params, float* grads) override;
  void bind_buffers(float* buffers) override;
  std::vector<ParamView> params() override;
  void init(Rng& rng) override;
  std::size_t macs_per_sample() const override { return 2 * in_.sample_size(); }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  using Layer::backward;
  using Layer::forward;

  // With the ReLU after it (the plan's conv → batchnorm → relu step): y and r = max(y, 0) in the pass that
  // normalises; backward from the ReLU's dr, its mask [y ≥ 0] found again from x as the forward found y (y and dy
  // are never read). Two passes over the maps fewer, and the same bits as the two layers.
  void forward_relu(const Tensor& x, Tensor& y, Tensor& r, const Context& ctx);
  void backward_relu(const Tensor& x, const Tensor& dr, Tensor* dx);

  // The eval-mode map y = scale·x + shift of channel c: scale = γ/√(running σ² + ε), shift = β − running μ·scale.
  // This is what folds into the convolution before it (W' = scale·W, b' = scale·b + shift).
  float eval_scale(int c) const;
  float eval_shift(int c) const;

  float momentum() const { return momentum_; }
  float eps() const { return eps_; }
  int channels() const { return in_.c; }
  Tensor gamma() const;
  Tensor beta() const;
  Tensor running_mean() const;
  Tensor running_var() const;

 protected:
  Shape infer(Shape input) override;
  using Layer::infer;

 private:
  float momentum_, eps_;
  float *gamma_ = nullptr, *beta_ = nullptr, *dgamma_ = nullptr, *dbeta_ = nullptr;
  float *running_mean_ = nullptr, *running_var_ = nullptr;
  void statistics(const Tensor& x, const Context& ctx);
  template <class F>
  void normalise(const Tensor& x, float* out, F f) const;
  template <class G>
  void backward_from(const Tensor& x, G dy, Tensor* dx);
  bool last_train_ = false;
  std::vector<float> mean_, inv_std_;  // per channel, of the last forward pass (the batch's, or the running ones)
  std::vector<double> part_, sums_;    // the chunks' partial sums, and the batch's
};

}  // namespace cnn
