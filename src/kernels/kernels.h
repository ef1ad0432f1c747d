// The fast path's building blocks. Layers call these; src/reference/ holds the literal formulas they are tested
// against (tests/test_reference.cpp, tests/test_fast_*.cpp).
//
// Two families, chosen per layer shape (see conv_uses_direct):
//   direct   stride-1 convolutions computed straight from the image rows with AVX-512VL (8-float vectors along
//            the output row, 32 registers of accumulators); no unfolded copy of the input is ever made.
//   im2col   the image unfolded into columns and one OpenBLAS SGEMM: any stride, and the portable path on CPUs
//            without AVX-512.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cnn::kernels {

// Σ_{i,j<k} a[y0 + i][x0 + j] over one map of row length W: seed 002's down(·), and average pooling before its 1/k².
inline float window_sum(const float* a, int W, int y0, int x0, int k) {
  float s = 0.0f;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) s += a[(y0 + i) * W + x0 + j];
  return s;
}

// ---- CPU features -------------------------------------------------------------------------------------------
// True when the CPU has AVX-512F and AVX-512VL (checked once at run time) and SIMD was not switched off.
bool simd_available();
// Switches the SIMD kernels off (false) or back on where the CPU has them; for tests and benchmarks.
void set_simd_enabled(bool on);

// ---- GEMM ---------------------------------------------------------------------------------------------------
// C[M×N] = alpha·op(A)·op(B) + beta·C, all row-major (OpenBLAS SGEMM, always on the calling thread: parallelism
// is the library's own, one level up, so that results never depend on the thread count).
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);

// ---- im2col ---------------------------------------------------------------------------------------------------
// Unfolds one C×H×W image into columns: col[(c·kh + i)·kw + j][y·Wo + x] = X[c][y·s + i − pt][x·s + j − pl],
// zero outside the image. A convolution is then one matrix product: Z = W[C_out, C·kh·kw] · col.
void im2col(const float* x, int C, int H, int W, int kh, int kw, int stride, int pad_top, int pad_left, int Ho,
            int Wo, float* col);
// The adjoint of im2col: adds every column entry back onto the pixel it was read from (dx must start at zero).
void col2im_add(const float* col, int C, int H, int W, int kh, int kw, int stride, int pad_top, int pad_left,
                int Ho, int Wo, float* dx);

// Register-tiled GEMM for small products (kernels/gemm_small.cpp), when B (K×N) fits in L2 and the CPU has AVX-512:
//   C[m][n] = (accumulate ? C[m][n] : 0) + Σ_k A(m, k)·B[k][n]  with A(m, k) = a[m·a_ms + k·a_ks] (any strides, so
// A or Aᵀ), B and C row-major. Each C element is one sum in k order, however the caller cuts M or N into chunks.
bool gemm_small_fits(int K, int N);
void gemm_small(int M, int N, int K, const float* a, std::size_t a_ms, std::size_t a_ks, const float* b,
                std::size_t ldb, float* c, std::size_t ldc, bool accumulate);

// ---- direct stride-1 convolution (AVX-512VL; call only when simd_available()) --------------------------------
// Whether the direct kernels beat im2col + SGEMM for this shape (bench/microbench.cpp measures both): they win
// for stride 1 while the 8-wide vectors along an output row are mostly full and the dot products are short
// (C_in·kh·kw up to a few hundred: seed5, LeNet-5); for long ones (AlexNet's 256·3·3) SGEMM's blocking wins.
bool conv_uses_direct(int stride, int wo, int c_in, int kh, int kw);
// For a direct layer: whether dA = pad(dZ) ⊗ rot180(W) runs faster as a forward convolution over the zero-bordered
// dZ (vectors along the W-wide rows of dA, rows of padding skipped) than tap by tap over the wo-wide rows of dZ
// (conv_input_grad_direct). Measured (bench/microbench.cpp): the forward form wins when dA's rows fill the vector
// lanes clearly better than dZ's (LeNet-5's C3: 14 against 10 pixels), and loses when dZ's rows are full (seed5).
bool conv_da_as_forward(int wo, int w_in);

// One image:  z[o][y][x] = Σ_c Σ_i Σ_j x[c][y + i][x + j]·w[o][c][i][j] + bias[o]     (y < ho, x < wo)
// x holds C planes of H×W with any padding already in place (ho + kh − 1 ≤ H, wo + kw − 1 ≤ W); bias may be
// null (no bias). When relu is not null it also receives the fused ReLU: relu = z where z ≥ 0, else 0.
// When the caller knows that only rows [nz_top, nz_top + nz_rows) of x can be nonzero (a zero-bordered dZ, for
// dA), the products with the other rows are skipped (nz_rows < 0: every row may be nonzero).
void conv_forward_direct(const float* x, int C, int H, int W, const float* w, int O, int kh, int kw,
                         const float* bias, float* z, float* relu, int ho, int wo, int nz_top = 0, int nz_rows = -1);
