// Constant: y[n] = v for every sample n; dx = 0 (the output does not depend on the input).
#include "cnn/layers/constant.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace cnn {

Constant::Constant(Shape shape, float value) : shape_{1, shape.c, shape.h, shape.w}, value_(value) {
  if (shape.c < 1 || shape.h < 1 || shape.w < 1)
    throw Error("constant layer: shape " + shape.sample_str() + " must have positive sizes");
  if (!std::isfinite(value)) throw Error("constant layer: value is not a finite number");
}

Shape Constant::infer(Shape) { return shape_; }

std::string Constant::summary() const { return "constant " + shape_.sample_str(); }

nlohmann::json Constant::spec() const {
  nlohmann::json j = Layer::spec();
  j["shape"] = {shape_.c, shape_.h, shape_.w};
  if (value_ != 0.0f) j["value"] = value_;
  return j;
}

void Constant::init(Rng&) { std::fill(v_, v_ + shape_.sample_size(), value_); }

void Constant::set_values(const std::vector<float>& v) {
  if (v.size() != shape_.sample_size())
    throw Error("constant layer: " + std::to_string(v.size()) + " values for a " + shape_.sample_str() + " tensor");
  std::copy(v.begin(), v.end(), v_);
}

// y[n] = v
void Constant::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n;
  y.resize(out_.with_batch(N));
  for (int n = 0; n < N; ++n) std::copy(v_, v_ + shape_.sample_size(), y.sample(n));
}

// dx = 0
void Constant::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!out_.same_sample(dy.shape())) check_sample_shape("constant layer (backward)", out_, dy.shape());
  if (!dx) return;
  dx->resize(x.shape());
  std::fill(dx->data(), dx->data() + dx->size(), 0.0f);
}

}  // namespace cnn
