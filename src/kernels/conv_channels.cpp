// Direct convolution with vectors across 8 output channels instead of along a row, so rows of any length fill them
// (LeNet-5's C3 has 10-pixel rows, 10 of 16 lanes along a row) and a stride only spaces the broadcast pixels.
// Measured (bench/microbench.cpp, LeNet-5's C3): forward 85 GFLOP/s against 51 along its rows, weight gradient 92
// against 42 (no horizontal sums at all). conv_plan.cpp decides when they pay.
#include <algorithm>

#include "kernels/conv_kernels.h"
#include "kernels/simd.h"

#if defined(CNN_HAVE_X86)
namespace cnn::kernels {

namespace {

// One row tile of the forward pass: XT consecutive output pixels × OV vectors of 8 output channels,
//   acc[p][v] = Σ_c Σ_i Σ_j x[c][S·y + i][S·(x0 + p) + j] · wT[c][i][j][8v .. 8v + 7]
// (one broadcast input pixel feeds OV multiply-adds; every lane does useful work whatever the row length; x points
// at the tile's first input pixel, S is the stride).
template <int XT, int OV>
CNN_TARGET void forward_cv_tile(const float* x, int C, int HW, int W, const float* wT, int O, int kh, int kw, int S,
                                const float* bias, float* z, float* relu, int plane_out) {
  __m256 acc[XT][OV];
  __m256 b[OV];
#pragma GCC unroll 2
  for (int v = 0; v < OV; ++v) b[v] = bias ? _mm256_loadu_ps(bias + 8 * v) : _mm256_setzero_ps();
#pragma GCC unroll 12
  for (int p = 0; p < XT; ++p)
#pragma GCC unroll 2
    for (int v = 0; v < OV; ++v) acc[p][v] = b[v];
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < kh; ++i) {
      const float* xr = x + std::size_t(c) * HW + i * W;
      const float* wr = wT + std::size_t(c * kh + i) * kw * O;
      for (int j = 0; j < kw; ++j, ++xr, wr += O) {
        __m256 wv[OV];
#pragma GCC unroll 2
        for (int v = 0; v < OV; ++v) wv[v] = _mm256_loadu_ps(wr + 8 * v);
#pragma GCC unroll 12
        for (int p = 0; p < XT; ++p) {
          const __m256 xv = _mm256_broadcast_ss(xr + p * S);
#pragma GCC unroll 2
          for (int v = 0; v < OV; ++v) acc[p][v] = _mm256_fmadd_ps(xv, wv[v], acc[p][v]);
        }
      }
    }
  // back to planes: 8 pixels × 8 channels at a time by an 8×8 transpose, the rest of the row one by one
  constexpr int XV = XT / 8 * 8;
#pragma GCC unroll 2
  for (int v = 0; v < OV; ++v)
    for (int p0 = 0; p0 < XV; p0 += 8) {
      __m256 r[8], c[8];
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) r[k] = acc[p0 + k][v];
      transpose8(r, c);
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const std::size_t at = std::size_t(8 * v + k) * plane_out + p0;
        _mm256_storeu_ps(z + at, c[k]);
        if (relu) _mm256_storeu_ps(relu + at, nonnegative(c[k]));
      }
    }
  if constexpr (XV < XT) {
    alignas(32) float out[XT - XV][8 * OV];
#pragma GCC unroll 8
    for (int p = XV; p < XT; ++p)
#pragma GCC unroll 2
      for (int v = 0; v < OV; ++v) _mm256_store_ps(out[p - XV] + 8 * v, acc[p][v]);
    for (int o = 0; o < 8 * OV; ++o)
      for (int p = XV; p < XT; ++p) {
        const float zv = out[p - XV][o];
        z[std::size_t(o) * plane_out + p] = zv;
        if (relu) relu[std::size_t(o) * plane_out + p] = zv >= 0.0f ? zv : 0.0f;
      }
  }
}

using ForwardCvTile = void (*)(const float*, int, int, int, const float*, int, int, int, int, const float*, float*,
                               float*, int);
// XT × OV accumulators, OV weight vectors and one broadcast pixel in registers: with AVX2's 16, one vector of
// channels at a time
constexpr int kMaxXT = 12, kMaxOV = kVectorRegisters == 32 ? 2 : 1, kWeightGradAcc = kVectorRegisters == 32 ? 24 : 12;
#define CNN_FCV(ov)                                                                                           \
  {                                                                                                           \
    &forward_cv_tile<1, ov>, &forward_cv_tile<2, ov>, &forward_cv_tile<3, ov>, &forward_cv_tile<4, ov>,       \
        &forward_cv_tile<5, ov>, &forward_cv_tile<6, ov>, &forward_cv_tile<7, ov>, &forward_cv_tile<8, ov>,   \
        &forward_cv_tile<9, ov>, &forward_cv_tile<10, ov>, &forward_cv_tile<11, ov>, &forward_cv_tile<12, ov> \
  }
#if defined(CNN_KERNELS_AVX2)
const ForwardCvTile kForwardCv[kMaxOV][kMaxXT] = {CNN_FCV(1)};
#else
const ForwardCvTile kForwardCv[kMaxOV][kMaxXT] = {CNN_FCV(1), CNN_FCV(2)};
#endif
#undef CNN_FCV

