// SGEMM through OpenBLAS, and im2col / col2im: the portable path, and the one for strided convolutions.
#include <cblas.h>

#include <algorithm>

#include "kernels/conv_kernels.h"
#include "kernels/kernels.h"

namespace cnn::kernels {

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
  // OpenBLAS runs on the calling thread: the library's pool decides the parallelism (and so the bits).
  static const bool single = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
              A, lda, B, ldb, beta, C, ldc);
}

namespace {
// The output columns xo of a kernel column j that read inside the row: xo·stride + j − pl in [0, W) for xo in
// [first, last), found once per (c, i, j) instead of tested per pixel.
struct Span {
  int first, last;
};
Span inside(int W, int Wo, int stride, int j, int pad_left) {
  const int lo = pad_left - j, hi = W + pad_left - j;  // stride·xo in [lo, hi)
  const int first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  const int last = hi <= 0 ? 0 : std::min(Wo, (hi + stride - 1) / stride);
  return {std::min(first, Wo), std::max(std::min(first, Wo), last)};
}
}  // namespace

void im2col(const ConvShape& s, const float* x, float* col) {
  const int C = s.C, H = s.H, W = s.W, kh = s.kh, kw = s.kw, stride = s.stride, Ho = s.Ho, Wo = s.Wo;
  const int pad_top = s.pad_top, pad_left = s.pad_left;
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < kh; ++i)
      for (int j = 0; j < kw; ++j) {
        float* row = col + (std::size_t(c * kh + i) * kw + j) * Ho * Wo;
        const Span in_row = inside(W, Wo, stride, j, pad_left);
        for (int y = 0; y < Ho; ++y) {
          const int iy = y * stride + i - pad_top;
          float* out = row + y * Wo;
          if (iy < 0 || iy >= H) {
            std::fill(out, out + Wo, 0.0f);
            continue;
          }
          const float* in = x + (std::size_t(c) * H + iy) * W + j - pad_left;
          std::fill(out, out + in_row.first, 0.0f);
          if (stride == 1)
            std::copy(in + in_row.first, in + in_row.last, out + in_row.first);
          else
            for (int xo = in_row.first; xo < in_row.last; ++xo) out[xo] = in[xo * stride];
          std::fill(out + in_row.last, out + Wo, 0.0f);
        }
      }
}

void col2im_add(const ConvShape& s, const float* col, float* dx) {
  const int C = s.C, H = s.H, W = s.W, kh = s.kh, kw = s.kw, stride = s.stride, Ho = s.Ho, Wo = s.Wo;
  const int pad_top = s.pad_top, pad_left = s.pad_left;
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < kh; ++i)
      for (int j = 0; j < kw; ++j) {
        const float* row = col + (std::size_t(c * kh + i) * kw + j) * Ho * Wo;
        const Span in_row = inside(W, Wo, stride, j, pad_left);
        for (int y = 0; y < Ho; ++y) {
          const int iy = y * stride + i - pad_top;
          if (iy < 0 || iy >= H) continue;
          float* out = dx + (std::size_t(c) * H + iy) * W + j - pad_left;
          const float* in = row + y * Wo;
          for (int xo = in_row.first; xo < in_row.last; ++xo) out[xo * stride] += in[xo];
        }
      }
}

}  // namespace cnn::kernels
