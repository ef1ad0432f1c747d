// The direct stride-1 convolution kernels along rows with 16-float (512-bit) vectors, for Isa::avx512_16: cores
// that issue two 512-bit FMAs a cycle (most Intel Xeons), where conv_rows.cpp's 8-float vectors reach half the core.
//
// A 512-bit vector here is two output channels × the same 8 pixels (the low half channel o, the high half o + 1),
// not 16 pixels of one row: the seed nets' rows are 24, 28, 8 and 10 pixels, which 8-pixel blocks fill and
// 16-pixel blocks would not. Every lane still computes one output's sum in conv_rows.cpp's order (forward: one
// output pixel; weight gradient: the pixels x ≡ l mod 8 of one channel, then the same horizontal sum), so both
// widths give the same bits, and the tests compare them bit for bit.
//
//   forward:         acc[q][p] += [w_o(c,i,j) ×8 | w_o+1(c,i,j) ×8] · [x block p | x block p]
//   weight gradient: acc[q][k] += [dZ_o block | dZ_o+1 block] · [x block at tap k | the same]
// The weight pairs are packed once per pass (pack_weight_pairs), so the inner loop loads them whole; the pixel
// blocks are loaded with vbroadcastf32x8, which takes a load port and no shuffle.
#include <algorithm>

#include "kernels/conv_kernels.h"
#include "kernels/simd.h"

#if defined(CNN_HAVE_X86) && !defined(CNN_KERNELS_AVX2)
#define CNN_TARGET16 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 on its own intrinsics' "undefined" operands
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace cnn::kernels {

namespace {

// The 8 floats from p in both halves.
CNN_TARGET16 inline __m512 both_halves(const float* p) { return _mm512_broadcast_f32x8(_mm256_loadu_ps(p)); }
CNN_TARGET16 inline __m512 both_halves(Mask8 m, const float* p) {
  return _mm512_broadcast_f32x8(_mm256_maskz_loadu_ps(m, p));
}
CNN_TARGET16 inline __m256 low(__m512 v) { return _mm512_castps512_ps256(v); }
CNN_TARGET16 inline __m256 high(__m512 v) { return _mm512_extractf32x8_ps(v, 1); }

// One register tile of the forward pass: OP channel pairs × PT blocks of ≤ 8 pixels. `wp` is the tile's first pair in
// the packed layout (pack_weight_pairs), `pair_stride` floats from one pair to the next; `last_single`: the tile's
// last pair holds one real channel (O odd), whose high half is computed and not stored.
template <int OP, int PT, bool Masked>
CNN_TARGET16 void forward_tile16(const float* x, int C, int HW, int W, const float* wp, std::size_t pair_stride, int i0,
                                 int i1, int kh, int kw, const float* bias, bool last_single, const int* in_off,
                                 const int* out_off, const Mask8* mask, float* z, float* relu, int plane_out) {
  __m512 acc[OP][PT];
#pragma GCC unroll 6
  for (int q = 0; q < OP; ++q) {
    const bool single = last_single && q == OP - 1;
    const __m512 b = bias ? _mm512_insertf32x8(_mm512_set1_ps(bias[2 * q]), _mm256_set1_ps(bias[2 * q + !single]), 1)
                          : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) acc[q][p] = b;
  }
  for (int c = 0; c < C; ++c)
    for (int i = i0; i < i1; ++i) {
      const float* xr = x + std::size_t(c) * HW + i * W;
      const float* wr = wp + std::size_t((c * kh + i) * kw) * 16;
      for (int j = 0; j < kw; ++j, wr += 16) {
        __m512 v[PT];
#pragma GCC unroll 4
        for (int p = 0; p < PT; ++p)
          v[p] = Masked ? both_halves(mask[p], xr + in_off[p] + j) : both_halves(xr + in_off[p] + j);
#pragma GCC unroll 6
        for (int q = 0; q < OP; ++q) {
          const __m512 wv = _mm512_loadu_ps(wr + q * pair_stride);
#pragma GCC unroll 4
          for (int p = 0; p < PT; ++p) acc[q][p] = _mm512_fmadd_ps(wv, v[p], acc[q][p]);
        }
      }
    }
  const auto put = [&](float* at, Mask8 m, __m256 v) CNN_TARGET16 {
    if constexpr (Masked)
      store_masked(at, m, v);
    else
      _mm256_storeu_ps(at, v);
  };
#pragma GCC unroll 6
  for (int q = 0; q < OP; ++q)
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) {
      const std::size_t at0 = std::size_t(2 * q) * plane_out + out_off[p], at1 = at0 + plane_out;
      const bool single = last_single && q == OP - 1;
      put(z + at0, mask[p], low(acc[q][p]));
      if (!single) put(z + at1, mask[p], high(acc[q][p]));
      if (relu) {
        const __m512 r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(acc[q][p], _mm512_setzero_ps(), _CMP_GE_OQ), acc[q][p]);
        put(relu + at0, mask[p], low(r));
        if (!single) put(relu + at1, mask[p], high(r));
      }
    }
}

