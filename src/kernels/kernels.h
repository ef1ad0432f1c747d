// The fast path's building blocks. Layers call these; src/reference/ holds the literal formulas they are
// tested against.
#pragma once

namespace cnn::kernels {

// C[M×N] = alpha·op(A)·op(B) + beta·C, all row-major (OpenBLAS SGEMM).
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);

// Unfolds one C×H×W image into columns: col[(c·kh + i)·kw + j][y·Wo + x] = X[c][y·s + i − pt][x·s + j − pl],
// zero outside the image. A convolution is then one matrix product: Z = W[C_out, C·kh·kw] · col.
void im2col(const float* x, int C, int H, int W, int kh, int kw, int stride, int pad_top, int pad_left, int Ho,
            int Wo, float* col);
// The adjoint of im2col: adds every column entry back onto the pixel it was read from (dx must start at zero).
void col2im_add(const float* col, int C, int H, int W, int kh, int kw, int stride, int pad_top, int pad_left,
                int Ho, int Wo, float* dx);

}  // namespace cnn::kernels
