// Direct stride-1 convolution with AVX-512VL, straight from the image rows (no im2col copy).
//
// Vectors are 8 floats along an output row (ymm: on this AMD Zen 4 a 256-bit FMA issues twice per cycle, so 8-wide
// vectors reach the same peak as 16-wide ones while wasting less of a 24- or 8-pixel row), with masks for the end
// of a row. A register tile holds OT output channels × PT vectors of output pixels (forward) or OT output channels ×
// KT kernel taps (weight gradient), so every loaded input vector feeds OT fused multiply-adds.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CNN_HAVE_X86 1
#define CNN_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#endif

namespace cnn::kernels {

namespace {
bool g_simd_enabled = true;

bool cpu_has_avx512() {
#if defined(CNN_HAVE_X86)
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  return has;
#else
  return false;
#endif
}
}  // namespace

bool simd_available() { return g_simd_enabled && cpu_has_avx512(); }
void set_simd_enabled(bool on) { g_simd_enabled = on; }

bool conv_uses_direct(int stride, int wo, int c_in, int kh, int kw) {
  if (!simd_available() || stride != 1 || c_in * kh * kw > 600) return false;
  const int lanes = 8 * ((wo + 7) / 8);
  return wo * 10 >= lanes * 6;  // at least 60% of the vector lanes do useful work (wo = 5, 6, 7, 8, 10, …)
}

// The widest kernel row the channel-vector weight-gradient tiles are instantiated for.
constexpr int kMaxCvKW = 6;

bool conv_da_as_forward(int wo, int w_in) {
  auto fill = [](int w) { return double(w) / (8 * ((w + 7) / 8)); };
  return fill(w_in) > fill(wo) + 0.2;
}

// Portable versions of the two direct kernels: the same sums as plain loops (used only when the caller asks for the
// direct path on a CPU without AVX-512, e.g. in tests).
namespace {
void conv_forward_scalar(const float* x, int C, int H, int W, const float* w, int O, int kh, int kw,
                         const float* bias, float* z, float* relu, int ho, int wo) {
  for (int o = 0; o < O; ++o) {
    float* zo = z + std::size_t(o) * ho * wo;
    for (int p = 0; p < ho * wo; ++p) zo[p] = bias ? bias[o] : 0.0f;
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j) {
          const float wv = w[((std::size_t(o) * C + c) * kh + i) * kw + j];
          for (int y = 0; y < ho; ++y) {
            const float* xr = x + (std::size_t(c) * H + y + i) * W + j;
            for (int xo = 0; xo < wo; ++xo) zo[y * wo + xo] += wv * xr[xo];
          }
        }
    if (relu)
      for (int p = 0; p < ho * wo; ++p) relu[std::size_t(o) * ho * wo + p] = zo[p] >= 0.0f ? zo[p] : 0.0f;
  }
}

void conv_weight_grad_scalar(const float* x, int C, int H, int W, const float* dz, int O, int kh, int kw, int ho,
                             int wo, float* dw) {
  for (int o = 0; o < O; ++o)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j) {
          float s = 0.0f;
          for (int y = 0; y < ho; ++y) {
            const float* xr = x + (std::size_t(c) * H + y + i) * W + j;
            const float* d = dz + (std::size_t(o) * ho + y) * wo;
            for (int xo = 0; xo < wo; ++xo) s += d[xo] * xr[xo];
          }
          dw[((std::size_t(o) * C + c) * kh + i) * kw + j] += s;
        }
}
}  // namespace