using ForwardTile16 = void (*)(const float*, int, int, int, const float*, std::size_t, int, int, int, int, const float*,
                               bool, const int*, const int*, const Mask8*, float*, float*, int);
// OP × PT accumulators (up to kForwardAcc16), PT pixel vectors and one weight pair in the 32 registers
constexpr int kMaxPT16 = 4, kMaxOP = 6, kForwardAcc16 = 24;
#define CNN_FWD16_ROW(op, m) \
  { &forward_tile16<op, 1, m>, &forward_tile16<op, 2, m>, &forward_tile16<op, 3, m>, &forward_tile16<op, 4, m> }
#define CNN_FWD16(m)                                                                                         \
  {                                                                                                          \
    CNN_FWD16_ROW(1, m), CNN_FWD16_ROW(2, m), CNN_FWD16_ROW(3, m), CNN_FWD16_ROW(4, m), CNN_FWD16_ROW(5, m), \
        CNN_FWD16_ROW(6, m)                                                                                  \
  }
const ForwardTile16 kForward16[2][kMaxOP][kMaxPT16] = {CNN_FWD16(false), CNN_FWD16(true)};  // [masked][OP−1][PT−1]
#undef CNN_FWD16
#undef CNN_FWD16_ROW

// One register tile of the weight gradient: OP channel pairs × KT kernel taps, summed over every output pixel of
// `images` images; `last_single` as in forward_tile16 (the high half then reads channel o's dZ again, unstored).
template <int OP, int KT>
CNN_TARGET16 void weight_grad_tile16(const float* x, std::size_t x_stride, const int* tap, int W, const float* dz,
                                     std::size_t dz_stride, int plane_out, int ho, int wo, int images, float* dw,
                                     int CKK, bool last_single) {
  __m512 acc[OP][KT];
#pragma GCC unroll 4
  for (int q = 0; q < OP; ++q)
#pragma GCC unroll 6
    for (int k = 0; k < KT; ++k) acc[q][k] = _mm512_setzero_ps();
  std::size_t hi_off[OP];  // where channel 2q + 1's plane starts, from channel 2q's
  for (int q = 0; q < OP; ++q) hi_off[q] = last_single && q == OP - 1 ? 0 : std::size_t(plane_out);
  // as conv_rows.cpp's weight_grad_tile: whole blocks unmasked, a row's last partial block moved back to end at the
  // row's end with the lanes the block before it counted zeroed in dZ (rows under 8 pixels: masked, in place)
  const auto block = [&]<bool Full, bool MaskX>(const float* xp, const float* dzp, Mask8 dz_mask,
                                                Mask8 x_mask) CNN_TARGET16 {
    __m512 d[OP];
#pragma GCC unroll 4
    for (int q = 0; q < OP; ++q) {
      const float* d0 = dzp + std::size_t(2 * q) * plane_out;
      const __m256 lo = Full ? _mm256_loadu_ps(d0) : _mm256_maskz_loadu_ps(dz_mask, d0);
      const __m256 hi = Full ? _mm256_loadu_ps(d0 + hi_off[q]) : _mm256_maskz_loadu_ps(dz_mask, d0 + hi_off[q]);
      d[q] = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    }
#pragma GCC unroll 6
    for (int k = 0; k < KT; ++k) {
      const __m512 v = MaskX ? both_halves(x_mask, xp + tap[k]) : both_halves(xp + tap[k]);
#pragma GCC unroll 4
      for (int q = 0; q < OP; ++q) acc[q][k] = _mm512_fmadd_ps(d[q], v, acc[q][k]);
    }
  };
  const int full = wo / 8, rest = wo % 8;
  const Mask8 all = mask_bits(0xFF), tail_dz = wo >= 8 ? mask_bits(0xFFu << (8 - rest) & 0xFFu) : mask_first(wo);
  const int tail_at = wo >= 8 ? wo - 8 : 0;
  for (int n = 0; n < images; ++n, x += x_stride, dz += dz_stride)
    for (int y = 0; y < ho; ++y) {
      const float* dzr = dz + y * wo;
      const float* xr = x + y * W;
      for (int b = 0; b < full; ++b) block.template operator()<true, false>(xr + 8 * b, dzr + 8 * b, all, all);
      if (rest) {
        if (wo >= 8)
          block.template operator()<false, false>(xr + tail_at, dzr + tail_at, tail_dz, all);
        else
          block.template operator()<false, true>(xr, dzr, tail_dz, tail_dz);
      }
    }
#pragma GCC unroll 4
  for (int q = 0; q < OP; ++q)
#pragma GCC unroll 6
    for (int k = 0; k < KT; ++k) {
      dw[2 * q * CKK + k] += hsum(low(acc[q][k]));
      if (!(last_single && q == OP - 1)) dw[(2 * q + 1) * CKK + k] += hsum(high(acc[q][k]));
    }
}

