// Register-tiled GEMM for the small products of fully connected layers (a batch of 50 against a weight matrix that
// fits in L2), where OpenBLAS's packing costs more than it saves: LeNet-5's 400→120 layer (see dense.cpp).
//
//   C[m][n] = (accumulate ? C[m][n] : 0) + Σ_k A(m, k)·B[k][n],   A(m, k) = a[m·a_ms + k·a_ks]
//
// A tile holds MT rows × NV vectors of 8 columns of C in registers for the whole sum over k: every B vector loaded
// feeds MT multiply-adds and every broadcast A element NV. Each C element is one sum in k order whatever the
// tiling or the caller's cut into chunks, so results do not depend on the thread count.
#include <algorithm>
#include <cstdlib>

#include "kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CNN_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#endif

namespace cnn::kernels {

namespace {
constexpr std::size_t kSmallGemmMaxB = 64 * 1024;  // floats of B (256 KB): it stays in L2 while every row tile uses it
constexpr int kMaxMT = 6, kMaxNV = 4;

#if defined(__x86_64__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Masked selects the last vector's lanes with `tail` (columns past N are neither read nor written).
template <int MT, int NV, bool Masked>
CNN_AVX512 void gemm_tile(int K, const float* a, std::size_t a_ms, std::size_t a_ks, const float* b, std::size_t ldb,
                          float* c, std::size_t ldc, bool accumulate, __mmask8 tail) {
  __m256 acc[MT][NV];
#pragma GCC unroll 6
  for (int m = 0; m < MT; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const float* at = c + m * ldc + 8 * v;
      acc[m][v] = !accumulate               ? _mm256_setzero_ps()
                  : (Masked && v == NV - 1) ? _mm256_maskz_loadu_ps(tail, at)
                                            : _mm256_loadu_ps(at);
    }
  for (int k = 0; k < K; ++k, a += a_ks, b += ldb) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = (Masked && v == NV - 1) ? _mm256_maskz_loadu_ps(tail, b + 8 * v) : _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 6
    for (int m = 0; m < MT; ++m) {
      const __m256 av = _mm256_set1_ps(a[m * a_ms]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = _mm256_fmadd_ps(av, bv[v], acc[m][v]);
    }
  }
#pragma GCC unroll 6
  for (int m = 0; m < MT; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* at = c + m * ldc + 8 * v;
      if (Masked && v == NV - 1)
        _mm256_mask_storeu_ps(at, tail, acc[m][v]);
      else
        _mm256_storeu_ps(at, acc[m][v]);
    }
}
#pragma GCC diagnostic pop

using GemmTile = void (*)(int, const float*, std::size_t, std::size_t, const float*, std::size_t, float*, std::size_t,
                          bool, __mmask8);
#define CNN_GT_NV(mt, m) \
  { &gemm_tile<mt, 1, m>, &gemm_tile<mt, 2, m>, &gemm_tile<mt, 3, m>, &gemm_tile<mt, 4, m> }
#define CNN_GT(m) \
  { CNN_GT_NV(1, m), CNN_GT_NV(2, m), CNN_GT_NV(3, m), CNN_GT_NV(4, m), CNN_GT_NV(5, m), CNN_GT_NV(6, m) }
const GemmTile kGemmTile[2][kMaxMT][kMaxNV] = {CNN_GT(false), CNN_GT(true)};  // [masked][MT − 1][NV − 1]
#undef CNN_GT
#undef CNN_GT_NV
#endif
}  // namespace

bool gemm_small_fits(int K, int N) { return simd_available() && std::size_t(K) * N <= kSmallGemmMaxB; }

void gemm_small(int M, int N, int K, const float* a, std::size_t a_ms, std::size_t a_ks, const float* b,
                std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
#if defined(__x86_64__)
  for (int n0 = 0; n0 < N; n0 += 8 * kMaxNV) {  // a 32-column slab of B, used by every row tile while in cache
    const int cols = std::min(8 * kMaxNV, N - n0), nv = (cols + 7) / 8;
    const bool masked = cols % 8 != 0;
    const __mmask8 tail = __mmask8((1u << (cols - 8 * (nv - 1))) - 1u);
    for (int m0 = 0; m0 < M; m0 += kMaxMT) {
      const int mt = std::min(kMaxMT, M - m0);
      kGemmTile[masked][mt - 1][nv - 1](K, a + m0 * a_ms, a_ms, a_ks, b + n0, ldb, c + m0 * ldc + n0, ldc, accumulate,
                                        tail);
    }
  }
#else
  (void)M, (void)N, (void)K, (void)a, (void)a_ms, (void)a_ks, (void)b, (void)ldb, (void)c, (void)ldc, (void)accumulate;
  std::abort();  // unreachable: gemm_small_fits is false without AVX-512
#endif
}

}  // namespace cnn::kernels