#if defined(CNN_HAVE_X86)
namespace {

// One register tile of the forward pass: OT output channels (starting at w, bias, z) × PT blocks of ≤ 8 pixels.
// Kernel rows i outside [i0, i1) would only read rows of x that are known to be zero, and are skipped.
// Rows of at least 8 pixels need no masks (Masked = false): their last block is moved back to end at the row's end,
// overlapping the block before it, whose pixels it then writes again with the same values (the masked loads cost
// a mask-register reload per block and tap: 57 → 75 GFLOP/s on LeNet-5's C1).
template <int OT, int PT, bool Masked>
CNN_AVX512 void forward_tile(const float* x, int C, int HW, int W, const float* w, int CKK, int i0, int i1, int kh,
                             int kw, const float* bias, const int* in_off, const int* out_off, const __mmask8* mask,
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
          v[p] = Masked ? _mm256_maskz_loadu_ps(mask[p], xr + in_off[p] + j) : _mm256_loadu_ps(xr + in_off[p] + j);
#pragma GCC unroll 8
        for (int o = 0; o < OT; ++o) {
          const __m256 wv = _mm256_set1_ps(wr[o * CKK + j]);
#pragma GCC unroll 4
          for (int p = 0; p < PT; ++p) acc[o][p] = _mm256_fmadd_ps(wv, v[p], acc[o][p]);
        }
      }
    }
  const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int o = 0; o < OT; ++o)
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) {
      const __m256 r = relu ? _mm256_maskz_mov_ps(_mm256_cmp_ps_mask(acc[o][p], zero, _CMP_GE_OQ), acc[o][p])
                            : zero;  // z ≥ 0 ? z : 0 (NaN → 0, as the seeds)
      if constexpr (Masked) {
        _mm256_mask_storeu_ps(z + o * plane_out + out_off[p], mask[p], acc[o][p]);
        if (relu) _mm256_mask_storeu_ps(relu + o * plane_out + out_off[p], mask[p], r);
      } else {
        _mm256_storeu_ps(z + o * plane_out + out_off[p], acc[o][p]);
        if (relu) _mm256_storeu_ps(relu + o * plane_out + out_off[p], r);
      }
    }
}

using ForwardTile = void (*)(const float*, int, int, int, const float*, int, int, int, int, int, const float*,
                             const int*, const int*, const __mmask8*, float*, float*, int);
constexpr int kMaxOT = 8, kMaxPT = 4;
#define CNN_FWD_ROW(ot, m) \
  {&forward_tile<ot, 1, m>, &forward_tile<ot, 2, m>, &forward_tile<ot, 3, m>, &forward_tile<ot, 4, m>}
#define CNN_FWD(m)                                                                                              \
  {CNN_FWD_ROW(1, m), CNN_FWD_ROW(2, m), CNN_FWD_ROW(3, m), CNN_FWD_ROW(4, m), CNN_FWD_ROW(5, m), CNN_FWD_ROW(6, m), \
   CNN_FWD_ROW(7, m), CNN_FWD_ROW(8, m)}
const ForwardTile kForward[2][kMaxOT][kMaxPT] = {CNN_FWD(false), CNN_FWD(true)};  // [masked][OT − 1][PT − 1]
#undef CNN_FWD
#undef CNN_FWD_ROW

