// The fast path's building blocks. Layers call these; src/reference/ holds the literal formulas they are tested
// against (tests/test_reference.cpp, tests/test_fast_*.cpp). The convolutions have their own headers: the kernels
// by family in conv_kernels.h, and conv_plan.h, which chooses among them once per layer shape.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

namespace cnn::kernels {

// Σ_{i,j<k} a[y0 + i][x0 + j] over one map of row length W: seed 002's down(·), and average pooling before its 1/k².
inline float window_sum(const float* a, int W, int y0, int x0, int k) {
  float s = 0.0f;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) s += a[(y0 + i) * W + x0 + j];
  return s;
}

// ---- GEMM ---------------------------------------------------------------------------------------------------
// C[M×N] = alpha·op(A)·op(B) + beta·C, all row-major (OpenBLAS SGEMM, always on the calling thread: parallelism
// is the library's own, one level up, so that results never depend on the thread count).
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);

// Register-tiled GEMM for small products (kernels/gemm_small.cpp), when B (K×N) fits in L2 and isa() has vectors:
//   C[m][n] = (accumulate ? C[m][n] : 0) + Σ_k A(m, k)·B[k][n]  with A(m, k) = a[m·a_ms + k·a_ks] (any strides, so
// A or Aᵀ), B and C row-major. Each C element is one sum in k order, however the caller cuts M or N into chunks.
bool gemm_small_fits(int K, int N);
void gemm_small(int M, int N, int K, const float* a, std::size_t a_ms, std::size_t a_ks, const float* b,
                std::size_t ldb, float* c, std::size_t ldc, bool accumulate);

// ---- transpose (transpose.cpp) ------------------------------------------------------------------------------
// dst[c·ld_dst + r] = src[r·ld_src + c] for r < rows, c < cols (8×8 blocks of vectors where isa() has them)
void transpose(const float* src, int rows, int cols, std::size_t ld_src, float* dst, std::size_t ld_dst);

// ---- element-wise and pooling ---------------------------------------------------------------------------------
// dst_i = src_i·scale (8-bit pixels to floats; exact conversion, so the same bits with or without SIMD)
void scale_u8(const std::uint8_t* src, std::size_t n, float scale, float* dst);
// Σ x_i, vectorised, always in the same order for the same n.
float sum(const float* x, std::size_t n);
// y = x where x ≥ 0, else 0
void relu_forward(const float* x, float* y, std::size_t n);
// dx = dy where x ≥ 0, else 0
void relu_backward(const float* x, const float* dy, float* dx, std::size_t n);
// Max pooling of `planes` H×W maps with k×k windows every `stride` pixels (no padding): y = max(window) and
// arg = the flat index (within its map) of the first maximum.
// relu: pool max(x, 0) instead, a ReLU before the pooling folded in (the same outputs and argmax as pooling the
// ReLU's output: a window with no positive pixel is all zeros after it, and its first pixel is the maximum).
void maxpool_forward(const float* x, int planes, int H, int W, int k, int stride, int Ho, int Wo, float* y,
                     unsigned* arg, bool relu = false);
// Its adjoint: dx = dy at each window's argmax, 0 elsewhere (overlapping windows add up); z not null: times [z ≥ 0]
// as well (a ReLU before the pooling, folded in). 2×2 windows with stride 2 write every pixel in one vectorised pass.
void maxpool_backward(const float* dy, const unsigned* arg, const float* z, int planes, int H, int W, int k, int stride,
                      int Ho, int Wo, float* dx);

}  // namespace cnn::kernels

namespace cnn::kernels {
// Softmax and cross-entropy fused (seed 004), for N samples of K logits z and labels t:
//   returns Σ_n −log O_t with O = softmax(z_n) (in double, exact even when O_t underflows), and when dz is not null
//   writes dL/dz_i = (O_i − [i = t]) / N. The same arithmetic as SoftmaxCrossEntropy::compute, with no allocation.
//   Labels must already be checked (0 ≤ t < K). smoothing ε > 0: the target is (1 − ε)·onehot + ε/K instead
//   (label smoothing, as PyTorch's CrossEntropyLoss(label_smoothing=ε)), and dL/dz_i = (O_i − q_i) / N.
//   scale_n > 0 divides the gradient by scale_n instead of N (N images of a bigger batch).
double softmax_cross_entropy(const float* z, const int* labels, int N, int K, float* dz, float smoothing = 0.0f,
                             int scale_n = 0);
}  // namespace cnn::kernels
