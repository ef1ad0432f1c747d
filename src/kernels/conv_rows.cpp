// Direct stride-1 convolution along rows, straight from the zero-bordered image rows (no im2col copy): vectors
// of 8 output pixels along a row, masks or an overlapping last block at a row's end. A register tile holds OT
// output channels × PT vectors of output pixels (forward), OT output channels × KT kernel taps (weight gradient) or
// CT input channels × PT vectors of dZ pixels (input gradient, tap by tap), so every loaded vector feeds several
// fused multiply-adds.
#include <algorithm>

#include "kernels/conv_kernels.h"
#include "kernels/simd.h"

#if defined(CNN_HAVE_X86)
namespace cnn::kernels {

namespace {

// One register tile of the forward pass: OT output channels (starting at w, bias, z) × PT blocks of ≤ 8 pixels.
// Kernel rows i outside [i0, i1) would only read rows of x that are known to be zero, and are skipped.
// Rows of at least 8 pixels need no masks (Masked = false): their last block is moved back to end at the row's end,
// overlapping the block before it, whose pixels it then writes again with the same values (the masked loads cost
// a mask-register reload per block and tap; bench/README.md gives the measured gain).
template <int OT, int PT, bool Masked>
CNN_TARGET void forward_tile(const float* x, int C, int HW, int W, const float* w, int CKK, int i0, int i1, int kh,
                             int kw, const float* bias, const int* in_off, const int* out_off, const Mask8* mask,
                             float* z, float* relu, int plane_out) {
  __m256 acc[OT][PT];
#pragma GCC unroll 8
  for (int o = 0; o < OT; ++o) {
    const __m256 b = bias ? _mm256_set1_ps(bias[o]) : _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) acc[o][p] = b;
  }
  for (int c = 0; c < C; ++c)
    for (int i = i0; i < i1; ++i) {
      const float* xr = x + std::size_t(c) * HW + i * W;
      const float* wr = w + (c * kh + i) * kw;
      for (int j = 0; j < kw; ++j) {
        __m256 v[PT];
#pragma GCC unroll 4
        for (int p = 0; p < PT; ++p)
          v[p] = Masked ? load_masked(mask[p], xr + in_off[p] + j) : _mm256_loadu_ps(xr + in_off[p] + j);
#pragma GCC unroll 8
        for (int o = 0; o < OT; ++o) {
          const __m256 wv = _mm256_set1_ps(wr[o * CKK + j]);
#pragma GCC unroll 4
          for (int p = 0; p < PT; ++p) acc[o][p] = _mm256_fmadd_ps(wv, v[p], acc[o][p]);
        }
      }
    }
#pragma GCC unroll 8
  for (int o = 0; o < OT; ++o)
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) {
      const __m256 r = relu ? nonnegative(acc[o][p]) : _mm256_setzero_ps();
      if constexpr (Masked) {
        store_masked(z + o * plane_out + out_off[p], mask[p], acc[o][p]);
        if (relu) store_masked(relu + o * plane_out + out_off[p], mask[p], r);
      } else {
        _mm256_storeu_ps(z + o * plane_out + out_off[p], acc[o][p]);
        if (relu) _mm256_storeu_ps(relu + o * plane_out + out_off[p], r);
      }
    }
}

using ForwardTile = void (*)(const float*, int, int, int, const float*, int, int, int, int, int, const float*,
                             const int*, const int*, const Mask8*, float*, float*, int);
// OT × PT accumulators (up to kForwardAcc), PT input vectors and one broadcast weight in registers
constexpr int kMaxPT = 4, kMaxOT = kVectorRegisters == 32 ? 8 : 4, kForwardAcc = kVectorRegisters == 32 ? 24 : 12;
#define CNN_FWD_ROW(ot, m) \
  { &forward_tile<ot, 1, m>, &forward_tile<ot, 2, m>, &forward_tile<ot, 3, m>, &forward_tile<ot, 4, m> }
#if defined(CNN_KERNELS_AVX2)
#define CNN_FWD(m) \
  { CNN_FWD_ROW(1, m), CNN_FWD_ROW(2, m), CNN_FWD_ROW(3, m), CNN_FWD_ROW(4, m) }
#else
#define CNN_FWD(m)                                                                                                    \
  {                                                                                                                   \
    CNN_FWD_ROW(1, m), CNN_FWD_ROW(2, m), CNN_FWD_ROW(3, m), CNN_FWD_ROW(4, m), CNN_FWD_ROW(5, m), CNN_FWD_ROW(6, m), \
        CNN_FWD_ROW(7, m), CNN_FWD_ROW(8, m)                                                                          \
  }
