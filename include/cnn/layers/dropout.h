// Dropout (inverted, as in PyTorch and Keras): in training each value is kept with probability 1 − p and scaled
// by 1/(1 − p), so evaluation is the identity. Seed 004: AlexNet drops half of its hidden units (p = 0.5).
//   train: y = x·m/(1 − p), m ~ Bernoulli(1 − p);  dx = dy·m/(1 − p)        eval: y = x, dx = dy
// The mask is a pure function of (seed, step, element), so runs are reproducible and resumable.
#pragma once

#include <cstdint>

#include "cnn/layer.h"

namespace cnn {

class Dropout : public Layer {
 public:
  explicit Dropout(float p = 0.5f, std::uint64_t seed = 0);
  std::string kind() const override { return "dropout"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  float rate() const { return p_; }
  void set_seed(std::uint64_t seed) { seed_ = seed; }
  // A network's init draws the mask seed like any other layer's initial state.
  void init(Rng& rng) override { seed_ = rng.next(); }
  void reseed(Rng& rng) override { init(rng); }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 protected:
  Shape infer(Shape input) override { return input; }

 private:
  float p_;
  std::uint64_t seed_;
  bool last_train_ = false;
  std::vector<float> scale_;  // per element of the last training batch: 0 or 1/(1 − p)
};

}  // namespace cnn
