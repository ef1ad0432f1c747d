// BatchNorm2D: forward and backward side by side, the formulas of include/cnn/layers/batchnorm.h.
// Each channel is one task of the pool; its sums over the batch follow the chunks of the batch in one fixed order (in
// double), so the statistics, and with them every bit of the result, do not depend on the thread or process count.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cnn/layers/batchnorm.h"
#include "kernels/parallel.h"
#include "kernels/shard.h"

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

// Σ over the batch of f(n, c, i) for every channel c, the same bits on any number of threads or processes: each
// chunk of the batch sums its images in order (in double), and the chunks' sums are added up the shard's tree
// (kernels/shard.h) — with several processes, the ranks exchange them here, in the middle of the pass.
namespace {
template <int V, class F>
void channel_sums(const kernels::Shard& shard, int C, std::vector<double>& part, double* out, F f) {
  const std::size_t L = std::size_t(shard.local_chunks()), W = std::size_t(V) * C;
  part.resize(std::max<std::size_t>(L, 1) * W);
  std::fill(part.begin(), part.end(), 0.0);
  kernels::parallel_for(C, [&](int c) {
    for (std::size_t j = 0; j < L; ++j)
      for (int n = shard.begin(int(j)); n < shard.begin(int(j) + 1); ++n)
        f(n, c, part.data() + j * W + std::size_t(c) * V);
  });
  shard.sum<double>([&](int j) { return part.data() + std::size_t(j) * W; }, W, out);
}
}  // namespace

// train: μ, σ² of the batch, x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β, running estimates updated
// eval:  y = γ·(x − running μ)/√(running σ² + ε) + β
void BatchNorm2D::forward(const Tensor& x, Tensor& y, const Context& ctx) {
  statistics(x, ctx);
  y.resize(x.shape());
  normalise(x, y.data(), [](std::size_t, float v) { return v; });
}

// y, and r = max(y, 0) as the ReLU has it (y where y ≥ 0, else 0), in one pass
void BatchNorm2D::forward_relu(const Tensor& x, Tensor& y, Tensor& r, const Context& ctx) {
  statistics(x, ctx);
  y.resize(x.shape());
  r.resize(x.shape());
  float* yd = y.data();
  normalise(x, r.data(), [yd](std::size_t at, float v) {
    yd[at] = v;
    return v >= 0.0f ? v : 0.0f;
  });
}

// μ and 1/√(σ² + ε) per channel: the batch's (and the running estimates updated) in training, the running ones else
void BatchNorm2D::statistics(const Tensor& x, const Context& ctx) {
  check_input(x);
  const int C = in_.c;
  const std::size_t HW = std::size_t(in_.h) * in_.w;
  last_train_ = ctx.mode == Mode::train;
  if (!last_train_) {
    for (int c = 0; c < C; ++c) {
      mean_[c] = running_mean_[c];
      inv_std_[c] = float(1.0 / std::sqrt(double(running_var_[c]) + eps_));
    }
    return;
  }
  const kernels::Shard& shard = kernels::shard_for(x.shape().n);
  const std::size_t M = std::size_t(shard.global_n()) * HW;
  if (M < 2)
    throw Error("batchnorm2d layer: training needs more than one value per channel (batch of " +
                std::to_string(shard.global_n()) + ", " + std::to_string(HW) + " pixels a map), as in PyTorch");
  sums_.resize(2 * std::size_t(C));
  double *sum = sums_.data(), *sq = sum + C;
  auto map = [&](int n, int c) { return x.data() + (std::size_t(n) * C + c) * HW; };
  channel_sums<1>(shard, C, part_, sum, [&](int n, int c, double* s) {
    const float* p = map(n, c);
    *s += lanes_sum(HW, [p](std::size_t i) { return p[i]; });
  });
  for (int c = 0; c < C; ++c) mean_[std::size_t(c)] = float(sum[std::size_t(c)] / double(M));
  channel_sums<1>(shard, C, part_, sq, [&](int n, int c, double* s) {
    const float *p = map(n, c), mean = mean_[std::size_t(c)];
    *s += lanes_sum(HW, [p, mean](std::size_t i) { return (p[i] - mean) * (p[i] - mean); });
  });
  for (int c = 0; c < C; ++c) {
    const double var = sq[std::size_t(c)] / double(M);
    inv_std_[c] = float(1.0 / std::sqrt(var + eps_));
    running_mean_[c] = float((1.0 - momentum_) * running_mean_[c] + momentum_ * mean_[c]);
    running_var_[c] = float((1.0 - momentum_) * running_var_[c] + momentum_ * var * double(M) / double(M - 1));
  }
}

// out = f(at, scale·x + shift) per channel (at: the value's index), scale = γ/√(σ² + ε) and shift = β − μ·scale of the
// last statistics (the one expression the forward and the fused backward both evaluate, so both find the same y)
namespace {
inline float affine(float x, float scale, float shift) { return x * scale + shift; }
}  // namespace

