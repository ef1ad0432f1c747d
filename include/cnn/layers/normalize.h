// Normalize: the per-channel standardisation of a network's input, part of the network so that training, eval,
// predict, serve, the pictures and the ONNX export (a BatchNormalization node) all apply it the same way.
//   y[c] = (x[c] − μ_c)/σ_c          dx[c] = dy[c]/σ_c
// μ and σ are buffers, saved in the model file: `cnn train` sets them to the training set's per-channel mean and
// standard deviation of the [0, 1] pixels (when the description does not give "mean" and "std" itself), once,
// before the first step.
#pragma once

#include <vector>

#include "cnn/layer.h"

namespace cnn {

class Normalize : public Layer {
 public:
  Normalize() = default;
  // Fixed statistics, one per channel (e.g. ImageNet's); empty: the training set's, set by set_statistics.
  Normalize(std::vector<float> mean, std::vector<float> std);

  std::string kind() const override { return "normalize"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  std::size_t buffer_count() const override { return 2 * std::size_t(in_.c); }
  void bind_buffers(float* buffers) override { mean_ = buffers, std_ = buffers + in_.c; }
  void init(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  using Layer::backward;
  using Layer::forward;

  // Whether the description fixed the statistics (then training leaves them as they are).
  bool fixed() const { return !given_mean_.empty(); }
  void set_statistics(const std::vector<float>& mean, const std::vector<float>& std);
  float mean(int c) const { return mean_[c]; }
  float std_dev(int c) const { return std_[c]; }
  int channels() const { return in_.c; }

 protected:
  Shape infer(Shape input) override;
  using Layer::infer;

 private:
  std::vector<float> given_mean_, given_std_;
  float *mean_ = nullptr, *std_ = nullptr;
};

}  // namespace cnn
