// BatchNorm2D: forward and backward side by side, the formulas of include/cnn/layers/batchnorm.h.
// Each channel is one task of the pool and sums its M values in one fixed order (in double), so the statistics, and
// with them every bit of the result, do not depend on the thread count.
#include <cmath>
#include <nlohmann/json.hpp>

#include "cnn/layers/batchnorm.h"
#include "kernels/parallel.h"

namespace cnn {

namespace {
// Σ_i f(i) over one map, in 16 float lanes (one fixed order for a given n, so the same bits on any thread count)
// added up in double at the end: the compiler vectorises the lanes, and a map of up to a few thousand values loses
// nothing a float sum of that length would not.
template <class F>
double lanes_sum(std::size_t n, F f) {
  constexpr std::size_t kLanes = 16;
  float acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (std::size_t j = 0; j < kLanes; ++j) acc[j] += f(i + j);
  double s = 0.0;
  for (; i < n; ++i) s += f(i);
  for (float a : acc) s += a;
  return s;
}
}  // namespace

BatchNorm2D::BatchNorm2D(float momentum, float eps) : momentum_(momentum), eps_(eps) {
  if (!(momentum >= 0.0f && momentum <= 1.0f))
    throw Error("batchnorm2d layer: momentum must be in [0, 1], got " + std::to_string(momentum));
  if (!(eps > 0.0f)) throw Error("batchnorm2d layer: eps must be positive, got " + std::to_string(eps));
}

Shape BatchNorm2D::infer(Shape in) {
  mean_.assign(std::size_t(in.c), 0.0f);
  inv_std_.assign(std::size_t(in.c), 1.0f);
  return in;
}

std::string BatchNorm2D::summary() const { return "batchnorm2d " + std::to_string(in_.c) + " channels"; }

nlohmann::json BatchNorm2D::spec() const {
  nlohmann::json j = Layer::spec();
  if (momentum_ != 0.1f) j["momentum"] = momentum_;
  if (eps_ != 1e-5f) j["eps"] = eps_;
  return j;
}

void BatchNorm2D::bind(float* params, float* grads) {
  gamma_ = params, beta_ = params + in_.c, dgamma_ = grads, dbeta_ = grads + in_.c;
}

void BatchNorm2D::bind_buffers(float* buffers) { running_mean_ = buffers, running_var_ = buffers + in_.c; }

Tensor BatchNorm2D::gamma() const { return Tensor::view(gamma_, {1, in_.c, 1, 1}); }
Tensor BatchNorm2D::beta() const { return Tensor::view(beta_, {1, in_.c, 1, 1}); }
Tensor BatchNorm2D::running_mean() const { return Tensor::view(running_mean_, {1, in_.c, 1, 1}); }
Tensor BatchNorm2D::running_var() const { return Tensor::view(running_var_, {1, in_.c, 1, 1}); }

std::vector<ParamView> BatchNorm2D::params() {
  return {{"gamma", gamma(), Tensor::view(dgamma_, {1, in_.c, 1, 1})},
          {"beta", beta(), Tensor::view(dbeta_, {1, in_.c, 1, 1})}};
}

// γ = 1, β = 0, running μ = 0, running σ² = 1 (PyTorch's reset_parameters and reset_running_stats)
void BatchNorm2D::init(Rng&) {
  for (int c = 0; c < in_.c; ++c) gamma_[c] = 1.0f, beta_[c] = 0.0f, running_mean_[c] = 0.0f, running_var_[c] = 1.0f;
}

float BatchNorm2D::eval_scale(int c) const { return gamma_[c] / std::sqrt(running_var_[c] + eps_); }
float BatchNorm2D::eval_shift(int c) const { return beta_[c] - running_mean_[c] * eval_scale(c); }

// train: μ, σ² of the batch, x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β, running estimates updated
// eval:  y = γ·(x − running μ)/√(running σ² + ε) + β
void BatchNorm2D::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  check_input(x);
  const int N = x.shape().n, C = in_.c;
  const std::size_t HW = std::size_t(in_.h) * in_.w, M = std::size_t(N) * HW;
  y.resize(x.shape());
  last_train_ = ctx.mode == Mode::train;
  if (last_train_ && M < 2)
    throw Error("batchnorm2d layer: training needs more than one value per channel (batch of " + std::to_string(N) +
                ", " + std::to_string(HW) + " pixels a map), as in PyTorch");
  kernels::parallel_for(C, [&](int c) {
    if (last_train_) {
      double sum = 0.0;
      for (int n = 0; n < N; ++n) {
        const float* p = x.data() + (std::size_t(n) * C + c) * HW;
        sum += lanes_sum(HW, [p](std::size_t i) { return p[i]; });
      }
      const float mean = float(sum / double(M));
      double sq = 0.0;
      for (int n = 0; n < N; ++n) {
        const float* p = x.data() + (std::size_t(n) * C + c) * HW;
        sq += lanes_sum(HW, [p, mean](std::size_t i) { return (p[i] - mean) * (p[i] - mean); });
      }
      const double var = sq / double(M);
      mean_[c] = mean;
      inv_std_[c] = float(1.0 / std::sqrt(var + eps_));
      running_mean_[c] = float((1.0 - momentum_) * running_mean_[c] + momentum_ * mean);
      running_var_[c] = float((1.0 - momentum_) * running_var_[c] + momentum_ * var * double(M) / double(M - 1));
    } else {
      mean_[c] = running_mean_[c];
      inv_std_[c] = float(1.0 / std::sqrt(double(running_var_[c]) + eps_));
    }
    const float scale = gamma_[c] * inv_std_[c], shift = beta_[c] - mean_[c] * scale;
    for (int n = 0; n < N; ++n) {
      const std::size_t at = (std::size_t(n) * C + c) * HW;
      const float* p = x.data() + at;
      float* q = y.data() + at;
      for (std::size_t i = 0; i < HW; ++i) q[i] = p[i] * scale + shift;
    }
  });
}

