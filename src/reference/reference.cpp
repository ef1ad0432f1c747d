#include "reference/reference.h"

#include <cmath>

namespace cnn::ref {

namespace {
Tensor matrix(int h, int w) { return Tensor({1, 1, h, w}); }
}  // namespace

Tensor correlate_valid(const Tensor& a, const Tensor& k) {
  const int H = a.shape().h, W = a.shape().w, kh = k.shape().h, kw = k.shape().w;
  if (H < kh || W < kw) throw Error("ref::correlate_valid: matrix smaller than kernel");
  Tensor b = matrix(H - kh + 1, W - kw + 1);
  for (int y = 0; y <= H - kh; ++y)
    for (int x = 0; x <= W - kw; ++x) {
      double s = 0.0;
      for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j) s += double(a.at(0, 0, y + i, x + j)) * k.at(0, 0, i, j);
      b.at(0, 0, y, x) = float(s);
    }
  return b;
}

Tensor rot180(const Tensor& k) {
  const int h = k.shape().h, w = k.shape().w;
  Tensor r = matrix(h, w);
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) r.at(0, 0, i, j) = k.at(0, 0, h - 1 - i, w - 1 - j);
  return r;
}

Tensor zero_pad(const Tensor& a, int top, int bottom, int left, int right) {
  const int h = a.shape().h, w = a.shape().w;
  Tensor p = matrix(h + top + bottom, w + left + right);
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) p.at(0, 0, i + top, j + left) = a.at(0, 0, i, j);
  return p;
}

Tensor dilate(const Tensor& a, int stride) {
  const int h = a.shape().h, w = a.shape().w;
  Tensor d = matrix((h - 1) * stride + 1, (w - 1) * stride + 1);
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) d.at(0, 0, i * stride, j * stride) = a.at(0, 0, i, j);
  return d;
}

Tensor crop(const Tensor& a, int top, int left, int h, int w) {
  Tensor c = matrix(h, w);
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) c.at(0, 0, i, j) = a.at(0, 0, top + i, left + j);
  return c;
}

Tensor map_of(const Tensor& t, int n, int c) {
  Tensor m = matrix(t.shape().h, t.shape().w);
  for (int i = 0; i < t.shape().h; ++i)
    for (int j = 0; j < t.shape().w; ++j) m.at(0, 0, i, j) = t.at(n, c, i, j);
  return m;
}

void add_map(Tensor& t, int n, int c, const Tensor& m) {
  for (int i = 0; i < t.shape().h; ++i)
    for (int j = 0; j < t.shape().w; ++j) t.at(n, c, i, j) += m.at(0, 0, i, j);
}

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, int stride, Pads p) {
  const int N = x.shape().n, C = x.shape().c, O = w.shape().n;
  const int Hp = x.shape().h + p.top + p.bottom, Wp = x.shape().w + p.left + p.right;
  const int Ho = (Hp - w.shape().h) / stride + 1, Wo = (Wp - w.shape().w) / stride + 1;
  Tensor z({N, O, Ho, Wo});
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) {
      Tensor full = matrix(Hp - w.shape().h + 1, Wp - w.shape().w + 1);
      for (int c = 0; c < C; ++c) {
        Tensor part = correlate_valid(zero_pad(map_of(x, n, c), p.top, p.bottom, p.left, p.right), map_of(w, o, c));
        add_map(full, 0, 0, part);
      }
      const float bias = b.empty() ? 0.0f : b[std::size_t(o)];
      for (int y = 0; y < Ho; ++y)
        for (int xx = 0; xx < Wo; ++xx) z.at(n, o, y, xx) = full.at(0, 0, y * stride, xx * stride) + bias;
    }
  return z;
}

ConvGrads conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dz, int stride, Pads p) {
  const int N = x.shape().n, C = x.shape().c, H = x.shape().h, W = x.shape().w;
  const int O = w.shape().n, kh = w.shape().h, kw = w.shape().w;
  const int Hp = H + p.top + p.bottom, Wp = W + p.left + p.right;
  ConvGrads g{Tensor(x.shape()), Tensor(w.shape()), Tensor({1, O, 1, 1})};
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) {
      const Tensor dzo = map_of(dz, n, o);
      for (std::size_t i = 0; i < dzo.size(); ++i) g.db[std::size_t(o)] += dzo[i];
      const Tensor dzd = dilate(dzo, stride);
      // the rows/columns of the padded input that no window reached get no gradient: pad dZ out to reach them
      const int extra_h = Hp - (dzd.shape().h - 1) - kh, extra_w = Wp - (dzd.shape().w - 1) - kw;
      const Tensor dzp = zero_pad(dzd, kh - 1, kh - 1 + extra_h, kw - 1, kw - 1 + extra_w);
      for (int c = 0; c < C; ++c) {
        const Tensor ap = zero_pad(map_of(x, n, c), p.top, p.bottom, p.left, p.right);
        add_map(g.dw, o, c, crop(correlate_valid(ap, dzd), 0, 0, kh, kw));
        const Tensor dap = correlate_valid(dzp, rot180(map_of(w, o, c)));  // Hp × Wp
        add_map(g.dx, n, c, crop(dap, p.top, p.left, H, W));
      }
    }
  return g;
}