using WeightGradTile16 = void (*)(const float*, std::size_t, const int*, int, const float*, std::size_t, int, int, int,
                                  int, float*, int, bool);
// OP × KT accumulators, OP dZ pairs and one pixel vector in the 32 registers
constexpr int kMaxWOP = 4, kMaxKT16 = 6;
#define CNN_WG16_ROW(op)                                                                                            \
  {                                                                                                                 \
    &weight_grad_tile16<op, 1>, &weight_grad_tile16<op, 2>, &weight_grad_tile16<op, 3>, &weight_grad_tile16<op, 4>, \
        &weight_grad_tile16<op, 5>, &weight_grad_tile16<op, 6>                                                      \
  }
const WeightGradTile16 kWeightGrad16[kMaxWOP][kMaxKT16] = {CNN_WG16_ROW(1), CNN_WG16_ROW(2), CNN_WG16_ROW(3),
                                                           CNN_WG16_ROW(4)};
#undef CNN_WG16_ROW

// One register tile of the forward pass along rows of 16 pixels (conv_forward_rows16): OT output channels × PT
// blocks of 16 pixels of a row; KW the kernel's width when known at compile time (0: kw). Each weight is broadcast from
// W as it is ([O][C·kh·kw]), so the tile's weights take a few KB of the cache, not the pairs' 16 floats a weight.
template <int OT, int PT, int KW>
CNN_TARGET16 void forward_tile_px16(const float* x, int C, int HW, int W, const float* w, int CKK, int i0, int i1,
                                    int kh, int kw_, const float* bias, const int* in_off, const int* out_off, float* z,
                                    float* relu, int plane_out) {
  __m512 acc[OT][PT];
#pragma GCC unroll 8
  for (int o = 0; o < OT; ++o) {
    const __m512 b = bias ? _mm512_set1_ps(bias[o]) : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) acc[o][p] = b;
  }
  for (int c = 0; c < C; ++c)
    for (int i = i0; i < i1; ++i) {
      const float* xr = x + std::size_t(c) * HW + i * W;
      const int kw = KW ? KW : kw_;
      const float* wr = w + (c * kh + i) * kw;
#pragma GCC unroll 8
      for (int j = 0; j < kw; ++j) {
        __m512 v[PT];
#pragma GCC unroll 4
        for (int p = 0; p < PT; ++p) v[p] = _mm512_loadu_ps(xr + in_off[p] + j);
#pragma GCC unroll 8
        for (int o = 0; o < OT; ++o) {
          const __m512 wv = _mm512_set1_ps(wr[o * CKK + j]);
#pragma GCC unroll 4
          for (int p = 0; p < PT; ++p) acc[o][p] = _mm512_fmadd_ps(wv, v[p], acc[o][p]);
        }
      }
    }
#pragma GCC unroll 8
  for (int o = 0; o < OT; ++o)
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) {
      const std::size_t at = std::size_t(o) * plane_out + out_off[p];
      _mm512_storeu_ps(z + at, acc[o][p]);
      if (relu)
        _mm512_storeu_ps(
            relu + at, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(acc[o][p], _mm512_setzero_ps(), _CMP_GE_OQ), acc[o][p]));
    }
}

