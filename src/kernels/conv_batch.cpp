// dA = pad(dZ) ⊗ rot180(W) with vectors across 8 images of the batch (lane l of every vector belongs to image l
// of a group of 8), so every lane does useful work whatever the row length, and dA is scattered tap by tap straight
// from dZ: with no padding every product lands inside dA and none is with a padding zero. LeNet-5's C3 (10-pixel dZ
// rows, 14-pixel dA rows): 80 GFLOP/s against 55 as a forward convolution.
#include <algorithm>
#include <array>

#include "kernels/conv_kernels.h"
#include "kernels/simd.h"

#if defined(CNN_HAVE_X86)
namespace cnn::kernels {

namespace {

// One tile of dA for kernel row i: CT input channels × the PX + KW − 1 dA pixels that PX consecutive dZ pixels of
// one row reach through the KW taps of that kernel row,
//   acc[c][d] = Σ_o Σ_(p + j = d) W[o][c][i][j]·dZ[o][y][x0 + p],  then added onto dA[c][y + i][x0 + d].
template <int CT, int PX, int KW>
CNN_TARGET void input_grad_bv_tile(const float* dzb, int O, int plane_out, const float* w, int CKK, int KK, float* dab,
                                   int plane_in) {
  constexpr int D = PX + KW - 1;
  __m256 acc[CT][D];
#pragma GCC unroll 4
  for (int c = 0; c < CT; ++c)
#pragma GCC unroll 8
    for (int d = 0; d < D; ++d) acc[c][d] = _mm256_setzero_ps();
  for (int o = 0; o < O; ++o, dzb += std::size_t(plane_out) * 8, w += CKK) {
    __m256 v[PX];
#pragma GCC unroll 4
    for (int p = 0; p < PX; ++p) v[p] = _mm256_loadu_ps(dzb + 8 * p);
#pragma GCC unroll 4
    for (int c = 0; c < CT; ++c)
#pragma GCC unroll 5
      for (int j = 0; j < KW; ++j) {
        const __m256 wv = _mm256_set1_ps(w[c * KK + j]);
#pragma GCC unroll 4
        for (int p = 0; p < PX; ++p) acc[c][p + j] = _mm256_fmadd_ps(wv, v[p], acc[c][p + j]);
      }
  }
#pragma GCC unroll 4
  for (int c = 0; c < CT; ++c)
#pragma GCC unroll 8
    for (int d = 0; d < D; ++d) {
      float* at = dab + (std::size_t(c) * plane_in + d) * 8;
      _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), acc[c][d]));
    }
}

using InputGradBvTile = void (*)(const float*, int, int, const float*, int, int, float*, int);
// CT × (PX + KW − 1) accumulators, PX dZ vectors and one broadcast weight in registers: with AVX2's 16, one
// channel at a time
constexpr int kMaxBvCT = kVectorRegisters == 32 ? 3 : 1, kBvPX = 4;
template <int CT, int KW>
constexpr std::array<InputGradBvTile, kBvPX> bv_px_row() {
  return {&input_grad_bv_tile<CT, 1, KW>, &input_grad_bv_tile<CT, 2, KW>, &input_grad_bv_tile<CT, 3, KW>,
          &input_grad_bv_tile<CT, 4, KW>};
}
template <int KW>
constexpr std::array<std::array<InputGradBvTile, kBvPX>, kMaxBvCT> bv_ct_rows() {
#if defined(CNN_KERNELS_AVX2)
  return {bv_px_row<1, KW>()};
#else
  return {bv_px_row<1, KW>(), bv_px_row<2, KW>(), bv_px_row<3, KW>()};
#endif
}
// [KW − 1][CT − 1][PX − 1]
const std::array<std::array<std::array<InputGradBvTile, kBvPX>, kMaxBvCT>, kBatchMaxKW> kInputGradBv = {
    bv_ct_rows<1>(), bv_ct_rows<2>(), bv_ct_rows<3>(), bv_ct_rows<4>(), bv_ct_rows<5>()};

CNN_TARGET void input_grad_batch(const ConvShape& s, const float* dz, int images, const float* w, float* dx,
                                 float* work) {
  const int C = s.C, H = s.H, W = s.W, O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo;
  const int plane_out = ho * wo, plane_in = H * W, KK = kh * kw, CKK = C * KK;
  const std::size_t dz_stride = s.out_size(), dx_stride = s.in_size();
  const std::size_t nz = std::size_t(O) * plane_out, na = std::size_t(C) * plane_in;
  float* dzb = work;           // dzb[o][y][x][l] = dZ of image l
  float* dab = work + 8 * nz;  // dab[c][y][x][l] = dA of image l
  const int ct = even_tile(C, kMaxBvCT), px = even_tile(wo, kBvPX);
  for (int g = 0; g < images; g += 8) {
    const int m = std::min(8, images - g);  // lanes ≥ m repeat image g (computed, never stored)
    const float* src[8];
    for (int l = 0; l < 8; ++l) src[l] = dz + (g + (l < m ? l : 0)) * dz_stride;
    std::size_t q = 0;
    for (; q + 8 <= nz; q += 8) {
      __m256 r[8], c[8];
      for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(src[l] + q);
      transpose8(r, c);
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dzb + (q + k) * 8, c[k]);
    }
    for (; q < nz; ++q)
      for (int l = 0; l < 8; ++l) dzb[q * 8 + l] = src[l][q];
    std::fill(dab, dab + 8 * na, 0.0f);
    for (int c0 = 0; c0 < C; c0 += ct) {
      const int ctc = std::min(ct, C - c0);
      for (int i = 0; i < kh; ++i)
        for (int y = 0; y < ho; ++y)
          for (int x0 = 0; x0 < wo; x0 += px) {
            const int pxc = std::min(px, wo - x0);
            kInputGradBv[kw - 1][ctc - 1][pxc - 1](dzb + (std::size_t(y) * wo + x0) * 8, O, plane_out,
                                                   w + std::size_t(c0) * KK + i * kw, CKK, KK,
                                                   dab + (std::size_t(c0) * plane_in + (y + i) * W + x0) * 8, plane_in);
          }
    }
    float* dst[8];
    for (int l = 0; l < m; ++l) dst[l] = dx + (g + l) * dx_stride;
    q = 0;
    for (; q + 8 <= na; q += 8) {
      __m256 r[8], c[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(dab + (q + k) * 8);
      transpose8(r, c);
      for (int l = 0; l < m; ++l) _mm256_storeu_ps(dst[l] + q, c[l]);
    }
    for (; q < na; ++q)
      for (int l = 0; l < m; ++l) dst[l][q] = dab[q * 8 + l];
  }
}

}  // namespace

template <>
void conv_input_grad_batch<kIsa>(const ConvShape& s, const float* dz, int images, const float* w, float* dx,
                                 float* work) {
  input_grad_batch(s, dz, images, w, dx, work);
}

}  // namespace cnn::kernels
#endif
