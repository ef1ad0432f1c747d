// Element-wise and pooling kernels: bound by memory, not arithmetic. Plain loops where the compiler vectorises them;
// AVX-512 by hand for 2×2 max pooling (both ways, the argmax kept) and the 8-bit pixel conversion, which it does not
// (and the same 2×2 pooling in AVX2, with vmaskmov for the masks and two 8-float halves for each 16-float vector).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CNN_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define CNN_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace cnn::kernels {

#if defined(__x86_64__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 on its own intrinsics' "undefined" operands
namespace {
// One output row of 2×2 max pooling, stride 2, 8 outputs at a time: the window's four pixels (in row-major order,
// so that a strict > keeps the first maximum on ties and a NaN never wins, exactly as the scalar loop below)
// deinterleaved from one 16-float load per input row. base = the flat index of r0[0] within its map.
CNN_AVX512 void maxpool2x2_row_avx512(const float* r0, const float* r1, int W, int base0, int Wo, float* z, unsigned* g,
                                      bool relu) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int ox = 0; ox < Wo; ox += 8) {
    const int n = std::min(8, Wo - ox);
    const __mmask16 in_mask = __mmask16((1u << (2 * n)) - 1u);
    const __mmask8 out_mask = __mmask8((1u << n) - 1u);
    const __m512 v0 = _mm512_permutexvar_ps(even, _mm512_maskz_loadu_ps(in_mask, r0 + 2 * ox));
    const __m512 v1 = _mm512_permutexvar_ps(even, _mm512_maskz_loadu_ps(in_mask, r1 + 2 * ox));
    const __m256 p00 = _mm512_castps512_ps256(v0),
                 p01 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v0), 1));
    const __m256 p10 = _mm512_castps512_ps256(v1),
                 p11 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v1), 1));
    const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(base0 + 2 * ox), lane2);
    __m256 best = p00;
    __m256i at = base;
    __mmask8 k = _mm256_cmp_ps_mask(p01, best, _CMP_GT_OQ);
    best = _mm256_mask_mov_ps(best, k, p01);
    at = _mm256_mask_mov_epi32(at, k, _mm256_add_epi32(base, _mm256_set1_epi32(1)));
    k = _mm256_cmp_ps_mask(p10, best, _CMP_GT_OQ);
    best = _mm256_mask_mov_ps(best, k, p10);
    at = _mm256_mask_mov_epi32(at, k, _mm256_add_epi32(base, _mm256_set1_epi32(W)));
    k = _mm256_cmp_ps_mask(p11, best, _CMP_GT_OQ);
    best = _mm256_mask_mov_ps(best, k, p11);
    at = _mm256_mask_mov_epi32(at, k, _mm256_add_epi32(base, _mm256_set1_epi32(W + 1)));
    if (relu) {  // max(·, 0) folded in: a window with no positive pixel is all zeros, whose first is the maximum
      const __mmask8 pos = _mm256_cmp_ps_mask(best, _mm256_setzero_ps(), _CMP_GT_OQ);
      best = _mm256_maskz_mov_ps(pos, best);
      at = _mm256_mask_mov_epi32(base, pos, at);
    }
    _mm256_mask_storeu_ps(z + ox, out_mask, best);
    _mm256_mask_storeu_epi32(g + ox, out_mask, at);
  }
}

