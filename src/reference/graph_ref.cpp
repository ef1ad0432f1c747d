#include "reference/graph_ref.h"

#include <cmath>

#include "cnn/error.h"

namespace cnn::ref {

namespace {

Tensor per_channel(int c) { return Tensor({1, c, 1, 1}); }

// Sum over the M = N·H·W values of channel c of f(n, h, w), in double.
template <class F>
double channel_sum(const Shape& s, F f) {
  double total = 0.0;
  for (int n = 0; n < s.n; ++n)
    for (int h = 0; h < s.h; ++h)
      for (int w = 0; w < s.w; ++w) total += f(n, h, w);
  return total;
}

double values_per_channel(const Shape& s) { return double(s.n) * s.h * s.w; }

}  // namespace

BatchNormTrain batchnorm2d_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  const Shape s = x.shape();
  const double M = values_per_channel(s);
  BatchNormTrain out{Tensor(s), per_channel(s.c), per_channel(s.c)};
  for (int c = 0; c < s.c; ++c) {
    const double mu = channel_sum(s, [&](int n, int h, int w) { return double(x.at(n, c, h, w)); }) / M;
    const double var = channel_sum(s,
                                   [&](int n, int h, int w) {
                                     const double d = x.at(n, c, h, w) - mu;
                                     return d * d;
                                   }) /
                       M;
    out.mean[std::size_t(c)] = float(mu);
    out.var[std::size_t(c)] = float(var);
    for (int n = 0; n < s.n; ++n)
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w) {
          const double xhat = (x.at(n, c, h, w) - mu) / std::sqrt(var + eps);
          out.y.at(n, c, h, w) = float(gamma[std::size_t(c)] * xhat + beta[std::size_t(c)]);
        }
  }
  return out;
}

Tensor batchnorm2d_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                const Tensor& running_var, double eps) {
  const Shape s = x.shape();
  Tensor y(s);
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w) {
          const double xhat = (x.at(n, c, h, w) - double(running_mean[std::size_t(c)])) /
                              std::sqrt(double(running_var[std::size_t(c)]) + eps);
          y.at(n, c, h, w) = float(gamma[std::size_t(c)] * xhat + beta[std::size_t(c)]);
        }
  return y;
}

void batchnorm2d_update_running(const Tensor& x, double momentum, Tensor& running_mean, Tensor& running_var) {
  const Shape s = x.shape();
  const double M = values_per_channel(s);
  if (M < 2) throw Error("ref::batchnorm2d_update_running: the unbiased variance needs two or more values");
  for (int c = 0; c < s.c; ++c) {
    const double mu = channel_sum(s, [&](int n, int h, int w) { return double(x.at(n, c, h, w)); }) / M;
    const double unbiased = channel_sum(s,
                                        [&](int n, int h, int w) {
                                          const double d = x.at(n, c, h, w) - mu;
                                          return d * d;
                                        }) /
                            (M - 1);
    const std::size_t i = std::size_t(c);
    running_mean[i] = float((1 - momentum) * running_mean[i] + momentum * mu);
    running_var[i] = float((1 - momentum) * running_var[i] + momentum * unbiased);
  }
}

BatchNormGrads batchnorm2d_backward_train(const Tensor& x, const Tensor& gamma, const Tensor& dy, double eps) {
  const Shape s = x.shape();
  check_shape("ref::batchnorm2d_backward_train (dy)", s, dy.shape());
  const double M = values_per_channel(s);
  BatchNormGrads g{Tensor(s), per_channel(s.c), per_channel(s.c)};
  for (int c = 0; c < s.c; ++c) {
    const double gam = gamma[std::size_t(c)];
    const double mu = channel_sum(s, [&](int n, int h, int w) { return double(x.at(n, c, h, w)); }) / M;
    const double var = channel_sum(s,
                                   [&](int n, int h, int w) {
                                     const double d = x.at(n, c, h, w) - mu;
                                     return d * d;
                                   }) /
                       M;
    const double sd = std::sqrt(var + eps);
    auto dxhat = [&](int n, int h, int w) { return double(dy.at(n, c, h, w)) * gam; };
    const double dvar = channel_sum(s, [&](int n, int h, int w) {
      return dxhat(n, h, w) * (x.at(n, c, h, w) - mu) * -0.5 * std::pow(var + eps, -1.5);
    });
    const double dmu = channel_sum(s, [&](int n, int h, int w) { return dxhat(n, h, w) * (-1.0 / sd); }) +
                       dvar * channel_sum(s, [&](int n, int h, int w) { return -2.0 * (x.at(n, c, h, w) - mu); }) / M;
    for (int n = 0; n < s.n; ++n)
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w)
          g.dx.at(n, c, h, w) = float(dxhat(n, h, w) / sd + dvar * 2.0 * (x.at(n, c, h, w) - mu) / M + dmu / M);
    g.dgamma[std::size_t(c)] =
        float(channel_sum(s, [&](int n, int h, int w) { return dy.at(n, c, h, w) * (x.at(n, c, h, w) - mu) / sd; }));
    g.dbeta[std::size_t(c)] = float(channel_sum(s, [&](int n, int h, int w) { return double(dy.at(n, c, h, w)); }));
  }
  return g;
}

