// The convolution kernels, by family. Conv2D never calls them itself: its plan (conv_plan.h) chooses one per pass
// for the layer's shape and calls it. Each computes exactly the sums of the seeds' formulas (src/reference/ holds
// them literally; tests/test_fast_kernels.cpp and tests/test_conv_plan.cpp compare).
//
//   im2col     the image unfolded into columns, then one OpenBLAS SGEMM (gemm_im2col.cpp): any stride and padding,
//              and the portable path on CPUs without AVX-512 (or with SIMD switched off).
//   rows       stride 1, straight from the zero-bordered image rows, vectors along an output row (conv_rows.cpp).
//   channels   any stride, vectors across 8 output channels, for rows too short to fill vectors and for strided
//              convolutions (conv_channels.cpp).
//   batch      stride 1, no padding: dA with vectors across 8 images of the batch (conv_batch.cpp).
//   wide       rows with 16-float vectors of two output channels × 8 pixels, for Isa::avx512_16 (conv_wide.cpp).
// The last three exist only on x86-64, compiled once per instruction set with vectors (Isa::avx2, Isa::avx512: the
// template argument; simd.h says how), and run only where the CPU has that set: the plan checks.
#pragma once

#include <cstddef>

#include "kernels/conv_shape.h"
#include "kernels/isa.h"

namespace cnn::kernels {

// ---- im2col ----------------------------------------------------------------------------------------------------
// One image: col[(c·kh + i)·kw + j][y·Wo + x] = X[c][y·s + i − pt][x·s + j − pl], zero outside the image, so that
// the convolution is one matrix product Z = W[O, C·kh·kw] · col.
void im2col(const ConvShape& s, const float* x, float* col);
// Its adjoint: adds every column entry back onto the pixel it was read from (dx, one image, must start at zero).
void col2im_add(const ConvShape& s, const float* col, float* dx);

// The channel axis of the channel-vector kernels' dZ and dW, padded to whole vectors.
inline int channels_padded(int O) { return (O + 7) / 8 * 8; }
// Floats of workspace conv_input_grad_batch needs: 8 images' dZ and dA, lanes interleaved.
inline std::size_t conv_input_grad_batch_work(const ConvShape& s) { return 8 * (s.out_size() + s.in_size()); }
// The widest kernel rows the channel-vector and batch-vector tiles are instantiated for.
constexpr int kChannelsMaxKW = 6, kBatchMaxKW = 5;

#if defined(__x86_64__)
// The direct kernels: stride 1 only, but for the channel-vector ones, which take s.stride. `x` is one image's C planes
// of s.Hp() × s.Wp() with its zero border in place (an unpadded image as it is), and consecutive images of a batch lie
// s.padded_size() floats apart.

// ---- along rows (conv_rows.cpp) ------------------------------------------------------------------------------
// One image:  z[o][y][x] = Σ_c Σ_i Σ_j x[c][y + i][x + j]·w[o][c][i][j] + bias[o]   (bias null: none)
// relu not null: it also receives max(z, 0). When only rows [nz_top, nz_top + nz_rows) of x can be nonzero (a
// zero-bordered dZ, for dA as a forward convolution), the products with the other rows are skipped (nz_rows < 0:
// every row may be nonzero, the usual case: nz_top = 0, nz_rows = -1).
template <Isa I>
void conv_forward_rows(const ConvShape& s, const float* x, const float* w, const float* bias, float* z, float* relu,
                       int nz_top, int nz_rows);
// `images` consecutive images (dz s.out_size() floats apart), added into dw:
//   dw[o][c][i][j] += Σ_n Σ_y Σ_x dz_n[o][y][x]·x_n[c][y + i][x + j]
template <Isa I>
void conv_weight_grad_rows(const ConvShape& s, const float* x, const float* dz, int images, float* dw);
// One image, tap by tap:  dA[c][y + i − pt][x + j − pl] += Σ_o W[o][c][i][j]·dZ[o][y][x]  (every multiply-add of
// dA = pad(dZ) ⊗ rot180(W), none with a padding zero; any padding). dx (C×H×W) is overwritten.
template <Isa I>
void conv_input_grad_taps(const ConvShape& s, const float* dz, const float* w, float* dx);

// ---- along rows, 16-float vectors (conv_wide.cpp): conv_forward_rows and conv_weight_grad_rows for
// Isa::avx512_16, with the same bits. Its conv_forward_rows reads the weights as pack_weight_pairs leaves them:
//   wp[q][k][0..7] = w[2q][k],  wp[q][k][8..15] = w[2q + 1][k]   (k < C·kh·kw; O odd: the last pair's high half
// repeats w[O − 1]), (O + 1)/2 · C·kh·kw · 16 floats.
void pack_weight_pairs(const float* w, int O, int CKK, float* wp);
inline std::size_t weight_pairs_size(int O, int CKK) { return std::size_t(O + 1) / 2 * std::size_t(CKK) * 16; }
// conv_forward_rows with 16-float vectors of 16 pixels of one output row (rows of at least 16 pixels; a row's last
// block overlaps the one before it where 16 does not divide the row), the weights as they are. The same bits again.
void conv_forward_rows16(const ConvShape& s, const float* x, const float* w, const float* bias, float* z, float* relu,
                         int nz_top, int nz_rows);
// conv_forward_channels with 16-float vectors of 16 output channels (s.O a multiple of 16), the same bits.
void conv_forward_channels16(const ConvShape& s, const float* x, const float* wT, const float* bias, float* z,
                             float* relu);

// ---- over channels (conv_channels.cpp) -------------------------------------------------------------------------
// One image, as conv_forward_rows at any stride s (x[c][s·y + i][s·x + j]), with the weights laid out wT[c][i][j][o];
// s.O must be a multiple of 8.
template <Isa I>
void conv_forward_channels(const ConvShape& s, const float* x, const float* wT, const float* bias, float* z,
                           float* relu);
// One image, added into dwT[c][i][j][o]:  dwT[c][i][j][o] += Σ_y Σ_x dzT[y·Wo + x][o]·x[c][s·y + i][s·x + j]
// (dzT is the image's dZ with the channel axis last; both have channels_padded(O) channels, the padding lanes of dzT
// zero: those of dwT are then never worth reading).
template <Isa I>
void conv_weight_grad_channels(const ConvShape& s, const float* x, const float* dzT, float* dwT);

// ---- over the batch (conv_batch.cpp) ---------------------------------------------------------------------------
// No padding, kw ≤ kBatchMaxKW. `images` consecutive images (dz s.out_size(), dx s.in_size() floats apart):
//   dA_n[c][y + i][x + j] = Σ_o Σ_(y,x) W[o][c][i][j]·dZ_n[o][y][x]   (dx overwritten)
// work: conv_input_grad_batch_work(s) floats. Each image's sums run in the same order whatever images share its
// vectors, so the results do not depend on how the batch is cut into chunks.
template <Isa I>
void conv_input_grad_batch(const ConvShape& s, const float* dz, int images, const float* w, float* dx, float* work);
#endif

}  // namespace cnn::kernels
