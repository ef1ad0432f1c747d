#include "reference/subsampling_ref.h"

#include "reference/reference.h"

namespace cnn::ref {

Tensor down_sum(const Tensor& a, int k) {
  const int H = a.shape().h / k, W = a.shape().w / k;
  Tensor d({1, 1, H, W});
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      double s = 0.0;
      for (int i = 0; i < k; ++i)
        for (int j = 0; j < k; ++j) s += a.at(0, 0, y * k + i, x * k + j);
      d.at(0, 0, y, x) = float(s);
    }
  return d;
}

Tensor kronecker(const Tensor& a, const Tensor& b) {
  const int ah = a.shape().h, aw = a.shape().w, bh = b.shape().h, bw = b.shape().w;
  Tensor r({1, 1, ah * bh, aw * bw});
  for (int i = 0; i < ah; ++i)
    for (int j = 0; j < aw; ++j)
      for (int p = 0; p < bh; ++p)
        for (int q = 0; q < bw; ++q) r.at(0, 0, i * bh + p, j * bw + q) = a.at(0, 0, i, j) * b.at(0, 0, p, q);
  return r;
}

Tensor up(const Tensor& d, int k) { return kronecker(d, Tensor({1, 1, k, k}, 1.0f)); }

Tensor subsampling_forward(const Tensor& x, const Tensor& beta, const Tensor& b, int k) {
  const Shape s = x.shape();
  Tensor z({s.n, s.c, s.h / k, s.w / k});
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c) {
      const Tensor d = down_sum(map_of(x, n, c), k);
      for (int y = 0; y < z.shape().h; ++y)
        for (int xx = 0; xx < z.shape().w; ++xx) z.at(n, c, y, xx) = beta[c] * d.at(0, 0, y, xx) + b[c];
    }
  return z;
}

SubsamplingGrads subsampling_backward(const Tensor& x, const Tensor& beta, const Tensor& dz, int k) {
  const Shape s = x.shape();
  SubsamplingGrads g{Tensor(s), Tensor({1, s.c, 1, 1}), Tensor({1, s.c, 1, 1})};
  for (int c = 0; c < s.c; ++c) {
    double dbeta = 0.0, db = 0.0;
    for (int n = 0; n < s.n; ++n) {
      const Tensor delta = map_of(dz, n, c);
      const Tensor d = down_sum(map_of(x, n, c), k);
      for (std::size_t i = 0; i < delta.size(); ++i) dbeta += double(delta[i]) * d[i], db += delta[i];
      const Tensor u = up(delta, k);
      Tensor da = zero_pad(u, 0, s.h - u.shape().h, 0, s.w - u.shape().w);
      for (std::size_t i = 0; i < da.size(); ++i) da[i] *= beta[c];
      add_map(g.dx, n, c, da);
    }
    g.dbeta[c] = float(dbeta);
    g.db[c] = float(db);
  }
  return g;
}

}  // namespace cnn::ref