// One image:  dA = pad(dZ) ⊗ rot180(W), computed as dA[c][y + i − pt][x + j − pl] += Σ_o W[o][c][i][j]·dZ[o][y][x]
// (every multiply-add of the formula, none with padding zeros); dx (C×H×W) is overwritten.
void conv_input_grad_direct(const float* dz, int O, int ho, int wo, const float* w, int C, int kh, int kw, int H,
                            int W, int pad_top, int pad_left, float* dx);
// `images` images (x_stride and dz_stride floats apart), added into dw:
//   dw[o][c][i][j] += Σ_n Σ_y Σ_x dz_n[o][y][x]·x_n[c][y + i][x + j]
void conv_weight_grad_direct(const float* x, std::size_t x_stride, int C, int H, int W, const float* dz,
                             std::size_t dz_stride, int O, int kh, int kw, int ho, int wo, int images, float* dw);

// ---- channel-vector stride-1 convolution (AVX-512VL; for O a multiple of 8 and rows too short for 8-wide vectors) --
// Vectors run across 8 output channels instead of along a row, so rows of any length fill them. Measured
// (bench/microbench.cpp, LeNet-5's C3): forward 85 GFLOP/s against 51 along its 10-pixel rows, weight gradient 92
// against 42 (no horizontal sums at all). The weight gradient takes them whenever at least ¾ of the lanes hold real
// channels (O padded to a multiple of 8 in its workspaces; kw ≤ 6); the forward pass only for O a multiple of 8 and
// rows that fill less than 80% of the lanes (for full rows the row kernels are as fast).
bool conv_weight_grad_uses_channel_vectors(int O, int kw);
bool conv_forward_uses_channel_vectors(int O, int wo, int kw);
// One image, as conv_forward_direct, with the weights laid out wT[c][i][j][o].
void conv_forward_cv(const float* x, int C, int H, int W, const float* wT, int O, int kh, int kw, const float* bias,
                     float* z, float* relu, int ho, int wo);
// One image, added into dwT[c][i][j][o]:  dwT[c][i][j][o] += Σ_y Σ_x dzT[y·wo + x][o]·x[c][y + i][x + j]
// (dzT is the image's dZ with the channel axis last; O must be a multiple of 8: pad it).
void conv_weight_grad_cv(const float* x, int C, int H, int W, const float* dzT, int O, int kh, int kw, int ho, int wo,
                         float* dwT);

// ---- batch-vector dA (AVX-512VL; valid padding, stride 1) ------------------------------------------------------
// Vectors run across 8 images of the batch, so every lane does useful work whatever the row length, and dA is
// scattered tap by tap straight from dZ (valid padding: every product lands inside dA, none is a padding zero).
// LeNet-5's C3 (10-pixel dZ rows, 14-pixel dA rows): 80 GFLOP/s against 55 as a forward convolution (conv2d.cpp).
bool conv_input_grad_uses_batch_vectors(bool padded, int kw, std::size_t work_floats);
// Floats of workspace conv_input_grad_bv needs (per chunk of the batch).
std::size_t conv_input_grad_bv_work(int O, int ho, int wo, int C, int kh, int kw);
// `images` images (dz_stride and dx_stride floats apart):  dA_n[c][y + i][x + j] = Σ_o Σ_(y,x) W[o][c][i][j]·dZ_n[o][y][x]
// (dx, C × (ho + kh − 1) × (wo + kw − 1) per image, is overwritten). Each image's sums run in the same order whatever
// images share its vector, so the results do not depend on how the batch is cut into chunks.
void conv_input_grad_bv(const float* dz, std::size_t dz_stride, int images, int O, int ho, int wo, const float* w,
                        int C, int kh, int kw, float* dx, std::size_t dx_stride, float* work);

// dst[c·ld_dst + r] = src[r·ld_src + c] for r < rows, c < cols (8×8 blocks with AVX where the CPU has it)
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
void maxpool_backward(const float* dy, const unsigned* arg, const float* z, int planes, int H, int W, int k,
                      int stride, int Ho, int Wo, float* dx);

}  // namespace cnn::kernels

namespace cnn::kernels {
// Softmax and cross-entropy fused (seed 004), for N samples of K logits z and labels t:
//   returns Σ_n −log O_t with O = softmax(z_n) (in double, exact even when O_t underflows), and when dz is not null
//   writes dL/dz_i = (O_i − [i = t]) / N. The same arithmetic as SoftmaxCrossEntropy::compute, with no allocation.
//   Labels must already be checked (0 ≤ t < K). smoothing ε > 0: the target is (1 − ε)·onehot + ε/K instead
//   (label smoothing, as PyTorch's CrossEntropyLoss(label_smoothing=ε)), and dL/dz_i = (O_i − q_i) / N.
double softmax_cross_entropy(const float* z, const int* labels, int N, int K, float* dz, float smoothing = 0.0f);
}  // namespace cnn::kernels
