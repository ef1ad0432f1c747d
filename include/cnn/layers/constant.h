// Constant: the same tensor for every sample, whatever the input holds — ONNX's Constant, or a graph input given as a
// value, joined to computed maps by concat (coordinate channels, a positional code, a fixed border). Its values are a
// buffer, saved with the model and never trained; the input sets only the batch size and gets no gradient.
//   y[n] = v        dx = 0
#pragma once

#include <vector>

#include "cnn/layer.h"

namespace cnn {

class Constant : public Layer {
 public:
  // A c×h×w tensor holding `value` everywhere, until set_values gives it others.
  explicit Constant(Shape shape, float value = 0.0f);

  std::string kind() const override { return "constant"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  std::size_t buffer_count() const override { return shape_.sample_size(); }
  void bind_buffers(float* buffers) override { v_ = buffers; }
  void init(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  using Layer::backward;
  using Layer::forward;

  void set_values(const std::vector<float>& v);
  const float* values() const { return v_; }

 protected:
  Shape infer(Shape input) override;
  using Layer::infer;

 private:
  Shape shape_;
  float value_;
  float* v_ = nullptr;
};

}  // namespace cnn
