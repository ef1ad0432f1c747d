#include "cnn/optimizer.h"

#include <cmath>
#include <sstream>

namespace cnn {

namespace {
constexpr double kPi = 3.14159265358979323846;
// PyTorch's _annealing_cos: from `start` at p = 0 to `end` at p = 1 along half a cosine.
double anneal_cos(double start, double end, double p) { return end + (start - end) / 2.0 * (1.0 + std::cos(kPi * p)); }
}  // namespace

double LrSchedule::factor(int epoch, std::size_t batch, std::size_t batches) const {
  const double t = double(epoch) * double(batches) + double(batch);  // the global step
  double f = 1.0;
  switch (kind) {
    case Kind::constant:
      break;
    case Kind::step:
      f = std::pow(gamma, epoch / std::max(step_epochs, 1));
      break;
    case Kind::exponential:
      f = std::pow(gamma, epoch);
      break;
    case Kind::cosine:
      f = 0.5 * (1.0 + std::cos(kPi * std::min(epoch, step_epochs) / step_epochs));
      break;
    case Kind::onecycle: {
      // OneCycleLR's two phases, in fractions of the peak: 1/25 → 1 until step pct·T − 1, then → 1/(25·10⁴) at T − 1.
      const double T = double(step_epochs) * double(batches), up = pct * T - 1.0, down = T - 1.0;
      const double initial = 1.0 / 25.0, final_ = initial / 1e4;
      if (t <= up)
        f = anneal_cos(initial, 1.0, up > 0 ? t / up : 1.0);
      else
        f = anneal_cos(1.0, final_, std::min(1.0, (t - up) / std::max(down - up, 1e-12)));
      break;
    }
  }
  const double warm_steps = warmup * double(batches);
  if (warm_steps > 0 && t < warm_steps) f *= (t + 1.0) / warm_steps;
  return f;
}

LrSchedule LrSchedule::resolved(int epochs) const {
  LrSchedule s = *this;
  if (s.whole_run) {
    s.step_epochs = std::max(epochs, 1);
    s.whole_run = false;
  }
  return s;
}

std::string LrSchedule::str() const {
  std::ostringstream s;
  if (warmup > 0) s << "warmup:" << warmup << ",";
  if (kind == Kind::constant)
    s << "none";
  else if (kind == Kind::step)
    s << "step:" << step_epochs << ":" << gamma;
  else if (kind == Kind::exponential)
    s << "exp:" << gamma;
  else
    s << (kind == Kind::cosine ? "cos" : "onecycle");
  if ((kind == Kind::cosine || kind == Kind::onecycle) && !whole_run) s << ":" << step_epochs;
  if (kind == Kind::onecycle && !whole_run && pct != 0.3) s << ":" << pct;
  std::string out = s.str();
  // "warmup:W,none" reads better as "warmup:W"
  if (warmup > 0 && kind == Kind::constant) out.resize(out.size() - 5);
  return out;
}

LrSchedule parse_schedule(const std::string& text) {
  LrSchedule s;
  auto bad = [&]() {
    return Error(
        "learning-rate schedule: expected [warmup:EPOCHS,] then none, step:EPOCHS:GAMMA, exp:GAMMA, cos[:EPOCHS] or "
        "onecycle[:EPOCHS[:PCT]], got \"" +
        text + "\"");
  };
  // std::stod / std::stoi that must use the whole text
  auto number = [&](const std::string& t) {
    std::size_t used = 0;
    const double v = std::stod(t, &used);
    if (used != t.size() || !std::isfinite(v)) throw bad();
    return v;
  };
  auto integer = [&](const std::string& t) {
    std::size_t used = 0;
    const int v = std::stoi(t, &used);
    if (used != t.size()) throw bad();
    return v;
  };
  try {
    std::string rest = text;
    if (rest.rfind("warmup:", 0) == 0) {
      const auto comma = rest.find(',');
      s.warmup = number(rest.substr(7, comma == std::string::npos ? std::string::npos : comma - 7));
      if (!(s.warmup > 0) || s.warmup > 1e6) throw bad();
      rest = comma == std::string::npos ? "none" : rest.substr(comma + 1);
      if (rest.empty()) throw bad();
    }
    if (rest.empty() || rest == "none") return s;
    if (rest.rfind("step:", 0) == 0) {
      const auto colon = rest.find(':', 5);
      if (colon == std::string::npos) throw bad();
      s.kind = LrSchedule::Kind::step;
      s.step_epochs = integer(rest.substr(5, colon - 5));
      s.gamma = number(rest.substr(colon + 1));
    } else if (rest.rfind("exp:", 0) == 0) {
      s.kind = LrSchedule::Kind::exponential;
      s.gamma = number(rest.substr(4));
    } else if (rest == "cos" || rest.rfind("cos:", 0) == 0) {
      s.kind = LrSchedule::Kind::cosine;
      s.whole_run = rest == "cos";
      if (!s.whole_run) s.step_epochs = integer(rest.substr(4));
    } else if (rest == "onecycle" || rest.rfind("onecycle:", 0) == 0) {
      s.kind = LrSchedule::Kind::onecycle;
      s.whole_run = rest == "onecycle";
      if (!s.whole_run) {
        const std::string args = rest.substr(9);
        const auto colon = args.find(':');
        s.step_epochs = integer(args.substr(0, colon));
        if (colon != std::string::npos) s.pct = number(args.substr(colon + 1));
        if (!(s.pct > 0.0 && s.pct < 1.0)) throw bad();
      }
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
  return (own ? *own : opt_.lr) * opt_.schedule.factor(epoch_, batch_, batches_);
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
