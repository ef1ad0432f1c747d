// What the three pooling layers share: the window geometry and how they describe themselves.
#include <nlohmann/json.hpp>

#include "cnn/layers/pool.h"

namespace cnn {

Shape Pool2D::infer(Shape in) {
  if (k_ <= 0 || stride_ <= 0)
    throw Error(kind() + " layer: kernel and stride must be positive, got " + std::to_string(k_) + " and " +
                std::to_string(stride_));
  if (in.h < k_ || in.w < k_)
    throw Error(kind() + " layer: input " + in.sample_str() + " is smaller than the " + std::to_string(k_) + "x" +
                std::to_string(k_) + " window");
  return {1, in.c, (in.h - k_) / stride_ + 1, (in.w - k_) / stride_ + 1};
}

std::string Pool2D::summary() const {
  return kind() + " " + std::to_string(k_) + "x" + std::to_string(k_) + " stride " + std::to_string(stride_);
}

nlohmann::json Pool2D::spec() const {
  nlohmann::json j = Layer::spec();
  j["kernel"] = k_;
  j["stride"] = stride_;
  return j;
}

}  // namespace cnn