// The adjoint of maxpool2x2_row_avx512 for one output row: every pixel of the two input rows written (dy at the
// window's argmax, 0 at its other three pixels; times [z ≥ 0] when z0 is not null), so no zero fill and no scatter.
CNN_AVX512 void maxpool2x2_backward_row_avx512(const float* dy, const unsigned* g, const float* z0, const float* z1,
                                               int W, int base0, int Wo, float* d0, float* d1) {
  const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i parity = _mm512_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
  const __m512i parity2 = _mm512_add_epi32(parity, _mm512_set1_epi32(2));
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512 zero = _mm512_setzero_ps();
  for (int ox = 0; ox < Wo; ox += 8) {
    const int n = std::min(8, Wo - ox);
    const __mmask16 in_mask = __mmask16((1u << (2 * n)) - 1u);
    const __mmask8 out_mask = __mmask8((1u << n) - 1u);
    const __m256 grad = _mm256_maskz_loadu_ps(out_mask, dy + ox);
    // where in its window the maximum was: 0, 1 (top row), W, W + 1 (bottom row) → code 0, 1, 2, 3
    __m256i off = _mm256_sub_epi32(_mm256_maskz_loadu_epi32(out_mask, g + ox),
                                   _mm256_add_epi32(_mm256_set1_epi32(base0 + 2 * ox), lane2));
    const __mmask8 bottom = _mm256_cmp_epi32_mask(off, _mm256_set1_epi32(W), _MM_CMPINT_NLT);
    off = _mm256_mask_sub_epi32(off, bottom, off, _mm256_set1_epi32(W - 2));
    const __m512 g16 = _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(grad));
    const __m512i c16 = _mm512_permutexvar_epi32(dup, _mm512_castsi256_si512(off));
    __m512 top = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(c16, parity), g16);
    __m512 bot = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(c16, parity2), g16);
    if (z0) {
      top = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(in_mask, z0 + 2 * ox), zero, _CMP_GE_OQ), top);
      bot = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(in_mask, z1 + 2 * ox), zero, _CMP_GE_OQ), bot);
    }
    _mm512_mask_storeu_ps(d0 + 2 * ox, in_mask, top);
    _mm512_mask_storeu_ps(d1 + 2 * ox, in_mask, bot);
  }
}

// The first n of 8 lanes (AVX2's form of a mask: all 32 bits set).
CNN_AVX2 inline __m256i first_lanes(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// 16 consecutive floats as their 8 even- and 8 odd-indexed ones (lanes past n2 read as 0 and are not read).
CNN_AVX2 inline void load_deinterleaved(const float* p, int n2, __m256& even, __m256& odd) {
  const __m256 lo = _mm256_maskload_ps(p, first_lanes(n2)), hi = _mm256_maskload_ps(p + 8, first_lanes(n2 - 8));
  // shuffle_ps works within 128-bit halves: [0 2 8 10 | 4 6 12 14], put in order by swapping the middle quarters
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

// 8 pooled outputs and their argmax, the first n stored; relu: max(·, 0) folded in (a window with no positive
// pixel is all zeros, whose first pixel, `base`, is the maximum).
CNN_AVX2 inline void store_pooled(__m256 best, __m256i at, __m256i base, int n, bool relu, float* z, unsigned* g) {
  if (relu) {
    const __m256 pos = _mm256_cmp_ps(best, _mm256_setzero_ps(), _CMP_GT_OQ);
    best = _mm256_and_ps(pos, best);
    at = _mm256_blendv_epi8(base, at, _mm256_castps_si256(pos));
  }
  const __m256i out = first_lanes(n);
  _mm256_maskstore_ps(z, out, best);
  _mm256_maskstore_epi32(reinterpret_cast<int*>(g), out, at);
}

// maxpool2x2_row_avx512 in AVX2: the same comparisons in the same order, so the same outputs and argmax.
CNN_AVX2 void maxpool2x2_row_avx2(const float* r0, const float* r1, int W, int base0, int Wo, float* z, unsigned* g,
                                  bool relu) {
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int ox = 0; ox < Wo; ox += 8) {
    const int n = std::min(8, Wo - ox);
    __m256 p00, p01, p10, p11;
    load_deinterleaved(r0 + 2 * ox, 2 * n, p00, p01);
    load_deinterleaved(r1 + 2 * ox, 2 * n, p10, p11);
    const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(base0 + 2 * ox), lane2);
    __m256 best = p00;
    __m256i at = base;
    const auto take = [&](__m256 p, int offset) CNN_AVX2 {
      const __m256 k = _mm256_cmp_ps(p, best, _CMP_GT_OQ);
      best = _mm256_blendv_ps(best, p, k);
      at = _mm256_blendv_epi8(at, _mm256_add_epi32(base, _mm256_set1_epi32(offset)), _mm256_castps_si256(k));
    };
    take(p01, 1);
    take(p10, W);
    take(p11, W + 1);
    store_pooled(best, at, base, n, relu, z + ox, g + ox);
  }
}