using ForwardTilePx16 = void (*)(const float*, int, int, int, const float*, int, int, int, int, int, const float*,
                                 const int*, const int*, float*, float*, int);
// OT × PT accumulators, PT pixel vectors and one broadcast weight in the 32 registers
constexpr int kMaxOTpx = 8, kMaxPTpx = 3;
// [kw == 3][OT − 1][PT − 1]: the 3×3 kernels' rows unrolled (a third faster than the loop over j)
#define CNN_FWDPX_ROW(ot, kw) \
  { &forward_tile_px16<ot, 1, kw>, &forward_tile_px16<ot, 2, kw>, &forward_tile_px16<ot, 3, kw> }
#define CNN_FWDPX(kw)                                                                                             \
  {                                                                                                               \
    CNN_FWDPX_ROW(1, kw), CNN_FWDPX_ROW(2, kw), CNN_FWDPX_ROW(3, kw), CNN_FWDPX_ROW(4, kw), CNN_FWDPX_ROW(5, kw), \
        CNN_FWDPX_ROW(6, kw), CNN_FWDPX_ROW(7, kw), CNN_FWDPX_ROW(8, kw)                                          \
  }
const ForwardTilePx16 kForwardPx16[2][kMaxOTpx][kMaxPTpx] = {CNN_FWDPX(0), CNN_FWDPX(3)};
#undef CNN_FWDPX
#undef CNN_FWDPX_ROW

// One row tile of the forward pass over channels with 16-float vectors (conv_forward_channels16): XT consecutive
// output pixels of a row × OV vectors of 16 output channels, conv_channels.cpp's tile twice as wide,
//   acc[p][v] = Σ_c Σ_i Σ_j x[c][S·y + i][S·(x0 + p) + j] · wT[c][i][j][16v .. 16v + 15]
template <int XT, int OV, int KW>
CNN_TARGET16 void forward_cv16_tile(const float* x, int C, int HW, int W, const float* wT, int O, int kh, int kw_,
                                    int S, const float* bias, float* z, float* relu, int plane_out) {
  const int kw = KW ? KW : kw_;
  if constexpr (XT * OV <= 24) {
    __m512 acc[XT][OV];
#pragma GCC unroll 3
    for (int v = 0; v < OV; ++v) {
      const __m512 b = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 12
      for (int p = 0; p < XT; ++p) acc[p][v] = b;
    }
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < kh; ++i) {
        const float* xr = x + std::size_t(c) * HW + i * W;
        const float* wr = wT + std::size_t(c * kh + i) * kw * O;
#pragma GCC unroll 3
        for (int j = 0; j < kw; ++j, ++xr, wr += O) {
          __m512 wv[OV];
#pragma GCC unroll 3
          for (int v = 0; v < OV; ++v) wv[v] = _mm512_loadu_ps(wr + 16 * v);
#pragma GCC unroll 12
          for (int p = 0; p < XT; ++p) {
            const __m512 xv = _mm512_set1_ps(xr[p * S]);
#pragma GCC unroll 3
            for (int v = 0; v < OV; ++v) acc[p][v] = _mm512_fmadd_ps(xv, wv[v], acc[p][v]);
          }
        }
      }
    // back to planes: each half of 8 channels × 8 pixels by an 8×8 transpose, the rest of the row one by one
    constexpr int XV = XT / 8 * 8;
#pragma GCC unroll 3
    for (int v = 0; v < OV; ++v)
      for (int h = 0; h < 2; ++h)
        for (int p0 = 0; p0 < XV; p0 += 8) {
          __m256 r[8], t[8];
#pragma GCC unroll 8
          for (int k = 0; k < 8; ++k) r[k] = h ? high(acc[p0 + k][v]) : low(acc[p0 + k][v]);
          transpose8(r, t);
#pragma GCC unroll 8
          for (int k = 0; k < 8; ++k) {
            const std::size_t at = std::size_t(16 * v + 8 * h + k) * plane_out + p0;
            _mm256_storeu_ps(z + at, t[k]);
            if (relu) _mm256_storeu_ps(relu + at, nonnegative(t[k]));
          }
        }
    if constexpr (XV < XT) {
      alignas(64) float out[XT - XV][16 * OV];
#pragma GCC unroll 8
      for (int p = XV; p < XT; ++p)
#pragma GCC unroll 3
        for (int v = 0; v < OV; ++v) _mm512_store_ps(out[p - XV] + 16 * v, acc[p][v]);
      for (int o = 0; o < 16 * OV; ++o)
        for (int p = XV; p < XT; ++p) {
          const float zv = out[p - XV][o];
          z[std::size_t(o) * plane_out + p] = zv;
          if (relu) relu[std::size_t(o) * plane_out + p] = zv >= 0.0f ? zv : 0.0f;
        }
    }
  }
}