#endif
const ForwardTile kForward[2][kMaxOT][kMaxPT] = {CNN_FWD(false), CNN_FWD(true)};  // [masked][OT − 1][PT − 1]
#undef CNN_FWD
#undef CNN_FWD_ROW

// One register tile of the weight gradient: OT output channels (dz and dw start there) × KT kernel taps, summed over
// every output pixel of `images` images (so the horizontal sums at the end are paid once per chunk of the batch).
template <int OT, int KT>
CNN_TARGET void weight_grad_tile(const float* x, std::size_t x_stride, const int* tap, int W, const float* dz,
                                 std::size_t dz_stride, int plane_out, int ho, int wo, int images, float* dw, int CKK) {
  __m256 acc[OT][KT];
#pragma GCC unroll 6
  for (int o = 0; o < OT; ++o)
#pragma GCC unroll 4
    for (int k = 0; k < KT; ++k) acc[o][k] = _mm256_setzero_ps();
  // 8 pixels from x0: dZ lanes outside dz_mask are zeroed, x lanes outside x_mask are not read (Full: all 8 lanes)
  const auto block = [&]<bool Full>(const float* xp, const float* dzp, Mask8 dz_mask, Mask8 x_mask) CNN_TARGET {
    __m256 d[OT];
#pragma GCC unroll 6
    for (int o = 0; o < OT; ++o)
      d[o] = Full ? _mm256_loadu_ps(dzp + o * plane_out) : load_masked(dz_mask, dzp + o * plane_out);
#pragma GCC unroll 4
    for (int k = 0; k < KT; ++k) {
      const __m256 v = Full ? _mm256_loadu_ps(xp + tap[k]) : load_masked(x_mask, xp + tap[k]);
#pragma GCC unroll 6
      for (int o = 0; o < OT; ++o) acc[o][k] = _mm256_fmadd_ps(d[o], v, acc[o][k]);
    }
  };
  // Whole blocks are read without masks; a row's last partial block is moved back to end at the row's end, its
  // lanes that the block before it already counted zeroed in dZ (rows under 8 pixels: masked, in place)
  const int full = wo / 8, rest = wo % 8;
  const Mask8 all = mask_bits(0xFF), tail_dz = wo >= 8 ? mask_bits(0xFFu << (8 - rest) & 0xFFu) : mask_first(wo),
              tail_x = wo >= 8 ? all : tail_dz;
  const int tail_at = wo >= 8 ? wo - 8 : 0;
  for (int n = 0; n < images; ++n, x += x_stride, dz += dz_stride)
    for (int y = 0; y < ho; ++y) {
      const float* dzr = dz + y * wo;
      const float* xr = x + y * W;
      for (int b = 0; b < full; ++b) block.template operator()<true>(xr + 8 * b, dzr + 8 * b, all, all);
      if (rest) block.template operator()<false>(xr + tail_at, dzr + tail_at, tail_dz, tail_x);
    }
#pragma GCC unroll 6
  for (int o = 0; o < OT; ++o)
#pragma GCC unroll 4
    for (int k = 0; k < KT; ++k) dw[o * CKK + k] += hsum(acc[o][k]);
}

using WeightGradTile = void (*)(const float*, std::size_t, const int*, int, const float*, std::size_t, int, int, int,
                                int, float*, int);
// OT × KT accumulators, OT dZ vectors, one x vector (and, with AVX2, two masks) in registers
#if defined(CNN_KERNELS_AVX2)
constexpr int kMaxWOT = 3, kMaxKT = 3;
#define CNN_WG_ROW(ot) \
  { &weight_grad_tile<ot, 1>, &weight_grad_tile<ot, 2>, &weight_grad_tile<ot, 3> }
const WeightGradTile kWeightGrad[kMaxWOT][kMaxKT] = {CNN_WG_ROW(1), CNN_WG_ROW(2), CNN_WG_ROW(3)};
#else
constexpr int kMaxWOT = 6, kMaxKT = 4;
#define CNN_WG_ROW(ot) \
  { &weight_grad_tile<ot, 1>, &weight_grad_tile<ot, 2>, &weight_grad_tile<ot, 3>, &weight_grad_tile<ot, 4> }
