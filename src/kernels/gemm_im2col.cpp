// SGEMM through OpenBLAS, and im2col / col2im: the portable path, and the one for strided convolutions.
#include <cblas.h>

#include <cstring>

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

void im2col(const ConvShape& s, const float* x, float* col) {
  const int C = s.C, H = s.H, W = s.W, kh = s.kh, kw = s.kw, stride = s.stride, Ho = s.Ho, Wo = s.Wo;
  const int pad_top = s.pad_top, pad_left = s.pad_left;
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < kh; ++i)
      for (int j = 0; j < kw; ++j) {
        float* row = col + (std::size_t(c * kh + i) * kw + j) * Ho * Wo;
        for (int y = 0; y < Ho; ++y) {
          const int iy = y * stride + i - pad_top;
          float* out = row + y * Wo;
          if (iy < 0 || iy >= H) {
            std::memset(out, 0, sizeof(float) * Wo);
            continue;
          }
          const float* in = x + (std::size_t(c) * H + iy) * W;
          for (int xo = 0; xo < Wo; ++xo) {
            const int ix = xo * stride + j - pad_left;
            out[xo] = (ix >= 0 && ix < W) ? in[ix] : 0.0f;
          }
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
        for (int y = 0; y < Ho; ++y) {
          const int iy = y * stride + i - pad_top;
          if (iy < 0 || iy >= H) continue;
          float* out = dx + (std::size_t(c) * H + iy) * W;
          const float* in = row + y * Wo;
          for (int xo = 0; xo < Wo; ++xo) {
            const int ix = xo * stride + j - pad_left;
            if (ix >= 0 && ix < W) out[ix] += in[xo];
          }
        }
      }
}

}  // namespace cnn::kernels