using ForwardCv16Tile = void (*)(const float*, int, int, int, const float*, int, int, int, int, const float*, float*,
                                 float*, int);
// XT × OV accumulators (at most 24), OV weight vectors and one broadcast pixel in the 32 registers
constexpr int kMaxXT16 = 12, kMaxOV16 = 3;
#define CNN_FCV16(ov, kw)                                                                              \
  {                                                                                                    \
    &forward_cv16_tile<1, ov, kw>, &forward_cv16_tile<2, ov, kw>, &forward_cv16_tile<3, ov, kw>,       \
        &forward_cv16_tile<4, ov, kw>, &forward_cv16_tile<5, ov, kw>, &forward_cv16_tile<6, ov, kw>,   \
        &forward_cv16_tile<7, ov, kw>, &forward_cv16_tile<8, ov, kw>, &forward_cv16_tile<9, ov, kw>,   \
        &forward_cv16_tile<10, ov, kw>, &forward_cv16_tile<11, ov, kw>, &forward_cv16_tile<12, ov, kw> \
  }
// [kw == 3][OV − 1][XT − 1]
const ForwardCv16Tile kForwardCv16[2][kMaxOV16][kMaxXT16] = {{CNN_FCV16(1, 0), CNN_FCV16(2, 0), CNN_FCV16(3, 0)},
                                                             {CNN_FCV16(1, 3), CNN_FCV16(2, 3), CNN_FCV16(3, 3)}};
#undef CNN_FCV16

}  // namespace

void pack_weight_pairs(const float* w, int O, int CKK, float* wp) {
  for (int q = 0; q < (O + 1) / 2; ++q) {
    const float* lo = w + std::size_t(2 * q) * CKK;
    const float* hi = 2 * q + 1 < O ? lo + CKK : lo;
    float* out = wp + std::size_t(q) * CKK * 16;
    for (int k = 0; k < CKK; ++k, out += 16) {
      std::fill(out, out + 8, lo[k]);
      std::fill(out + 8, out + 16, hi[k]);
    }
  }
}

template <>
CNN_TARGET16 void conv_forward_rows<Isa::avx512_16>(const ConvShape& s, const float* x, const float* wp,
                                                    const float* bias, float* z, float* relu, int nz_top, int nz_rows) {
  const int C = s.C, H = s.Hp(), W = s.Wp(), O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo;
  if (nz_rows < 0) nz_top = 0, nz_rows = H;
  const int CKK = C * kh * kw, plane_out = ho * wo, xb = (wo + 7) / 8, blocks = ho * xb, pairs = (O + 1) / 2;
  const std::size_t pair_stride = std::size_t(CKK) * 16;
  const int op = even_tile(pairs, kMaxOP);
  const int pt = std::clamp(kForwardAcc16 / op, 1, kMaxPT16);
  const bool masked = wo < 8;
  int in_off[kMaxPT16], out_off[kMaxPT16];
  Mask8 mask[kMaxPT16];
  for (int q0 = 0; q0 < pairs; q0 += op) {
    const int opc = std::min(op, pairs - q0);
    const bool last_single = q0 + opc == pairs && O % 2 == 1;
    for (int b0 = 0; b0 < blocks; b0 += pt) {
      const int ptc = std::min(pt, blocks - b0);
      row_blocks(b0, ptc, xb, wo, W, masked, in_off, out_off, mask);
      const int y_first = b0 / xb, y_last = (b0 + ptc - 1) / xb;
      const int i0 = std::max(0, nz_top - y_last), i1 = std::min(kh, nz_top + nz_rows - y_first);
      kForward16[masked][opc - 1][ptc - 1](x, C, H * W, W, wp + q0 * pair_stride, pair_stride, i0, i1, kh, kw,
                                           bias ? bias + 2 * q0 : nullptr, last_single, in_off, out_off, mask,
                                           z + std::size_t(2 * q0) * plane_out,
                                           relu ? relu + std::size_t(2 * q0) * plane_out : nullptr, plane_out);
    }
  }
}

