// What the vector kernel files share (src/kernels/*.cpp only): the instruction set they are compiled for, masked
// loads and stores, an 8×8 transpose of vectors, a horizontal sum, and how a length is cut into register tiles.
//
// Each vector kernel file is compiled twice: as it is, for AVX-512 (Isa::avx512), and through its wrapper in
// src/kernels/avx2/, which defines CNN_KERNELS_AVX2 first, for AVX2 + FMA (Isa::avx2). The target is an attribute
// on every function, not a build flag, so one binary runs on any x86-64 CPU and isa.cpp chooses at run time.
//
// Vectors are 8 floats on both. On an AMD Zen 4 a 256-bit FMA issues twice per cycle, so 8-wide vectors reach the
// same peak as 16-wide ones while wasting less of a 24- or 8-pixel row. What AVX-512 adds to them is masked loads
// and stores in one instruction and 32 registers instead of 16: the AVX2 build emulates the masks with vmaskmov
// (which, like AVX-512's masks, never touches a masked-off lane's memory) and its register tiles are about half as
// large (kVectorRegisters). Cores with two 512-bit FMA ports (most Intel Xeons) reach only half their peak with 8
// floats: for them Isa::avx512_16 adds 16-float kernels along rows (conv_wide.cpp, compiled once).
#pragma once

#include <algorithm>

#include "kernels/isa.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CNN_HAVE_X86 1
#if defined(CNN_KERNELS_AVX2)
#define CNN_TARGET __attribute__((target("avx2,fma")))
#define CNN_ISA_NS avx2
#else
#define CNN_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define CNN_ISA_NS avx512
#endif
#endif

namespace cnn::kernels {

// Splits `total` into tiles of at most `max_tile`, as even as possible: the size of every tile but the last.
inline int even_tile(int total, int max_tile) {
  const int tiles = (total + max_tile - 1) / max_tile;
  return (total + tiles - 1) / tiles;
}

#if defined(CNN_HAVE_X86)
// Named per instruction set, so that the two compilations of a header's inline functions never meet in the link.
namespace CNN_ISA_NS {

#if defined(CNN_KERNELS_AVX2)
constexpr Isa kIsa = Isa::avx2;
constexpr int kVectorRegisters = 16;
// Lane l is on where bit l is (all 32 bits set: what vmaskmov reads).
using Mask8 = __m256i;
CNN_TARGET inline Mask8 mask_bits(unsigned bits) {
  const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits)), lane), lane);
}
// Lanes off in m read as 0 and are not read from memory.
CNN_TARGET inline __m256 load_masked(Mask8 m, const float* p) { return _mm256_maskload_ps(p, m); }
// Only the lanes on in m are written.
CNN_TARGET inline void store_masked(float* p, Mask8 m, __m256 v) { _mm256_maskstore_ps(p, m, v); }
#else
constexpr Isa kIsa = Isa::avx512;
constexpr int kVectorRegisters = 32;
using Mask8 = __mmask8;
CNN_TARGET inline Mask8 mask_bits(unsigned bits) { return __mmask8(bits); }
CNN_TARGET inline __m256 load_masked(Mask8 m, const float* p) { return _mm256_maskz_loadu_ps(m, p); }
CNN_TARGET inline void store_masked(float* p, Mask8 m, __m256 v) { _mm256_mask_storeu_ps(p, m, v); }
#endif
// The first n lanes (0 ≤ n ≤ 8).
CNN_TARGET inline Mask8 mask_first(int n) { return mask_bits((1u << n) - 1u); }

// v where v ≥ 0, else 0 (NaN → 0, as the seeds' ReLU; −0 stays −0, as the scalar loops)
CNN_TARGET inline __m256 nonnegative(__m256 v) {
  return _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ), v);
}

// c[k][l] = r[l][k]: 8 images' values at 8 positions become 8 positions' vectors of 8 images; 8 pixels of 8
// channels become 8 channels' rows of 8 pixels.
CNN_TARGET inline void transpose8(const __m256 r[8], __m256 c[8]) {
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

CNN_TARGET inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The forward tiles along rows (conv_rows.cpp, conv_wide.cpp): blocks b0 .. b0 + n − 1 of the output's blocks of
// 8 pixels, xb to a row of wo, each block's offset in the input (rows of W) and the output, and its lanes. Unless
// masked (rows under 8 pixels), a row's last block is moved back to end at the row's end.
CNN_TARGET inline void row_blocks(int b0, int n, int xb, int wo, int W, bool masked, int* in_off, int* out_off,
                                  Mask8* mask) {
  for (int p = 0; p < n; ++p) {
    const int y = (b0 + p) / xb, x0 = masked ? ((b0 + p) % xb) * 8 : std::min(((b0 + p) % xb) * 8, wo - 8);
    in_off[p] = y * W + x0;
    out_off[p] = y * wo + x0;
    mask[p] = mask_first(std::min(8, wo - x0));
  }
}

}  // namespace CNN_ISA_NS
using namespace CNN_ISA_NS;
#endif

}  // namespace cnn::kernels