// An 8×8 transpose: c[k][l] = r[l][k] (8 images' values at 8 positions become 8 positions' vectors of 8 images; 8
// pixels of 8 channels become 8 channels' rows of 8 pixels)
CNN_AVX512 inline void transpose8(const __m256 r[8], __m256 c[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  c[0] = _mm256_permute2f128_ps(u0, u4, 0x20), c[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  c[2] = _mm256_permute2f128_ps(u2, u6, 0x20), c[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  c[4] = _mm256_permute2f128_ps(u0, u4, 0x31), c[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  c[6] = _mm256_permute2f128_ps(u2, u6, 0x31), c[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// dst[c·ld_dst + r] = src[r·ld_src + c] over the whole 8×8 blocks of a rows × cols matrix
CNN_AVX512 void transpose_blocks(const float* src, int rows, int cols, std::size_t ld_src, float* dst,
                                 std::size_t ld_dst) {
  for (int r0 = 0; r0 + 8 <= rows; r0 += 8)
    for (int c0 = 0; c0 + 8 <= cols; c0 += 8) {
      __m256 r[8], c[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + std::size_t(r0 + k) * ld_src + c0);
      transpose8(r, c);
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + std::size_t(c0 + k) * ld_dst + r0, c[k]);
    }
}

CNN_AVX512 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One register tile of the weight gradient: OT output channels (dz and dw start there) × KT kernel taps, summed over
// every output pixel of `images` images (so the horizontal sums at the end are paid once per chunk of the batch).
template <int OT, int KT>
CNN_AVX512 void weight_grad_tile(const float* x, std::size_t x_stride, const int* tap, int W, const float* dz,
                                 std::size_t dz_stride, int plane_out, int ho, int wo, int images, float* dw, int CKK) {
  __m256 acc[OT][KT];
#pragma GCC unroll 6
  for (int o = 0; o < OT; ++o)
#pragma GCC unroll 4
    for (int k = 0; k < KT; ++k) acc[o][k] = _mm256_setzero_ps();
  // 8 pixels from x0: dZ lanes outside dz_mask are zeroed, x lanes outside x_mask are not read
  const auto block = [&](const float* xp, const float* dzp, __mmask8 dz_mask, __mmask8 x_mask) CNN_AVX512 {
    __m256 d[OT];
#pragma GCC unroll 6
    for (int o = 0; o < OT; ++o) d[o] = _mm256_maskz_loadu_ps(dz_mask, dzp + o * plane_out);
#pragma GCC unroll 4
    for (int k = 0; k < KT; ++k) {
      const __m256 v = _mm256_maskz_loadu_ps(x_mask, xp + tap[k]);
#pragma GCC unroll 6
      for (int o = 0; o < OT; ++o) acc[o][k] = _mm256_fmadd_ps(d[o], v, acc[o][k]);
    }
  };
  // Whole blocks are read without masks; a row's last partial block is moved back to end at the row's end, its
  // lanes that the block before it already counted zeroed in dZ (rows under 8 pixels: masked, in place)
  const int full = wo / 8, rest = wo % 8;
  const __mmask8 all = 0xFF, tail_dz = wo >= 8 ? __mmask8(0xFF << (8 - rest)) : __mmask8((1u << wo) - 1u),
                 tail_x = wo >= 8 ? all : tail_dz;
  const int tail_at = wo >= 8 ? wo - 8 : 0;
  for (int n = 0; n < images; ++n, x += x_stride, dz += dz_stride)
    for (int y = 0; y < ho; ++y) {
      const float* dzr = dz + y * wo;
      const float* xr = x + y * W;
      for (int b = 0; b < full; ++b) block(xr + 8 * b, dzr + 8 * b, all, all);
      if (rest) block(xr + tail_at, dzr + tail_at, tail_dz, tail_x);
    }
#pragma GCC unroll 6
  for (int o = 0; o < OT; ++o)
#pragma GCC unroll 4
    for (int k = 0; k < KT; ++k) dw[o * CKK + k] += hsum(acc[o][k]);
}

using WeightGradTile = void (*)(const float*, std::size_t, const int*, int, const float*, std::size_t, int, int, int,
                                int, float*, int);
constexpr int kMaxWOT = 6, kMaxKT = 4;
#define CNN_WG_ROW(ot) \
  {&weight_grad_tile<ot, 1>, &weight_grad_tile<ot, 2>, &weight_grad_tile<ot, 3>, &weight_grad_tile<ot, 4>}
const WeightGradTile kWeightGrad[kMaxWOT][kMaxKT] = {CNN_WG_ROW(1), CNN_WG_ROW(2), CNN_WG_ROW(3),
                                                     CNN_WG_ROW(4), CNN_WG_ROW(5), CNN_WG_ROW(6)};
#undef CNN_WG_ROW

// One register tile of dA for one kernel tap (i, j): CT input channels × PT blocks of ≤ 8 dZ pixels,
//   acc[c][p] = Σ_o W[o][c][i][j]·dZ[o][block p],  then added onto dA[c][y + i − pt][x + j − pl] (cropped).
// Exactly the multiply-adds of the formula (no products with padding zeros), and the taps of one tile never
// overlap in dA, so the adds do not wait on each other.
template <int CT, int PT>
CNN_AVX512 void input_grad_tile(const float* dz, int O, int plane_out, const float* w, int o_stride, int c_stride,
                                const int* dz_off,
                                const __mmask8* dz_mask, float* const* dst, const __mmask8* dst_mask, int plane_in) {
  __m256 acc[CT][PT];
#pragma GCC unroll 8
  for (int c = 0; c < CT; ++c)
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) acc[c][p] = _mm256_setzero_ps();
  for (int o = 0; o < O; ++o) {
    const float* d = dz + std::size_t(o) * plane_out;
    __m256 v[PT];
#pragma GCC unroll 4
    for (int p = 0; p < PT; ++p) v[p] = _mm256_maskz_loadu_ps(dz_mask[p], d + dz_off[p]);
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
      const __m256 old = _mm256_maskz_loadu_ps(dst_mask[p], at);
      _mm256_mask_storeu_ps(at, dst_mask[p], _mm256_add_ps(old, acc[c][p]));
    }
  }
}

using InputGradTile = void (*)(const float*, int, int, const float*, int, int, const int*, const __mmask8*,
                               float* const*, const __mmask8*, int);
#define CNN_IG_ROW(ct) {&input_grad_tile<ct, 1>, &input_grad_tile<ct, 2>, &input_grad_tile<ct, 3>, &input_grad_tile<ct, 4>}
const InputGradTile kInputGrad[6][4] = {CNN_IG_ROW(1), CNN_IG_ROW(2), CNN_IG_ROW(3),
                                        CNN_IG_ROW(4), CNN_IG_ROW(5), CNN_IG_ROW(6)};
#undef CNN_IG_ROW

// Splits `total` into tiles of at most `max_tile`, as even as possible: the size of every tile but the last.
int even_tile(int total, int max_tile) {
  const int tiles = (total + max_tile - 1) / max_tile;
  return (total + tiles - 1) / tiles;
}

// ---- channel-vector kernels: 8 output channels per vector (for short rows and O a multiple of 8) ------------
// One row tile of the forward pass: XT consecutive output pixels × OV vectors of 8 output channels,
//   acc[p][v] = Σ_c Σ_i Σ_j x[c][y + i][x0 + p + j] · wT[c][i][j][8v .. 8v + 7]
// (one broadcast input pixel feeds OV multiply-adds; every lane does useful work whatever the row length).
template <int XT, int OV>
CNN_AVX512 void forward_cv_tile(const float* x, int C, int HW, int W, const float* wT, int O, int kh, int kw,
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
          const __m256 xv = _mm256_broadcast_ss(xr + p);
#pragma GCC unroll 2
          for (int v = 0; v < OV; ++v) acc[p][v] = _mm256_fmadd_ps(xv, wv[v], acc[p][v]);
        }
      }
    }
  // back to planes: 8 pixels × 8 channels at a time by an 8×8 transpose, the rest of the row one by one
  constexpr int XV = XT / 8 * 8;
  const __m256 zero = _mm256_setzero_ps();
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
        if (relu) _mm256_storeu_ps(relu + at, _mm256_maskz_mov_ps(_mm256_cmp_ps_mask(c[k], zero, _CMP_GE_OQ), c[k]));
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

using ForwardCvTile = void (*)(const float*, int, int, int, const float*, int, int, int, const float*, float*, float*,
                               int);
constexpr int kMaxXT = 12;
#define CNN_FCV(ov)                                                                                              \
  {&forward_cv_tile<1, ov>, &forward_cv_tile<2, ov>, &forward_cv_tile<3, ov>,  &forward_cv_tile<4, ov>,        \
   &forward_cv_tile<5, ov>, &forward_cv_tile<6, ov>, &forward_cv_tile<7, ov>,  &forward_cv_tile<8, ov>,        \
   &forward_cv_tile<9, ov>, &forward_cv_tile<10, ov>, &forward_cv_tile<11, ov>, &forward_cv_tile<12, ov>}
const ForwardCvTile kForwardCv[2][kMaxXT] = {CNN_FCV(1), CNN_FCV(2)};
#undef CNN_FCV

// One tile of the weight gradient over one image: R kernel rows (from i0) × KW taps × OV vectors of 8 output
// channels, accumulated onto dwT[c][i][j][o] (read at the start, written at the end: no horizontal sums at all):
//   dwT[c][i0 + r][j][8v ..] += Σ_y Σ_x x[c][y + i0 + r][x + j] · dzT[y][x][8v ..]
template <int KW, int R, int OV>
CNN_AVX512 void weight_grad_cv_tile(const float* x, int W, const float* dzT, int O, int ho, int wo, float* dwT) {
  if constexpr (KW * R * OV <= 24) {
    __m256 acc[R][KW][OV];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 6
      for (int j = 0; j < KW; ++j)
#pragma GCC unroll 2
        for (int v = 0; v < OV; ++v) acc[r][j][v] = _mm256_loadu_ps(dwT + std::size_t(r * KW + j) * O + 8 * v);
    for (int y = 0; y < ho; ++y) {
      const float* xr = x + std::size_t(y) * W;
      const float* d = dzT + std::size_t(y) * wo * O;
      for (int xo = 0; xo < wo; ++xo, ++xr, d += O) {
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

using WeightGradCvTile = void (*)(const float*, int, const float*, int, int, int, float*);
constexpr int kMaxCvR = 4;
#define CNN_WCV_R(kw, ov) \
  {&weight_grad_cv_tile<kw, 1, ov>, &weight_grad_cv_tile<kw, 2, ov>, &weight_grad_cv_tile<kw, 3, ov>, &weight_grad_cv_tile<kw, 4, ov>}
#define CNN_WCV(ov) {CNN_WCV_R(1, ov), CNN_WCV_R(2, ov), CNN_WCV_R(3, ov), CNN_WCV_R(4, ov), CNN_WCV_R(5, ov), CNN_WCV_R(6, ov)}
const WeightGradCvTile kWeightGradCv[2][kMaxCvKW][kMaxCvR] = {CNN_WCV(1), CNN_WCV(2)};
#undef CNN_WCV
#undef CNN_WCV_R

// ---- batch-vector kernels: lane l of every vector belongs to image l of a group of 8 ----------------------------
// One tile of dA for kernel row i: CT input channels × the PX + KW − 1 dA pixels that PX consecutive dZ pixels of
// one row reach through the KW taps of that kernel row,
//   acc[c][d] = Σ_o Σ_(p + j = d) W[o][c][i][j]·dZ[o][y][x0 + p],  then added onto dA[c][y + i][x0 + d].
template <int CT, int PX, int KW>
CNN_AVX512 void input_grad_bv_tile(const float* dzb, int O, int plane_out, const float* w, int CKK, int KK,
                                   float* dab, int plane_in) {
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
constexpr int kMaxBvKW = 5, kMaxBvCT = 3, kBvPX = 4;
template <int CT, int KW>
constexpr std::array<InputGradBvTile, kBvPX> bv_px_row() {
  return {&input_grad_bv_tile<CT, 1, KW>, &input_grad_bv_tile<CT, 2, KW>, &input_grad_bv_tile<CT, 3, KW>,
          &input_grad_bv_tile<CT, 4, KW>};
}
template <int KW>
constexpr std::array<std::array<InputGradBvTile, kBvPX>, kMaxBvCT> bv_ct_rows() {
  return {bv_px_row<1, KW>(), bv_px_row<2, KW>(), bv_px_row<3, KW>()};
}
// [KW − 1][CT − 1][PX − 1]
const std::array<std::array<std::array<InputGradBvTile, kBvPX>, kMaxBvCT>, kMaxBvKW> kInputGradBv = {
    bv_ct_rows<1>(), bv_ct_rows<2>(), bv_ct_rows<3>(), bv_ct_rows<4>(), bv_ct_rows<5>()};

CNN_AVX512 void input_grad_bv(const float* dz, std::size_t dz_stride, int images, int O, int ho, int wo,
                              const float* w, int C, int kh, int kw, float* dx, std::size_t dx_stride, float* work) {
  const int H = ho + kh - 1, W = wo + kw - 1, plane_out = ho * wo, plane_in = H * W, KK = kh * kw, CKK = C * KK;
  const std::size_t nz = std::size_t(O) * plane_out, na = std::size_t(C) * plane_in;
  float* dzb = work;            // dzb[o][y][x][l] = dZ of image l
  float* dab = work + 8 * nz;   // dab[c][y][x][l] = dA of image l
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
#endif

void conv_forward_direct(const float* x, int C, int H, int W, const float* w, int O, int kh, int kw,
                         const float* bias, float* z, float* relu, int ho, int wo, int nz_top, int nz_rows) {
  if (nz_rows < 0) nz_top = 0, nz_rows = H;
#if defined(CNN_HAVE_X86)
  if (simd_available()) {
    const int CKK = C * kh * kw, plane_out = ho * wo, xb = (wo + 7) / 8, blocks = ho * xb;
    const int ot = even_tile(O, kMaxOT);
    const int pt = std::clamp(24 / ot, 1, kMaxPT);
    const bool masked = wo < 8;
    int in_off[kMaxPT], out_off[kMaxPT];
    __mmask8 mask[kMaxPT];
    for (int o0 = 0; o0 < O; o0 += ot) {
      const int otc = std::min(ot, O - o0);
      for (int b0 = 0; b0 < blocks; b0 += pt) {
        const int ptc = std::min(pt, blocks - b0);
        for (int p = 0; p < ptc; ++p) {
          const int y = (b0 + p) / xb, x0 = masked ? ((b0 + p) % xb) * 8 : std::min(((b0 + p) % xb) * 8, wo - 8);
          in_off[p] = y * W + x0;
          out_off[p] = y * wo + x0;
          mask[p] = __mmask8((1u << std::min(8, wo - x0)) - 1u);
        }
        // rows y_first..y_last of this tile read x rows y + i; only rows [nz_top, nz_top + nz_rows) can be nonzero
        const int y_first = b0 / xb, y_last = (b0 + ptc - 1) / xb;
        const int i0 = std::max(0, nz_top - y_last), i1 = std::min(kh, nz_top + nz_rows - y_first);
        if (i1 <= i0) {  // nothing but zeros under this tile: z = bias
          for (int o = 0; o < otc; ++o)
            for (int p = 0; p < ptc; ++p)
              for (int l = 0; l < 8 && out_off[p] % wo + l < wo; ++l) {
                const std::size_t at = std::size_t(o0 + o) * plane_out + out_off[p] + l;
                z[at] = bias ? bias[o0 + o] : 0.0f;
                if (relu) relu[at] = z[at] >= 0.0f ? z[at] : 0.0f;
              }
          continue;
        }
        kForward[masked][otc - 1][ptc - 1](x, C, H * W, W, w + std::size_t(o0) * CKK, CKK, i0, i1, kh, kw, bias ? bias + o0 : nullptr,
                                   in_off, out_off, mask, z + std::size_t(o0) * plane_out,
                                   relu ? relu + std::size_t(o0) * plane_out : nullptr, plane_out);
      }
    }
    return;
  }
#endif
  conv_forward_scalar(x, C, H, W, w, O, kh, kw, bias, z, relu, ho, wo);
}

bool conv_weight_grad_uses_channel_vectors(int O, int kw) {
  // O is padded to whole vectors: worth it while at least ¾ of the lanes are real channels (8, 12, 16, 24, …);
  // for 6 channels (seed5's and LeNet-5's C1: 76 against 53 GFLOP/s) the row kernels win
  return simd_available() && kw <= kMaxCvKW && O >= 8 && 4 * O >= 3 * (8 * ((O + 7) / 8));
}

bool conv_forward_uses_channel_vectors(int O, int wo, int kw) {
  if (!simd_available() || O % 8 != 0 || kw > kMaxCvKW) return false;
  return double(wo) / (8 * ((wo + 7) / 8)) < 0.8;  // short rows that leave vector lanes idle (LeNet-5's C3: 10 of 16)
}

void conv_forward_cv(const float* x, int C, int H, int W, const float* wT, int O, int kh, int kw, const float* bias,
                     float* z, float* relu, int ho, int wo) {
#if defined(CNN_HAVE_X86)
  const int plane_out = ho * wo, xt = even_tile(wo, kMaxXT);
  for (int o0 = 0; o0 < O; o0 += 16) {
    const int ov = std::min(2, (O - o0) / 8);
    for (int y = 0; y < ho; ++y)
      for (int x0 = 0; x0 < wo; x0 += xt) {
        const int xtc = std::min(xt, wo - x0);
        const std::size_t at = std::size_t(o0) * plane_out + std::size_t(y) * wo + x0;
        kForwardCv[ov - 1][xtc - 1](x + std::size_t(y) * W + x0, C, H * W, W, wT + o0, O, kh, kw,
                                    bias ? bias + o0 : nullptr, z + at, relu ? relu + at : nullptr, plane_out);
      }
  }
#else
  (void)x, (void)C, (void)H, (void)W, (void)wT, (void)O, (void)kh, (void)kw, (void)bias, (void)z, (void)relu,
      (void)ho, (void)wo;
  std::abort();  // unreachable: conv_forward_uses_channel_vectors is false without AVX-512
#endif
}

void conv_weight_grad_cv(const float* x, int C, int H, int W, const float* dzT, int O, int kh, int kw, int ho, int wo,
                         float* dwT) {
#if defined(CNN_HAVE_X86)
  for (int o0 = 0; o0 < O; o0 += 16) {
    const int ov = std::min(2, (O - o0) / 8);
    const int rmax = std::clamp(24 / (kw * ov), 1, kMaxCvR), rt = even_tile(kh, rmax);
    for (int c = 0; c < C; ++c)
      for (int i0 = 0; i0 < kh; i0 += rt) {
        const int rc = std::min(rt, kh - i0);
        kWeightGradCv[ov - 1][kw - 1][rc - 1](x + (std::size_t(c) * H + i0) * W, W, dzT + o0, O, ho, wo,
                                              dwT + (std::size_t(c) * kh + i0) * kw * O + o0);
      }
  }
#else
  (void)x, (void)C, (void)H, (void)W, (void)dzT, (void)O, (void)kh, (void)kw, (void)ho, (void)wo, (void)dwT;
  std::abort();  // unreachable: conv_weight_grad_uses_channel_vectors is false without AVX-512
#endif
}

void conv_input_grad_direct(const float* dz, int O, int ho, int wo, const float* w, int C, int kh, int kw, int H,
                            int W, int pad_top, int pad_left, float* dx) {
  std::fill(dx, dx + std::size_t(C) * H * W, 0.0f);
#if defined(CNN_HAVE_X86)
  if (simd_available()) {
    const int KK = kh * kw, CKK = C * KK, plane_out = ho * wo, plane_in = H * W, xb = (wo + 7) / 8;
    const int blocks = ho * xb, ct = even_tile(C, 6), pt = 4;
    int dz_off[4];
    __mmask8 dz_mask[4], dst_mask[4];
    float* dst[4];
    for (int i = 0; i < kh; ++i)
      for (int j = 0; j < kw; ++j)
        for (int b0 = 0, y = 0, bx = 0; b0 < blocks; b0 += pt) {  // block b0 + p: row y, x from 8·bx
          const int ptc = std::min(pt, blocks - b0);
          for (int p = 0; p < ptc; ++p, bx = bx + 1 == xb ? 0 : bx + 1, y += bx == 0) {
            const int x0 = bx * 8, width = std::min(8, wo - x0);
            dz_off[p] = y * wo + x0;
            dz_mask[p] = __mmask8((1u << width) - 1u);
            const int ty = y + i - pad_top, tx = x0 + j - pad_left;  // where lane 0 lands in dA
            // lanes l < width with 0 ≤ tx + l < W
            const int lo = std::max(0, -tx), hi = std::min(width, W - tx);
            const unsigned m = hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
            dst_mask[p] = __mmask8(m);
            dst[p] = (ty >= 0 && ty < H && m) ? dx + std::size_t(ty) * W + tx : nullptr;
          }
          for (int c0 = 0; c0 < C; c0 += ct) {
            const int ctc = std::min(ct, C - c0);
            float* d[4];
            for (int p = 0; p < ptc; ++p) d[p] = dst[p] ? dst[p] + std::size_t(c0) * plane_in : nullptr;
            kInputGrad[ctc - 1][ptc - 1](dz, O, plane_out, w + std::size_t(c0) * KK + i * kw + j, CKK, KK, dz_off,
                                         dz_mask, d, dst_mask, plane_in);
          }
        }
    return;
  }
#endif
  for (int o = 0; o < O; ++o)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < kh; ++i)
        for (int j = 0; j < kw; ++j) {
          const float wv = w[((std::size_t(o) * C + c) * kh + i) * kw + j];
          for (int y = 0; y < ho; ++y) {
            const int ty = y + i - pad_top;
            if (ty < 0 || ty >= H) continue;
            for (int x = 0; x < wo; ++x) {
              const int tx = x + j - pad_left;
              if (tx >= 0 && tx < W) dx[(std::size_t(c) * H + ty) * W + tx] += wv * dz[(std::size_t(o) * ho + y) * wo + x];
            }
          }
        }
}

void conv_weight_grad_direct(const float* x, std::size_t x_stride, int C, int H, int W, const float* dz,
                             std::size_t dz_stride, int O, int kh, int kw, int ho, int wo, int images, float* dw) {
#if defined(CNN_HAVE_X86)
  if (simd_available()) {
    const int CKK = C * kh * kw, plane_out = ho * wo;
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
        kWeightGrad[otc - 1][ktc - 1](x, x_stride, tap, W, dz + std::size_t(o0) * plane_out, dz_stride, plane_out, ho,
                                      wo, images, dw + std::size_t(o0) * CKK + k0, CKK);
      }
    }
    return;
  }
#endif
  for (int n = 0; n < images; ++n)
    conv_weight_grad_scalar(x + n * x_stride, C, H, W, dz + n * dz_stride, O, kh, kw, ho, wo, dw);
}


bool conv_input_grad_uses_batch_vectors(bool padded, int kw, std::size_t work_floats) {
#if defined(CNN_HAVE_X86)
  // the workspace (8 images' dZ and dA per chunk) is kept to 1 MB a chunk: the seed nets need a few tens of KB,
  // a 224×224 layer would need hundreds of MB
  return simd_available() && !padded && kw <= kMaxBvKW && work_floats <= (std::size_t(1) << 18);
#else
  (void)padded, (void)kw, (void)work_floats;
  return false;
#endif
}

std::size_t conv_input_grad_bv_work(int O, int ho, int wo, int C, int kh, int kw) {
  return 8 * (std::size_t(O) * ho * wo + std::size_t(C) * (ho + kh - 1) * (wo + kw - 1));
}

void conv_input_grad_bv(const float* dz, std::size_t dz_stride, int images, int O, int ho, int wo, const float* w,
                        int C, int kh, int kw, float* dx, std::size_t dx_stride, float* work) {
#if defined(CNN_HAVE_X86)
  input_grad_bv(dz, dz_stride, images, O, ho, wo, w, C, kh, kw, dx, dx_stride, work);
#else
  (void)dz, (void)dz_stride, (void)images, (void)O, (void)ho, (void)wo, (void)w, (void)C, (void)kh, (void)kw, (void)dx,
      (void)dx_stride, (void)work;
  std::abort();  // unreachable: conv_input_grad_uses_batch_vectors is false without AVX-512
#endif
}


void transpose(const float* src, int rows, int cols, std::size_t ld_src, float* dst, std::size_t ld_dst) {
  int r0 = 0;
#if defined(CNN_HAVE_X86)
  if (simd_available()) {
    transpose_blocks(src, rows, cols, ld_src, dst, ld_dst);
    r0 = rows / 8 * 8;
    for (int r = 0; r < r0; ++r)  // the columns right of the last whole block
      for (int c = cols / 8 * 8; c < cols; ++c) dst[std::size_t(c) * ld_dst + r] = src[std::size_t(r) * ld_src + c];
  }
#endif
  for (int r = r0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dst[std::size_t(c) * ld_dst + r] = src[std::size_t(r) * ld_src + c];
}
}  // namespace cnn::kernels