// maxpool2x2_backward_row_avx512 in AVX2: every pixel of the two input rows written.
CNN_AVX2 void maxpool2x2_backward_row_avx2(const float* dy, const unsigned* g, const float* z0, const float* z1, int W,
                                           int base0, int Wo, float* d0, float* d1) {
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i dup_lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), dup_hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  const __m256i parity = _mm256_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1);
  const __m256i parity2 = _mm256_add_epi32(parity, _mm256_set1_epi32(2));
  const __m256 zero = _mm256_setzero_ps();
  for (int ox = 0; ox < Wo; ox += 8) {
    const int n = std::min(8, Wo - ox);
    const __m256i out = first_lanes(n), in_lo = first_lanes(2 * n), in_hi = first_lanes(2 * n - 8);
    const __m256 grad = _mm256_maskload_ps(dy + ox, out);
    // where in its window the maximum was: 0, 1 (top row), W, W + 1 (bottom row) → code 0, 1, 2, 3
    __m256i off = _mm256_sub_epi32(_mm256_maskload_epi32(reinterpret_cast<const int*>(g + ox), out),
                                   _mm256_add_epi32(_mm256_set1_epi32(base0 + 2 * ox), lane2));
    const __m256i bottom = _mm256_cmpgt_epi32(off, _mm256_set1_epi32(W - 1));
    off = _mm256_sub_epi32(off, _mm256_and_si256(bottom, _mm256_set1_epi32(W - 2)));
    const __m256i mask_lanes[2] = {in_lo, in_hi};
    const __m256i dup[2] = {dup_lo, dup_hi};
    for (int h = 0; h < 2; ++h) {  // output pixels 4h .. 4h + 3, input pixels 8h .. 8h + 7 of the block
      const __m256 g8 = _mm256_permutevar8x32_ps(grad, dup[h]);
      const __m256i c8 = _mm256_permutevar8x32_epi32(off, dup[h]);
      __m256 top = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(c8, parity)), g8);
      __m256 bot = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(c8, parity2)), g8);
      const int at = 2 * ox + 8 * h;
      if (z0) {
        top = _mm256_and_ps(_mm256_cmp_ps(_mm256_maskload_ps(z0 + at, mask_lanes[h]), zero, _CMP_GE_OQ), top);
        bot = _mm256_and_ps(_mm256_cmp_ps(_mm256_maskload_ps(z1 + at, mask_lanes[h]), zero, _CMP_GE_OQ), bot);
      }
      _mm256_maskstore_ps(d0 + at, mask_lanes[h], top);
      _mm256_maskstore_ps(d1 + at, mask_lanes[h], bot);
    }
  }
}

// One output row of k×k max pooling every 2 pixels (AlexNet's overlapping 3/2), 8 outputs at a time: the window's
// pixels in row-major order with a strict >, as the scalar loop, so the same outputs and argmax. (Both vector sets
// run it: it reads each pixel k times, so it is bound by the comparisons, not by the vector width.)
CNN_AVX2 void maxpool_stride2_row_avx2(const float* a, int W, int k, int oy, int Wo, float* z, unsigned* g, bool relu) {
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int ox = 0; ox < Wo; ox += 8) {
    const int n = std::min(8, Wo - ox);
    const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(2 * oy * W + 2 * ox), lane2);
    __m256 best = _mm256_setzero_ps(), odd;
    __m256i at = base;
    for (int i = 0; i < k; ++i) {
      const float* r = a + (2 * oy + i) * W + 2 * ox;
      for (int j = 0; j < k; ++j) {
        __m256 v;  // lane l: r[2l + j], reading no further than the last window's pixel
        load_deinterleaved(r + j, 2 * n - 1, v, odd);
        if (i == 0 && j == 0) {
          best = v;
          continue;
        }
        const __m256 take = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
        best = _mm256_blendv_ps(best, v, take);
        at = _mm256_blendv_epi8(at, _mm256_add_epi32(base, _mm256_set1_epi32(i * W + j)), _mm256_castps_si256(take));
      }
    }
    store_pooled(best, at, base, n, relu, z + ox, g + ox);
  }
}

CNN_AVX512 void scale_u8_avx512(const std::uint8_t* src, std::size_t n, float scale, float* dst) {
  const __m512 s = _mm512_set1_ps(scale);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm512_storeu_ps(dst + i, _mm512_mul_ps(_mm512_cvtepi32_ps(v), s));
  }
  for (; i < n; ++i) dst[i] = float(src[i]) * scale;
}
}  // namespace
#pragma GCC diagnostic pop
#endif

