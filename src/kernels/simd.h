// What the AVX-512 kernel files share (src/kernels/*.cpp only): the target attribute their hot functions carry,
// an 8×8 transpose of vectors, a horizontal sum, and how a length is cut into register tiles.
//
// Vectors are 8 floats (ymm registers with the AVX-512VL instructions: masked loads and stores, 32 registers). On
// this project's AMD Zen 4 a 256-bit FMA issues twice per cycle, so 8-wide vectors reach the same peak as 16-wide
// ones while wasting less of a 24- or 8-pixel row. The functions are compiled for AVX-512 by attribute, not by a
// build flag, so one binary runs everywhere and the plans (conv_plan.cpp) choose them only where cpu.cpp finds it.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>
#define CNN_HAVE_X86 1
#define CNN_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#endif

namespace cnn::kernels {

// Splits `total` into tiles of at most `max_tile`, as even as possible: the size of every tile but the last.
inline int even_tile(int total, int max_tile) {
  const int tiles = (total + max_tile - 1) / max_tile;
  return (total + tiles - 1) / tiles;
}

#if defined(CNN_HAVE_X86)
// c[k][l] = r[l][k]: 8 images' values at 8 positions become 8 positions' vectors of 8 images; 8 pixels of 8
// channels become 8 channels' rows of 8 pixels.
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

CNN_AVX512 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

}  // namespace cnn::kernels
