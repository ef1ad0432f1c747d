// Dropout (seed 004: AlexNet "randomly sets half of the hidden units to 0"), inverted so eval is the identity.
#include "cnn/layers/dropout.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "kernels/shard.h"

namespace cnn {

Dropout::Dropout(float p, std::uint64_t seed) : p_(p), seed_(seed) {
  if (!(p >= 0.0f && p < 1.0f)) throw Error("dropout layer: rate must be in [0, 1), got " + std::to_string(p));
}

std::string Dropout::summary() const { return "dropout p " + std::to_string(p_); }

nlohmann::json Dropout::spec() const {
  nlohmann::json j = Layer::spec();
  j["rate"] = p_;
  return j;
}

// train: y = x·m/(1 − p), m_i = [u_i ≥ p], u_i = uniform(hash(seed, step, i));   eval: y = x
void Dropout::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  check_input(x);
  y.resize(x.shape());
  last_train_ = ctx.mode == Mode::train && p_ > 0.0f;
  if (!last_train_) {
    std::copy(x.data(), x.data() + x.size(), y.data());
    return;
  }
  scale_.resize(x.size());
  const float keep = 1.0f / (1.0f - p_);
  // i counts from the first image of the global batch, so a process holding part of it draws that part's mask
  const std::uint64_t base = mix64(seed_ ^ mix64(ctx.step)) +
                             std::uint64_t(kernels::shard_for(x.shape().n).offset()) * x.shape().sample_size();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float u = float(mix64(base + i) >> 40) * (1.0f / 16777216.0f);
    scale_[i] = u >= p_ ? keep : 0.0f;
    y[i] = x[i] * scale_[i];
  }
}

// dx = dy·m/(1 − p) with the mask of the forward pass (dx = dy after an eval pass)
void Dropout::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_sample_shape("dropout layer (backward)", out_, dy.shape());
  if (!dx) return;
  dx->resize(x.shape());
  if (!last_train_) {
    std::copy(dy.data(), dy.data() + dy.size(), dx->data());
    return;
  }
  for (std::size_t i = 0; i < dy.size(); ++i) (*dx)[i] = dy[i] * scale_[i];
}

}  // namespace cnn