// dst = src·scale: the conversion is exact, so the vector and scalar loops give the same bits. (Plain C++ stays
// scalar here: a uint8_t store may alias anything, so the compiler cannot vectorise it; it was 40 µs a batch.)
void scale_u8(const std::uint8_t* src, std::size_t n, float scale, float* dst) {
#if defined(__x86_64__)
  if (has_avx512(isa())) {
    scale_u8_avx512(src, n, scale, dst);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) dst[i] = float(src[i]) * scale;
}

// Σ x_i in a fixed order: eight interleaved partial sums (one vector register), then added pairwise. Not a plain
// left-to-right loop because that one cannot be vectorised without reassociating (and so changing) the sum.
float sum(const float* x, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += x[i];
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

// y = x where x ≥ 0, else 0
void relu_forward(const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] >= 0.0f ? x[i] : 0.0f;
}

// dx = dy where x ≥ 0, else 0
// (dy is read whatever the sign: a load under the condition would keep the compiler from vectorising the loop and
// leave a branch that random signs mispredict half the time)
void relu_backward(const float* x, const float* dy, float* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float g = dy[i];
    dx[i] = x[i] >= 0.0f ? g : 0.0f;
  }
}

void maxpool_backward(const float* dy, const unsigned* arg, const float* z, int planes, int H, int W, int k, int stride,
                      int Ho, int Wo, float* dx) {
  const std::size_t HW = std::size_t(H) * W, HWo = std::size_t(Ho) * Wo;
#if defined(__x86_64__)
  // (rows of 8 outputs or more: for shorter ones the zero fill and scatter below is quicker)
  if (k == 2 && stride == 2 && Wo >= 8 && isa() != Isa::portable) {
    const auto row = has_avx512(isa()) ? maxpool2x2_backward_row_avx512 : maxpool2x2_backward_row_avx2;
    for (int m = 0; m < planes; ++m) {
      float* d = dx + m * HW;
      const float* zm = z ? z + m * HW : nullptr;
      for (int oy = 0; oy < Ho; ++oy) {
        float* d0 = d + 2 * oy * W;
        row(dy + m * HWo + oy * Wo, arg + m * HWo + oy * Wo, zm ? zm + 2 * oy * W : nullptr,
            zm ? zm + (2 * oy + 1) * W : nullptr, W, 2 * oy * W, Wo, d0, d0 + W);
        if (W > 2 * Wo) d0[W - 1] = d0[2 * W - 1] = 0.0f;  // an odd last column belongs to no window
      }
      std::fill(d + 2 * Ho * W, d + HW, 0.0f);  // an odd last row likewise
    }
    return;
  }
#endif
  (void)k, (void)stride;
  std::fill(dx, dx + planes * HW, 0.0f);
  for (int m = 0; m < planes; ++m) {
    float* d = dx + m * HW;
    const float* g = dy + m * HWo;
    const unsigned* a = arg + m * HWo;
    if (z) {
      const float* zm = z + m * HW;
      for (std::size_t p = 0; p < HWo; ++p)  // branch-free: a data-dependent branch is mispredicted half the time
        d[a[p]] += std::bit_cast<float>(std::bit_cast<unsigned>(g[p]) & (0u - unsigned(zm[a[p]] >= 0.0f)));
    } else {
      for (std::size_t p = 0; p < HWo; ++p) d[a[p]] += g[p];
    }
  }
}

