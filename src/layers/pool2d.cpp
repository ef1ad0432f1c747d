// What the three pooling layers share: the window geometry (padding included) and how they describe themselves.
#include <nlohmann/json.hpp>

#include "cnn/layers/pool.h"

namespace cnn {

Shape Pool2D::infer(Shape in) {
  if (k_ <= 0 || stride_ <= 0)
    throw Error(kind() + " layer: kernel and stride must be positive, got " + std::to_string(k_) + " and " +
                std::to_string(stride_));
  const Pads p = pads_;
  const auto bad = [&](const std::string& why) {
    return Error(kind() + " layer: padding [" + std::to_string(p.top) + ", " + std::to_string(p.left) + ", " +
                 std::to_string(p.bottom) + ", " + std::to_string(p.right) + "] " + why);
  };
  if (p.top < 0 || p.left < 0 || p.bottom < 0 || p.right < 0) throw bad("must not be negative");
  if (p.top >= k_ || p.left >= k_) throw bad("leaves the first window without a pixel of the input");
  const int H = in.h + p.top + p.bottom, W = in.w + p.left + p.right;
  if (H < k_ || W < k_)
    throw Error(kind() + " layer: input " + in.sample_str() + (p.any() ? " padded" : "") + " is smaller than the " +
                std::to_string(k_) + "x" + std::to_string(k_) + " window");
  const int Ho = (H - k_) / stride_ + 1, Wo = (W - k_) / stride_ + 1;
  if ((Ho - 1) * stride_ - p.top >= in.h || (Wo - 1) * stride_ - p.left >= in.w)
    throw bad("leaves the last window without a pixel of the input");
  return {1, in.c, Ho, Wo};
}

std::string Pool2D::summary() const {
  std::string s = kind() + " " + std::to_string(k_) + "x" + std::to_string(k_) + " stride " + std::to_string(stride_);
  if (pads_.any())
    s += " pad " + std::to_string(pads_.top) + "," + std::to_string(pads_.left) + "," + std::to_string(pads_.bottom) +
         "," + std::to_string(pads_.right);
  return s;
}

nlohmann::json Pool2D::spec() const {
  nlohmann::json j = Layer::spec();
  j["kernel"] = k_;
  j["stride"] = stride_;
  if (pads_.any()) j["padding"] = {pads_.top, pads_.left, pads_.bottom, pads_.right};
  return j;
}

}  // namespace cnn