template <>
CNN_TARGET16 void conv_weight_grad_rows<Isa::avx512_16>(const ConvShape& s, const float* x, const float* dz, int images,
                                                        float* dw) {
  const int H = s.Hp(), W = s.Wp(), O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo;
  const int CKK = s.taps(), plane_out = ho * wo, pairs = (O + 1) / 2;
  const int op = even_tile(pairs, kMaxWOP), kt = even_tile(CKK, kMaxKT16);
  int tap[kMaxKT16];
  for (int q0 = 0; q0 < pairs; q0 += op) {
    const int opc = std::min(op, pairs - q0);
    const bool last_single = q0 + opc == pairs && O % 2 == 1;
    for (int k0 = 0; k0 < CKK; k0 += kt) {
      const int ktc = std::min(kt, CKK - k0);
      for (int k = 0; k < ktc; ++k) {
        const int c = (k0 + k) / (kh * kw), i = (k0 + k) / kw % kh, j = (k0 + k) % kw;
        tap[k] = (c * H + i) * W + j;
      }
      kWeightGrad16[opc - 1][ktc - 1](x, s.padded_size(), tap, W, dz + std::size_t(2 * q0) * plane_out, s.out_size(),
                                      plane_out, ho, wo, images, dw + std::size_t(2 * q0) * CKK + k0, CKK, last_single);
    }
  }
}

CNN_TARGET16 void conv_forward_rows16(const ConvShape& s, const float* x, const float* w, const float* bias, float* z,
                                      float* relu, int nz_top, int nz_rows) {
  const int C = s.C, H = s.Hp(), W = s.Wp(), O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo;
  if (nz_rows < 0) nz_top = 0, nz_rows = H;
  const int CKK = C * kh * kw, plane_out = ho * wo, xb = (wo + 15) / 16, blocks = ho * xb;
  const int ot = even_tile(O, kMaxOTpx), pt = kMaxPTpx;
  int in_off[kMaxPTpx], out_off[kMaxPTpx];
  for (int o0 = 0; o0 < O; o0 += ot) {
    const int otc = std::min(ot, O - o0);
    for (int b0 = 0; b0 < blocks; b0 += pt) {
      const int ptc = std::min(pt, blocks - b0);
      for (int p = 0; p < ptc; ++p) {  // a row's last block moved back to end at the row's end (wo ≥ 16)
        const int y = (b0 + p) / xb, x0 = std::min((b0 + p) % xb * 16, wo - 16);
        in_off[p] = y * W + x0;
        out_off[p] = y * wo + x0;
      }
      const int y_first = b0 / xb, y_last = (b0 + ptc - 1) / xb;
      const int i0 = std::max(0, nz_top - y_last), i1 = std::min(kh, nz_top + nz_rows - y_first);
      kForwardPx16[kw == 3][otc - 1][ptc - 1](
          x, C, H * W, W, w + std::size_t(o0) * CKK, CKK, i0, i1, kh, kw, bias ? bias + o0 : nullptr, in_off, out_off,
          z + std::size_t(o0) * plane_out, relu ? relu + std::size_t(o0) * plane_out : nullptr, plane_out);
    }
  }
}

CNN_TARGET16 void conv_forward_channels16(const ConvShape& s, const float* x, const float* wT, const float* bias,
                                          float* z, float* relu) {
  const int C = s.C, H = s.Hp(), W = s.Wp(), O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo, S = s.stride;
  const int plane_out = ho * wo;
  for (int o0 = 0; o0 < O;) {
    const int ov = std::min(kMaxOV16, (O - o0) / 16);
    const int xt = even_tile(wo, std::min(kMaxXT16, 24 / ov));
    for (int y = 0; y < ho; ++y)
      for (int x0 = 0; x0 < wo; x0 += xt) {
        const int xtc = std::min(xt, wo - x0);
        const std::size_t at = std::size_t(o0) * plane_out + std::size_t(y) * wo + x0;
        kForwardCv16[kw == 3][ov - 1][xtc - 1](x + std::size_t(y) * S * W + std::size_t(x0) * S, C, H * W, W, wT + o0,
                                               O, kh, kw, S, bias ? bias + o0 : nullptr, z + at,
                                               relu ? relu + at : nullptr, plane_out);
      }
    o0 += 16 * ov;
  }
}

}  // namespace cnn::kernels
#pragma GCC diagnostic pop
#endif