// y = max(window), arg = where it was (the first maximum in row-major order on ties, as the reference)
void maxpool_forward(const float* x, int planes, int H, int W, int k, int stride, int Ho, int Wo, float* y,
                     unsigned* arg, bool relu) {
  if (k == 2 && stride == 2) {
#if defined(__x86_64__)
    const Isa set = isa();
    const bool simd = set != Isa::portable;
    const auto vector_row = has_avx512(set) ? maxpool2x2_row_avx512 : maxpool2x2_row_avx2;
#endif
    for (int m = 0; m < planes; ++m) {
      const float* a = x + std::size_t(m) * H * W;
      float* z = y + std::size_t(m) * Ho * Wo;
      unsigned* g = arg + std::size_t(m) * Ho * Wo;
      for (int oy = 0; oy < Ho; ++oy) {
        const float* r0 = a + 2 * oy * W;
        const float* r1 = r0 + W;
#if defined(__x86_64__)
        if (simd) {
          vector_row(r0, r1, W, 2 * oy * W, Wo, z + oy * Wo, g + oy * Wo, relu);
          continue;
        }
#endif
        for (int ox = 0; ox < Wo; ++ox) {
          const int base = 2 * oy * W + 2 * ox;
          float best = r0[2 * ox];
          unsigned at = unsigned(base);
          if (r0[2 * ox + 1] > best) best = r0[2 * ox + 1], at = unsigned(base + 1);
          if (r1[2 * ox] > best) best = r1[2 * ox], at = unsigned(base + W);
          if (r1[2 * ox + 1] > best) best = r1[2 * ox + 1], at = unsigned(base + W + 1);
          const bool keep = !relu || best > 0.0f;  // relu: max(·, 0) folded in, as in the vector kernel
          z[oy * Wo + ox] = keep ? best : 0.0f;
          g[oy * Wo + ox] = keep ? at : unsigned(base);
        }
      }
    }
    return;
  }
#if defined(__x86_64__)
  if (stride == 2 && isa() != Isa::portable) {
    for (int m = 0; m < planes; ++m)
      for (int oy = 0; oy < Ho; ++oy)
        maxpool_stride2_row_avx2(x + std::size_t(m) * H * W, W, k, oy, Wo, y + (std::size_t(m) * Ho + oy) * Wo,
                                 arg + (std::size_t(m) * Ho + oy) * Wo, relu);
    return;
  }
#endif
  for (int m = 0; m < planes; ++m) {
    const float* a = x + std::size_t(m) * H * W;
    float* z = y + std::size_t(m) * Ho * Wo;
    unsigned* g = arg + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        int best = (oy * stride) * W + ox * stride;
        for (int i = 0; i < k; ++i)
          for (int j = 0; j < k; ++j) {
            const int idx = (oy * stride + i) * W + ox * stride + j;
            if (a[idx] > a[best]) best = idx;
          }
        const bool keep = !relu || a[best] > 0.0f;
        z[oy * Wo + ox] = keep ? a[best] : 0.0f;
        g[oy * Wo + ox] = keep ? unsigned(best) : unsigned((oy * stride) * W + ox * stride);
      }
  }
}

}  // namespace cnn::kernels

#include <algorithm>
#include <cmath>

namespace cnn::kernels {

// L = −log O_t = −(z_t − m − log Σ_j e^(z_j − m));  dL/dz_i = (O_i − [i = t]) / N
// With label smoothing ε the target is q = (1 − ε)·onehot(t) + ε/K: L = −Σ_i q_i log O_i, dL/dz_i = (O_i − q_i) / N.
double softmax_cross_entropy(const float* z, const int* labels, int N, int K, float* dz, float smoothing, int scale_n) {
  if (scale_n <= 0) scale_n = N;
  double total = 0.0;
  const float off = smoothing / float(K), on = 1.0f - smoothing + off;
  for (int n = 0; n < N; ++n) {
    const float* zn = z + std::size_t(n) * K;
    const float m = *std::max_element(zn, zn + K);
    double sum = 0.0;
    for (int i = 0; i < K; ++i) sum += std::exp(double(zn[i]) - m);
    const double log_sum = std::log(sum);
    if (smoothing == 0.0f) {
      total += -(double(zn[labels[n]]) - m - log_sum);
    } else {
      double all = 0.0;  // Σ_i log O_i
      for (int i = 0; i < K; ++i) all += double(zn[i]) - m - log_sum;
      total += -(1.0 - smoothing) * (double(zn[labels[n]]) - m - log_sum) - double(smoothing) / K * all;
    }
    if (dz) {
      float* d = dz + std::size_t(n) * K;
      double fsum = 0.0;  // softmax() of activation.h: float exponentials, summed in double
      for (int i = 0; i < K; ++i) {
        d[i] = std::exp(zn[i] - m);
        fsum += d[i];
      }
      const float inv = float(1.0 / fsum);
      if (smoothing == 0.0f)
        for (int i = 0; i < K; ++i) d[i] = (d[i] * inv - (i == labels[n] ? 1.0f : 0.0f)) / float(scale_n);
      else
        for (int i = 0; i < K; ++i) d[i] = (d[i] * inv - (i == labels[n] ? on : off)) / float(scale_n);
    }
  }
  return total;
}

}  // namespace cnn::kernels