const WeightGradTile kWeightGrad[kMaxWOT][kMaxKT] = {CNN_WG_ROW(1), CNN_WG_ROW(2), CNN_WG_ROW(3),
                                                     CNN_WG_ROW(4), CNN_WG_ROW(5), CNN_WG_ROW(6)};
#endif
#undef CNN_WG_ROW

// One register tile of dA for one kernel tap (i, j): CT input channels × PT blocks of ≤ 8 dZ pixels,
//   acc[c][p] = Σ_o W[o][c][i][j]·dZ[o][block p],  then added onto dA[c][y + i − pt][x + j − pl] (cropped).
// Exactly the multiply-adds of the formula (no products with padding zeros), and the taps of one tile never
// overlap in dA, so the adds do not wait on each other.
template <int CT, int PT>
CNN_TARGET void input_grad_tile(const float* dz, int O, int plane_out, const float* w, int o_stride, int c_stride,
                                const int* dz_off, const Mask8* dz_mask, float* const* dst, const Mask8* dst_mask,
                                int plane_in) {
  __m256 acc[CT][PT];
#pragma GCC unroll 8
  for (int c = 0; c < CT; ++c)
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) acc[c][p] = _mm256_setzero_ps();
  for (int o = 0; o < O; ++o) {
    const float* d = dz + std::size_t(o) * plane_out;
    __m256 v[PT];
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) v[p] = load_masked(dz_mask[p], d + dz_off[p]);
    const float* wo = w + std::size_t(o) * o_stride;
#pragma GCC unroll 8
    for (int c = 0; c < CT; ++c) {
      const __m256 wv = _mm256_set1_ps(wo[c * c_stride]);
#pragma GCC unroll 4
      for (int p = 0; p < PT; ++p) acc[c][p] = _mm256_fmadd_ps(wv, v[p], acc[c][p]);
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < PT; ++p) {
    if (!dst[p]) continue;  // a dZ row whose dA row falls in the padding
#pragma GCC unroll 8
    for (int c = 0; c < CT; ++c) {
      float* at = dst[p] + std::size_t(c) * plane_in;
      const __m256 old = load_masked(dst_mask[p], at);
      store_masked(at, dst_mask[p], _mm256_add_ps(old, acc[c][p]));
    }
  }
}

using InputGradTile = void (*)(const float*, int, int, const float*, int, int, const int*, const Mask8*, float* const*,
                               const Mask8*, int);
// CT × PT accumulators, PT dZ vectors and one broadcast weight in registers
#if defined(CNN_KERNELS_AVX2)
#define CNN_IG_ROW(ct) \
  { &input_grad_tile<ct, 1>, &input_grad_tile<ct, 2>, &input_grad_tile<ct, 3> }
constexpr int kMaxIgCT = 3, kIgPT = 3;
const InputGradTile kInputGrad[kMaxIgCT][kIgPT] = {CNN_IG_ROW(1), CNN_IG_ROW(2), CNN_IG_ROW(3)};
#else
#define CNN_IG_ROW(ct) \
  { &input_grad_tile<ct, 1>, &input_grad_tile<ct, 2>, &input_grad_tile<ct, 3>, &input_grad_tile<ct, 4> }
constexpr int kMaxIgCT = 6, kIgPT = 4;
const InputGradTile kInputGrad[kMaxIgCT][kIgPT] = {CNN_IG_ROW(1), CNN_IG_ROW(2), CNN_IG_ROW(3),
                                                   CNN_IG_ROW(4), CNN_IG_ROW(5), CNN_IG_ROW(6)};
#endif
#undef CNN_IG_ROW

}  // namespace

template <>
CNN_TARGET void conv_forward_rows<kIsa>(const ConvShape& s, const float* x, const float* w, const float* bias, float* z,
                                        float* relu, int nz_top, int nz_rows) {
  const int C = s.C, H = s.Hp(), W = s.Wp(), O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo;
  if (nz_rows < 0) nz_top = 0, nz_rows = H;
  const int CKK = C * kh * kw, plane_out = ho * wo, xb = (wo + 7) / 8, blocks = ho * xb;
  const int ot = even_tile(O, kMaxOT);
  const int pt = std::clamp(kForwardAcc / ot, 1, kMaxPT);
  const bool masked = wo < 8;
  int in_off[kMaxPT], out_off[kMaxPT];
  Mask8 mask[kMaxPT];
  for (int o0 = 0; o0 < O; o0 += ot) {
    const int otc = std::min(ot, O - o0);
    for (int b0 = 0; b0 < blocks; b0 += pt) {
      const int ptc = std::min(pt, blocks - b0);
      row_blocks(b0, ptc, xb, wo, W, masked, in_off, out_off, mask);
      // rows y_first..y_last of this tile read x rows y + i; only rows [nz_top, nz_top + nz_rows) can be nonzero
      // (an empty range leaves z = bias, which is right: every product would have been with a zero)
      const int y_first = b0 / xb, y_last = (b0 + ptc - 1) / xb;
      const int i0 = std::max(0, nz_top - y_last), i1 = std::min(kh, nz_top + nz_rows - y_first);
      kForward[masked][otc - 1][ptc - 1](
          x, C, H * W, W, w + std::size_t(o0) * CKK, CKK, i0, i1, kh, kw, bias ? bias + o0 : nullptr, in_off, out_off,
          mask, z + std::size_t(o0) * plane_out, relu ? relu + std::size_t(o0) * plane_out : nullptr, plane_out);
    }
  }
}

