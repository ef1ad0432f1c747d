#include "cnn/optimizer.h"

#include <cmath>
#include <sstream>

namespace cnn {

double LrSchedule::factor(int epoch) const {
  switch (kind) {
    case Kind::constant:
      return 1.0;
    case Kind::step:
      return std::pow(gamma, epoch / std::max(step_epochs, 1));
    case Kind::exponential:
      return std::pow(gamma, epoch);
    case Kind::cosine:
      return 0.5 * (1.0 + std::cos(3.14159265358979323846 * std::min(epoch, step_epochs) / step_epochs));
  }
  return 1.0;
}

std::string LrSchedule::str() const {
  std::ostringstream s;
  if (kind == Kind::constant)
    s << "none";
  else if (kind == Kind::step)
    s << "step:" << step_epochs << ":" << gamma;
  else if (kind == Kind::exponential)
    s << "exp:" << gamma;
  else
    s << "cos:" << step_epochs;
  return s.str();
}

LrSchedule parse_schedule(const std::string& text) {
  LrSchedule s;
  auto bad = [&]() {
    return Error("learning-rate decay: expected none, step:EPOCHS:GAMMA, exp:GAMMA or cos:EPOCHS, got \"" + text +
                 "\"");
  };
  try {
    if (text.empty() || text == "none") return s;
    if (text.rfind("step:", 0) == 0) {
      const auto colon = text.find(':', 5);
      if (colon == std::string::npos) throw bad();
      std::size_t used = 0;
      s.kind = LrSchedule::Kind::step;
      s.step_epochs = std::stoi(text.substr(5, colon - 5), &used);
      if (used != colon - 5) throw bad();
      s.gamma = std::stod(text.substr(colon + 1), &used);
      if (used != text.size() - colon - 1) throw bad();
    } else if (text.rfind("exp:", 0) == 0) {
      std::size_t used = 0;
      s.kind = LrSchedule::Kind::exponential;
      s.gamma = std::stod(text.substr(4), &used);
      if (used != text.size() - 4) throw bad();
    } else if (text.rfind("cos:", 0) == 0) {
      std::size_t used = 0;
      s.kind = LrSchedule::Kind::cosine;
      s.step_epochs = std::stoi(text.substr(4), &used);
      if (used != text.size() - 4) throw bad();
    } else {
      throw bad();
    }
  } catch (const std::logic_error&) {
    throw bad();
  }
  if (!(s.gamma > 0.0) || s.step_epochs <= 0) throw bad();
  return s;
}

Optimizer::Optimizer(OptimizerOptions options) : opt_(std::move(options)) {
  if (opt_.kind != "sgd" && opt_.kind != "adam")
    throw Error("optimizer: unknown kind \"" + opt_.kind + "\" (expected sgd or adam)");
  if (!(opt_.lr > 0.0) || !std::isfinite(opt_.lr))
    throw Error("optimizer: learning rate must be a positive number, got " + std::to_string(opt_.lr));
  if (opt_.momentum < 0.0 || opt_.momentum >= 1.0)
    throw Error("optimizer: momentum must be in [0, 1), got " + std::to_string(opt_.momentum));
  if (opt_.weight_decay < 0.0)
    throw Error("optimizer: weight decay must be ≥ 0, got " + std::to_string(opt_.weight_decay));
}

double Optimizer::layer_lr(const Network& net, std::size_t layer) const {
  const auto& own = net.layer(layer).learning_rate;
  return (own ? *own : opt_.lr) * opt_.schedule.factor(epoch_);
}

void Optimizer::restore(std::uint64_t steps, std::vector<float> state) {
  t_ = steps;
  state_ = std::move(state);
}

void Optimizer::step(Network& net) {
  std::vector<float>& w = net.params();
  const std::vector<float>& g = net.grads();
  const std::size_t P = w.size();
  const bool adam = opt_.kind == "adam";
  const bool moments = adam || opt_.momentum > 0.0;
  if (moments && state_.size() != (adam ? 2 * P : P)) state_.assign(adam ? 2 * P : P, 0.0f);
  ++t_;
  const float wd = float(opt_.weight_decay), mu = float(opt_.momentum);
  const double bc1 = 1.0 - std::pow(opt_.beta1, double(t_)), bc2 = 1.0 - std::pow(opt_.beta2, double(t_));
  for (std::size_t l = 0; l < net.size(); ++l) {
    const std::size_t begin = net.param_offset(l), end = begin + net.param_count(l);
    const float lr = float(layer_lr(net, l));
    if (adam) {
      const float b1 = float(opt_.beta1), b2 = float(opt_.beta2), eps = float(opt_.eps);
      const float step = float(lr / bc1), inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
      float *m = state_.data(), *v = state_.data() + P;
      for (std::size_t i = begin; i < end; ++i) {
        const float gi = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
      }
    } else if (moments) {
      float* v = state_.data();
      for (std::size_t i = begin; i < end; ++i) {
        const float gi = g[i] + wd * w[i];
        v[i] = mu * v[i] + gi;
        w[i] -= lr * (opt_.nesterov ? gi + mu * v[i] : v[i]);
      }
    } else {
      for (std::size_t i = begin; i < end; ++i) w[i] -= lr * (g[i] + wd * w[i]);
    }
  }
}

}  // namespace cnn