// dβ = Σ dy, dγ = Σ dy·x̂, and (train) dx = γ/√(σ² + ε)·(dy − (1/M)Σ dy − x̂·(1/M)Σ dy·x̂);
// after an eval forward the statistics are constants: dx = γ/√(running σ² + ε)·dy
void BatchNorm2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  if (!(x.shape() == dy.shape())) check_shape("batchnorm2d layer (backward)", x.shape(), dy.shape());
  const int N = x.shape().n, C = in_.c;
  const std::size_t HW = std::size_t(in_.h) * in_.w, M = std::size_t(N) * HW;
  if (dx) dx->resize(x.shape());
  kernels::parallel_for(C, [&](int c) {
    const float mean = mean_[c], inv_std = inv_std_[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int n = 0; n < N; ++n) {
      const std::size_t at = (std::size_t(n) * C + c) * HW;
      const float *p = x.data() + at, *d = dy.data() + at;
      sum_dy += lanes_sum(HW, [d](std::size_t i) { return d[i]; });
      sum_dy_xhat += lanes_sum(HW, [p, d, mean, inv_std](std::size_t i) { return d[i] * ((p[i] - mean) * inv_std); });
    }
    dbeta_[c] = float(sum_dy);
    dgamma_[c] = float(sum_dy_xhat);
    if (!dx) return;
    const float k = gamma_[c] * inv_std;
    const float mean_dy = last_train_ ? float(sum_dy / double(M)) : 0.0f;
    const float mean_dy_xhat = last_train_ ? float(sum_dy_xhat / double(M)) : 0.0f;
    for (int n = 0; n < N; ++n) {
      const std::size_t at = (std::size_t(n) * C + c) * HW;
      const float *p = x.data() + at, *d = dy.data() + at;
      float* q = dx->data() + at;
      for (std::size_t i = 0; i < HW; ++i) q[i] = k * (d[i] - mean_dy - (p[i] - mean) * inv_std * mean_dy_xhat);
    }
  });
}

}  // namespace cnn
