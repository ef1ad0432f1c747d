// Normalize: y = (x − μ)/σ per channel; its gradient is dy/σ.
#include "cnn/layers/normalize.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace cnn {

Normalize::Normalize(std::vector<float> mean, std::vector<float> std)
    : given_mean_(std::move(mean)), given_std_(std::move(std)) {
  if (given_mean_.size() != given_std_.size())
    throw Error("normalize layer: \"mean\" has " + std::to_string(given_mean_.size()) + " values but \"std\" " +
                std::to_string(given_std_.size()));
  for (float s : given_std_)
    if (!(s > 0.0f)) throw Error("normalize layer: every \"std\" must be positive, got " + std::to_string(s));
}

Shape Normalize::infer(Shape in) {
  if (fixed() && int(given_mean_.size()) != in.c)
    throw Error("normalize layer: " + std::to_string(given_mean_.size()) + " means and deviations for an input of " +
                std::to_string(in.c) + " channels");
  return in;
}

std::string Normalize::summary() const {
  std::string s = "normalize";
  char buf[32];
  for (const char* what : {" mean", " std"}) {
    s += what;
    for (int c = 0; c < in_.c && mean_; ++c) {
      std::snprintf(buf, sizeof buf, " %.4g", what[1] == 'm' ? mean_[c] : std_[c]);
      s += buf;
    }
  }
  return s;
}

nlohmann::json Normalize::spec() const {
  nlohmann::json j = Layer::spec();
  if (fixed()) j["mean"] = given_mean_, j["std"] = given_std_;
  return j;
}

void Normalize::init(Rng&) {
  for (int c = 0; c < in_.c; ++c) {
    mean_[c] = fixed() ? given_mean_[std::size_t(c)] : 0.0f;
    std_[c] = fixed() ? given_std_[std::size_t(c)] : 1.0f;
  }
}

void Normalize::set_statistics(const std::vector<float>& mean, const std::vector<float>& std) {
  if (int(mean.size()) != in_.c || int(std.size()) != in_.c)
    throw Error("normalize layer: statistics for " + std::to_string(mean.size()) + " channels, the input has " +
                std::to_string(in_.c));
  for (int c = 0; c < in_.c; ++c) {
    if (!(std[std::size_t(c)] > 0.0f))
      throw Error("normalize layer: channel " + std::to_string(c) + " has no spread (standard deviation " +
                  std::to_string(std[std::size_t(c)]) + "): every pixel of it is the same");
    mean_[c] = mean[std::size_t(c)], std_[c] = std[std::size_t(c)];
  }
}

// y[c] = (x[c] − μ_c)/σ_c
void Normalize::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  y.resize(x.shape());
  const std::size_t HW = std::size_t(in_.h) * in_.w;
  for (int n = 0; n < x.shape().n; ++n)
    for (int c = 0; c < in_.c; ++c) {
      const float m = mean_[c], s = std_[c];
      const float* p = x.data() + (std::size_t(n) * in_.c + c) * HW;
      float* q = y.data() + (std::size_t(n) * in_.c + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) q[i] = (p[i] - m) / s;
    }
}

// dx[c] = dy[c]/σ_c
void Normalize::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const std::size_t HW = std::size_t(in_.h) * in_.w;
  for (int n = 0; n < x.shape().n; ++n)
    for (int c = 0; c < in_.c; ++c) {
      const float s = std_[c];
      const float* d = dy.data() + (std::size_t(n) * in_.c + c) * HW;
      float* q = dx->data() + (std::size_t(n) * in_.c + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) q[i] = d[i] / s;
    }
}

}  // namespace cnn