namespace {
template <class Window>
Tensor pool_forward(const Tensor& x, int k, int stride, Window f) {
  const Shape s = x.shape();
  Tensor z({s.n, s.c, (s.h - k) / stride + 1, (s.w - k) / stride + 1});
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int y = 0; y < z.shape().h; ++y)
        for (int xx = 0; xx < z.shape().w; ++xx) {
          std::vector<float> win;
          for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j) win.push_back(x.at(n, c, y * stride + i, xx * stride + j));
          z.at(n, c, y, xx) = f(win);
        }
  return z;
}
// route(window values, dz) → gradient for each window position
template <class Route>
Tensor pool_backward(const Tensor& x, const Tensor& dz, int k, int stride, Route route) {
  Tensor dx(x.shape());
  for (int n = 0; n < dz.shape().n; ++n)
    for (int c = 0; c < dz.shape().c; ++c)
      for (int y = 0; y < dz.shape().h; ++y)
        for (int xx = 0; xx < dz.shape().w; ++xx) {
          std::vector<float> win;
          for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j) win.push_back(x.at(n, c, y * stride + i, xx * stride + j));
          const std::vector<float> g = route(win, dz.at(n, c, y, xx));
          for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j) dx.at(n, c, y * stride + i, xx * stride + j) += g[std::size_t(i * k + j)];
        }
  return dx;
}
}  // namespace

Tensor maxpool_forward(const Tensor& x, int k, int stride) {
  return pool_forward(x, k, stride, [](const std::vector<float>& v) {
    float m = v[0];
    for (float e : v) m = std::max(m, e);
    return m;
  });
}
Tensor maxpool_backward(const Tensor& x, const Tensor& dz, int k, int stride) {
  return pool_backward(x, dz, k, stride, [](const std::vector<float>& v, float d) {
    std::size_t arg = 0;
    for (std::size_t i = 1; i < v.size(); ++i)
      if (v[i] > v[arg]) arg = i;  // strictly greater: the first maximum wins ties
    std::vector<float> g(v.size(), 0.0f);
    g[arg] = d;
    return g;
  });
}
Tensor avgpool_forward(const Tensor& x, int k, int stride) {
  return pool_forward(x, k, stride, [](const std::vector<float>& v) {
    double s = 0.0;
    for (float e : v) s += e;
    return float(s / double(v.size()));
  });
}
Tensor avgpool_backward(const Tensor& x, const Tensor& dz, int k, int stride) {
  return pool_backward(x, dz, k, stride, [](const std::vector<float>& v, float d) {
    return std::vector<float>(v.size(), d / float(v.size()));
  });
}
Tensor l2pool_forward(const Tensor& x, int k, int stride) {
  return pool_forward(x, k, stride, [](const std::vector<float>& v) {
    double s = 0.0;
    for (float e : v) s += double(e) * e;
    return float(std::sqrt(s));
  });
}
Tensor l2pool_backward(const Tensor& x, const Tensor& dz, int k, int stride) {
  return pool_backward(x, dz, k, stride, [](const std::vector<float>& v, float d) {
    double s = 0.0;
    for (float e : v) s += double(e) * e;
    const double z = std::sqrt(s);
    std::vector<float> g(v.size(), 0.0f);
    if (z > 0)
      for (std::size_t i = 0; i < v.size(); ++i) g[i] = float(d * v[i] / z);
    return g;
  });
}

Tensor dense_forward(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int N = x.shape().n, J = int(x.shape().sample_size()), K = int(b.size());
  Tensor z({N, K, 1, 1});
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) {
      double s = b[std::size_t(k)];
      for (int j = 0; j < J; ++j) s += double(x.sample(n)[j]) * w[std::size_t(j) * K + k];
      z[std::size_t(n) * K + k] = float(s);
    }
  return z;
}

DenseGrads dense_backward(const Tensor& x, const Tensor& w, const Tensor& dz) {
  const int N = x.shape().n, J = int(x.shape().sample_size()), K = int(dz.shape().sample_size());
  DenseGrads g{Tensor(x.shape()), Tensor(w.shape()), Tensor({1, K, 1, 1})};
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < J; ++j)
      for (int k = 0; k < K; ++k) {
        const float d = dz[std::size_t(n) * K + k];
        g.dx.sample(n)[j] += d * w[std::size_t(j) * K + k];  // dA_j = Σ_k DZ_k·W_jk
        g.dw[std::size_t(j) * K + k] += d * x.sample(n)[j];  // dW_jk = DZ_k·A_j
      }
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) g.db[std::size_t(k)] += dz[std::size_t(n) * K + k];  // dB_k = DZ_k
  return g;
}

}  // namespace cnn::ref