template <class F>
void BatchNorm2D::normalise(const Tensor& x, float* out, F f) const {
  const int N = x.shape().n, C = in_.c;
  const std::size_t HW = std::size_t(in_.h) * in_.w;
  kernels::parallel_for(C, [&](int c) {
    const float scale = gamma_[c] * inv_std_[c], shift = beta_[c] - mean_[c] * scale;
    for (int n = 0; n < N; ++n) {
      const std::size_t at = (std::size_t(n) * C + c) * HW;
      const float* p = x.data() + at;
      float* q = out + at;
      for (std::size_t i = 0; i < HW; ++i) q[i] = f(at + i, affine(p[i], scale, shift));
    }
  });
}

// dβ = Σ dy, dγ = Σ dy·x̂, and (train) dx = γ/√(σ² + ε)·(dy − (1/M)Σ dy − x̂·(1/M)Σ dy·x̂);
// after an eval forward the statistics are constants: dx = γ/√(running σ² + ε)·dy.
// The sums are over the global batch, so dγ and dβ are complete here (gradient_is_global).
void BatchNorm2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  if (!(x.shape() == dy.shape())) check_shape("batchnorm2d layer (backward)", x.shape(), dy.shape());
  const float* d = dy.data();
  backward_from(
      x, [d](std::size_t at, float, float, float) { return d[at]; }, dx);
}

// the same with dy = dr where y ≥ 0, else 0 (the ReLU's backward), y = scale·x + shift found again
void BatchNorm2D::backward_relu(const Tensor& x, const Tensor& dr, Tensor* dx) {
  check_input(x);
  if (!(x.shape() == dr.shape())) check_shape("batchnorm2d layer (backward)", x.shape(), dr.shape());
  const float* d = dr.data();
  backward_from(
      x,
      [d](std::size_t at, float p, float scale, float shift) {
        const float g = d[at];
        return affine(p, scale, shift) >= 0.0f ? g : 0.0f;
      },
      dx);
}

// dy(at, x[at], scale, shift): the gradient arriving at y[at]
template <class G>
void BatchNorm2D::backward_from(const Tensor& x, G dy, Tensor* dx) {
  const int N = x.shape().n, C = in_.c;
  const kernels::Shard& shard = kernels::shard_for(N);
  const std::size_t HW = std::size_t(in_.h) * in_.w, M = std::size_t(shard.global_n()) * HW;
  if (dx) dx->resize(x.shape());
  const auto scale_shift = [&](int c) {
    const float scale = gamma_[c] * inv_std_[c];
    return std::pair{scale, beta_[c] - mean_[c] * scale};
  };
  sums_.resize(2 * std::size_t(C));  // per channel: Σ dy, Σ dy·x̂
  const double* sums = sums_.data();
  channel_sums<2>(shard, C, part_, sums_.data(), [&](int n, int c, double* s) {
    const std::size_t at = (std::size_t(n) * C + c) * HW;
    const float *p = x.data() + at, mean = mean_[c], inv_std = inv_std_[c];
    const auto ss = scale_shift(c);
    const float scale = ss.first, shift = ss.second;  // plain names: a lambda may not capture a binding (C++20)
    s[0] += lanes_sum(HW, [&](std::size_t i) { return dy(at + i, p[i], scale, shift); });
    s[1] += lanes_sum(HW, [&](std::size_t i) { return dy(at + i, p[i], scale, shift) * ((p[i] - mean) * inv_std); });
  });
  for (int c = 0; c < C; ++c)
    dbeta_[c] = float(sums[2 * std::size_t(c)]), dgamma_[c] = float(sums[2 * std::size_t(c) + 1]);
  if (!dx) return;
  kernels::parallel_for(C, [&](int c) {
    const float mean = mean_[c], inv_std = inv_std_[c], k = gamma_[c] * inv_std;
    const float mean_dy = last_train_ ? float(sums[2 * std::size_t(c)] / double(M)) : 0.0f;
    const float mean_dy_xhat = last_train_ ? float(sums[2 * std::size_t(c) + 1] / double(M)) : 0.0f;
    const auto ss = scale_shift(c);
    const float scale = ss.first, shift = ss.second;  // plain names: a lambda may not capture a binding (C++20)
    for (int n = 0; n < N; ++n) {
      const std::size_t at = (std::size_t(n) * C + c) * HW;
      const float* p = x.data() + at;
      float* q = dx->data() + at;
      for (std::size_t i = 0; i < HW; ++i)
        q[i] = k * (dy(at + i, p[i], scale, shift) - mean_dy - (p[i] - mean) * inv_std * mean_dy_xhat);
    }
  });
}

}  // namespace cnn
