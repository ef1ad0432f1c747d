#include "cnn/layer.h"

#include <nlohmann/json.hpp>

namespace cnn {

std::string Layer::summary() const { return kind(); }

nlohmann::json Layer::spec() const {
  nlohmann::json j;
  j["type"] = kind();
  if (learning_rate) j["lr"] = *learning_rate;
  return j;
}

Shape Layer::setup(Shape input) { return setup(std::span<const Shape>(&input, 1)); }

Shape Layer::setup(std::span<const Shape> inputs) {
  if (inputs.empty()) throw Error(kind() + " layer: no input");
  std::vector<Shape> in(inputs.begin(), inputs.end());
  for (Shape& s : in) {
    s.n = 1;
    if (s.c <= 0 || s.h <= 0 || s.w <= 0)
      throw Error(kind() + " layer: input shape " + s.sample_str() + " has an empty dimension");
  }
  Shape out = in.size() == 1 && arity() == 1 ? infer(in[0]) : infer(std::span<const Shape>(in));
  in_ = in[0];
  out_ = out;
  out_.n = 1;
  return out_;
}

Shape Layer::infer(std::span<const Shape> inputs) {
  if (inputs.size() != 1) throw Error(kind() + " layer: takes one input, got " + std::to_string(inputs.size()));
  return infer(inputs[0]);
}

void Layer::check_input(const Tensor& x) const {
  if (!in_.same_sample(x.shape()))
    check_sample_shape(kind() + " layer", in_, x.shape());  // builds no string unless bad
}

}  // namespace cnn