// One tile of the weight gradient over one image: R kernel rows (from i0) × KW taps × OV vectors of 8 output
// channels, accumulated onto dwT[c][i][j][o] (read at the start, written at the end: no horizontal sums at all):
//   dwT[c][i0 + r][j][8v ..] += Σ_y Σ_x x[c][S·y + i0 + r][S·x + j] · dzT[y][x][8v ..]   (S the stride)
template <int KW, int R, int OV>
CNN_TARGET void weight_grad_cv_tile(const float* x, int W, int S, const float* dzT, int O, int ho, int wo, float* dwT) {
  if constexpr (KW * R * OV <= kWeightGradAcc) {
    __m256 acc[R][KW][OV];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 6
      for (int j = 0; j < KW; ++j)
#pragma GCC unroll 2
        for (int v = 0; v < OV; ++v) acc[r][j][v] = _mm256_loadu_ps(dwT + std::size_t(r * KW + j) * O + 8 * v);
    for (int y = 0; y < ho; ++y) {
      const float* xr = x + std::size_t(y) * S * W;
      const float* d = dzT + std::size_t(y) * wo * O;
      for (int xo = 0; xo < wo; ++xo, xr += S, d += O) {
        __m256 dv[OV];
#pragma GCC unroll 2
        for (int v = 0; v < OV; ++v) dv[v] = _mm256_loadu_ps(d + 8 * v);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 6
          for (int j = 0; j < KW; ++j) {
            const __m256 xv = _mm256_broadcast_ss(xr + r * W + j);
#pragma GCC unroll 2
            for (int v = 0; v < OV; ++v) acc[r][j][v] = _mm256_fmadd_ps(xv, dv[v], acc[r][j][v]);
          }
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 6
      for (int j = 0; j < KW; ++j)
#pragma GCC unroll 2
        for (int v = 0; v < OV; ++v) _mm256_storeu_ps(dwT + std::size_t(r * KW + j) * O + 8 * v, acc[r][j][v]);
  }
}

using WeightGradCvTile = void (*)(const float*, int, int, const float*, int, int, int, float*);
constexpr int kMaxCvR = 4;
#define CNN_WCV_R(kw, ov)                                                                              \
  {                                                                                                    \
    &weight_grad_cv_tile<kw, 1, ov>, &weight_grad_cv_tile<kw, 2, ov>, &weight_grad_cv_tile<kw, 3, ov>, \
        &weight_grad_cv_tile<kw, 4, ov>                                                                \
  }
#define CNN_WCV(ov) \
  { CNN_WCV_R(1, ov), CNN_WCV_R(2, ov), CNN_WCV_R(3, ov), CNN_WCV_R(4, ov), CNN_WCV_R(5, ov), CNN_WCV_R(6, ov) }
#if defined(CNN_KERNELS_AVX2)
const WeightGradCvTile kWeightGradCv[kMaxOV][kChannelsMaxKW][kMaxCvR] = {CNN_WCV(1)};
#else
const WeightGradCvTile kWeightGradCv[kMaxOV][kChannelsMaxKW][kMaxCvR] = {CNN_WCV(1), CNN_WCV(2)};
#endif
#undef CNN_WCV
#undef CNN_WCV_R

}  // namespace

template <>
CNN_TARGET void conv_forward_channels<kIsa>(const ConvShape& s, const float* x, const float* wT, const float* bias,
                                            float* z, float* relu) {
  const int C = s.C, H = s.Hp(), W = s.Wp(), O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo, S = s.stride;
  const int plane_out = ho * wo, xt = even_tile(wo, kMaxXT);
  for (int o0 = 0; o0 < O; o0 += 8 * kMaxOV) {
    const int ov = std::min(kMaxOV, (O - o0) / 8);
    for (int y = 0; y < ho; ++y)
      for (int x0 = 0; x0 < wo; x0 += xt) {
        const int xtc = std::min(xt, wo - x0);
        const std::size_t at = std::size_t(o0) * plane_out + std::size_t(y) * wo + x0;
        kForwardCv[ov - 1][xtc - 1](x + std::size_t(y) * S * W + std::size_t(x0) * S, C, H * W, W, wT + o0, O, kh, kw,
                                    S, bias ? bias + o0 : nullptr, z + at, relu ? relu + at : nullptr, plane_out);
      }
  }
}

template <>
CNN_TARGET void conv_weight_grad_channels<kIsa>(const ConvShape& s, const float* x, const float* dzT, float* dwT) {
  const int C = s.C, H = s.Hp(), W = s.Wp(), O = channels_padded(s.O), kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo;
  const int S = s.stride;
  for (int o0 = 0; o0 < O; o0 += 8 * kMaxOV) {
    const int ov = std::min(kMaxOV, (O - o0) / 8);
    const int rmax = std::clamp(kWeightGradAcc / (kw * ov), 1, kMaxCvR), rt = even_tile(kh, rmax);
    for (int c = 0; c < C; ++c)
      for (int i0 = 0; i0 < kh; i0 += rt) {
        const int rc = std::min(rt, kh - i0);
        kWeightGradCv[ov - 1][kw - 1][rc - 1](x + (std::size_t(c) * H + i0) * W, W, S, dzT + o0, O, ho, wo,
                                              dwT + (std::size_t(c) * kh + i0) * kw * O + o0);
      }
  }
}

}  // namespace cnn::kernels
#endif
