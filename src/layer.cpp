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

Shape Layer::setup(Shape input) {
  input.n = 1;
  if (input.c <= 0 || input.h <= 0 || input.w <= 0)
    throw Error(kind() + " layer: input shape " + input.sample_str() + " has an empty dimension");
  Shape out = infer(input);
  in_ = input;
  out_ = out;
  out_.n = 1;
  return out_;
}

void Layer::check_input(const Tensor& x) const { check_sample_shape(kind() + " layer", in_, x.shape()); }

}  // namespace cnn