BatchNormGrads batchnorm2d_backward_eval(const Tensor& x, const Tensor& gamma, const Tensor& running_mean,
                                         const Tensor& running_var, const Tensor& dy, double eps) {
  const Shape s = x.shape();
  check_shape("ref::batchnorm2d_backward_eval (dy)", s, dy.shape());
  BatchNormGrads g{Tensor(s), per_channel(s.c), per_channel(s.c)};
  for (int c = 0; c < s.c; ++c) {
    const double mu = running_mean[std::size_t(c)], sd = std::sqrt(double(running_var[std::size_t(c)]) + eps);
    for (int n = 0; n < s.n; ++n)
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w) g.dx.at(n, c, h, w) = float(dy.at(n, c, h, w) * gamma[std::size_t(c)] / sd);
    g.dgamma[std::size_t(c)] =
        float(channel_sum(s, [&](int n, int h, int w) { return dy.at(n, c, h, w) * (x.at(n, c, h, w) - mu) / sd; }));
    g.dbeta[std::size_t(c)] = float(channel_sum(s, [&](int n, int h, int w) { return double(dy.at(n, c, h, w)); }));
  }
  return g;
}

Tensor global_avgpool_forward(const Tensor& x) {
  const Shape s = x.shape();
  Tensor y({s.n, s.c, 1, 1});
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c) {
      double sum = 0.0;
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w) sum += x.at(n, c, h, w);
      y.at(n, c, 0, 0) = float(sum / (double(s.h) * s.w));
    }
  return y;
}

Tensor global_avgpool_backward(const Tensor& x, const Tensor& dy) {
  const Shape s = x.shape();
  check_shape("ref::global_avgpool_backward (dy)", {s.n, s.c, 1, 1}, dy.shape());
  Tensor dx(s);
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w) dx.at(n, c, h, w) = float(dy.at(n, c, 0, 0) / (double(s.h) * s.w));
  return dx;
}

Tensor add_forward(const std::vector<const Tensor*>& xs) {
  const Shape s = xs.at(0)->shape();
  Tensor y(s);
  for (const Tensor* x : xs) check_shape("ref::add_forward", s, x->shape());
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int h = 0; h < s.h; ++h)
        for (int w = 0; w < s.w; ++w) {
          double sum = 0.0;
          for (const Tensor* x : xs) sum += x->at(n, c, h, w);
          y.at(n, c, h, w) = float(sum);
        }
  return y;
}

std::vector<Tensor> add_backward(const std::vector<const Tensor*>& xs, const Tensor& dy) {
  std::vector<Tensor> dxs;
  for (const Tensor* x : xs) {
    check_shape("ref::add_backward", x->shape(), dy.shape());
    Tensor dx(x->shape());
    for (std::size_t i = 0; i < dx.size(); ++i) dx[i] = dy[i];
    dxs.push_back(std::move(dx));
  }
  return dxs;
}

Tensor concat_forward(const std::vector<const Tensor*>& xs) {
  const Shape s0 = xs.at(0)->shape();
  int channels = 0;
  for (const Tensor* x : xs) channels += x->shape().c;
  Tensor y({s0.n, channels, s0.h, s0.w});
  int first = 0;  // the output channel of input i's channel 0
  for (const Tensor* x : xs) {
    const Shape s = x->shape();
    if (s.n != s0.n || s.h != s0.h || s.w != s0.w) check_shape("ref::concat_forward", s0, s);
    for (int n = 0; n < s.n; ++n)
      for (int c = 0; c < s.c; ++c)
        for (int h = 0; h < s.h; ++h)
          for (int w = 0; w < s.w; ++w) y.at(n, first + c, h, w) = x->at(n, c, h, w);
    first += s.c;
  }
  return y;
}

std::vector<Tensor> concat_backward(const std::vector<const Tensor*>& xs, const Tensor& dy) {
  std::vector<Tensor> dxs;
  int first = 0;
  for (const Tensor* x : xs) {
    const Shape s = x->shape();
    Tensor dx(s);
    for (int n = 0; n < s.n; ++n)
      for (int c = 0; c < s.c; ++c)
        for (int h = 0; h < s.h; ++h)
          for (int w = 0; w < s.w; ++w) dx.at(n, c, h, w) = dy.at(n, first + c, h, w);
    first += s.c;
    dxs.push_back(std::move(dx));
  }
  if (first != dy.shape().c)
    throw Error("ref::concat_backward: dy has " + std::to_string(dy.shape().c) + " channels, the inputs " +
                std::to_string(first));
  return dxs;
}

}  // namespace cnn::ref