template <>
CNN_TARGET void conv_weight_grad_rows<kIsa>(const ConvShape& s, const float* x, const float* dz, int images,
                                            float* dw) {
  const int H = s.Hp(), W = s.Wp(), O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo;
  const int CKK = s.taps(), plane_out = ho * wo;
  const int ot = even_tile(O, kMaxWOT);
  int tap[kMaxKT];
  for (int o0 = 0; o0 < O; o0 += ot) {
    const int otc = std::min(ot, O - o0);
    for (int k0 = 0; k0 < CKK; k0 += kMaxKT) {
      const int ktc = std::min(kMaxKT, CKK - k0);
      for (int k = 0; k < ktc; ++k) {
        const int c = (k0 + k) / (kh * kw), i = (k0 + k) / kw % kh, j = (k0 + k) % kw;
        tap[k] = (c * H + i) * W + j;
      }
      kWeightGrad[otc - 1][ktc - 1](x, s.padded_size(), tap, W, dz + std::size_t(o0) * plane_out, s.out_size(),
                                    plane_out, ho, wo, images, dw + std::size_t(o0) * CKK + k0, CKK);
    }
  }
}

template <>
CNN_TARGET void conv_input_grad_taps<kIsa>(const ConvShape& s, const float* dz, const float* w, float* dx) {
  const int C = s.C, H = s.H, W = s.W, O = s.O, kh = s.kh, kw = s.kw, ho = s.Ho, wo = s.Wo;
  std::fill(dx, dx + s.in_size(), 0.0f);
  const int KK = kh * kw, CKK = C * KK, plane_out = ho * wo, plane_in = H * W, xb = (wo + 7) / 8;
  const int blocks = ho * xb, ct = even_tile(C, kMaxIgCT), pt = kIgPT;
  int dz_off[kIgPT];
  Mask8 dz_mask[kIgPT], dst_mask[kIgPT];
  float* dst[kIgPT];
  for (int i = 0; i < kh; ++i)
    for (int j = 0; j < kw; ++j)
      for (int b0 = 0, y = 0, bx = 0; b0 < blocks; b0 += pt) {  // block b0 + p: row y, x from 8·bx
        const int ptc = std::min(pt, blocks - b0);
        for (int p = 0; p < ptc; ++p, bx = bx + 1 == xb ? 0 : bx + 1, y += bx == 0) {
          const int x0 = bx * 8, width = std::min(8, wo - x0);
          dz_off[p] = y * wo + x0;
          dz_mask[p] = mask_first(width);
          const int ty = y + i - s.pad_top, tx = x0 + j - s.pad_left;  // where lane 0 lands in dA
          // lanes l < width with 0 ≤ tx + l < W
          const int lo = std::max(0, -tx), hi = std::min(width, W - tx);
          const unsigned m = hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
          dst_mask[p] = mask_bits(m);
          dst[p] = (ty >= 0 && ty < H && m) ? dx + std::size_t(ty) * W + tx : nullptr;
        }
        for (int c0 = 0; c0 < C; c0 += ct) {
          const int ctc = std::min(ct, C - c0);
          float* d[kIgPT];
          for (int p = 0; p < ptc; ++p) d[p] = dst[p] ? dst[p] + std::size_t(c0) * plane_in : nullptr;
          kInputGrad[ctc - 1][ptc - 1](dz, O, plane_out, w + std::size_t(c0) * KK + i * kw + j, CKK, KK, dz_off,
                                       dz_mask, d, dst_mask, plane_in);
        }
      }
}

}  // namespace cnn::kernels
#endif
