// Register-tiled GEMM for the small products of fully connected layers (a batch of 50 against a weight matrix that
// fits in L2), where OpenBLAS's packing costs more than it saves: LeNet-5's 400→120 layer (see dense.cpp).
//
//   C[m][n] = (accumulate ? C[m][n] : 0) + Σ_k A(m, k)·B[k][n],   A(m, k) = a[m·a_ms + k·a_ks]
//
// A tile holds MT rows × NV vectors of 8 columns of C in registers for the whole sum over k: every B vector loaded
// feeds MT multiply-adds and every broadcast A element NV. Each C element is one sum in k order whatever the
// tiling or the caller's cut into chunks, so results do not depend on the thread count.
#include <algorithm>

#include "kernels/simd.h"

#if defined(CNN_HAVE_X86)
namespace cnn::kernels {

namespace {
// MT × NV accumulators, NV vectors of B and one broadcast in registers: 6 × 4 with AVX-512's 32, 6 × 2 with 16.
constexpr int kMaxMT = 6, kMaxNV = kVectorRegisters == 32 ? 4 : 2;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Masked selects the last vector's lanes with `tail` (columns past N are neither read nor written).
template <int MT, int NV, bool Masked>
CNN_TARGET void gemm_tile(int K, const float* a, std::size_t a_ms, std::size_t a_ks, const float* b, std::size_t ldb,
                          float* c, std::size_t ldc, bool accumulate, Mask8 tail) {
  __m256 acc[MT][NV];
#pragma GCC unroll 6
  for (int m = 0; m < MT; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const float* at = c + m * ldc + 8 * v;
      acc[m][v] = !accumulate               ? _mm256_setzero_ps()
                  : (Masked && v == NV - 1) ? load_masked(tail, at)
                                            : _mm256_loadu_ps(at);
    }
  for (int k = 0; k < K; ++k, a += a_ks, b += ldb) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = (Masked && v == NV - 1) ? load_masked(tail, b + 8 * v) : _mm256_loadu_ps(b + 8 * v);
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
        store_masked(at, tail, acc[m][v]);
      else
        _mm256_storeu_ps(at, acc[m][v]);
    }
}
#pragma GCC diagnostic pop

using GemmTile = void (*)(int, const float*, std::size_t, std::size_t, const float*, std::size_t, float*, std::size_t,
                          bool, Mask8);
#if defined(CNN_KERNELS_AVX2)
#define CNN_GT_NV(mt, m) \
  { &gemm_tile<mt, 1, m>, &gemm_tile<mt, 2, m> }
#else
#define CNN_GT_NV(mt, m) \
  { &gemm_tile<mt, 1, m>, &gemm_tile<mt, 2, m>, &gemm_tile<mt, 3, m>, &gemm_tile<mt, 4, m> }
#endif
#define CNN_GT(m) \
  { CNN_GT_NV(1, m), CNN_GT_NV(2, m), CNN_GT_NV(3, m), CNN_GT_NV(4, m), CNN_GT_NV(5, m), CNN_GT_NV(6, m) }
const GemmTile kGemmTile[2][kMaxMT][kMaxNV] = {CNN_GT(false), CNN_GT(true)};  // [masked][MT − 1][NV − 1]
#undef CNN_GT
#undef CNN_GT_NV
}  // namespace

template <>
CNN_TARGET void gemm_small_tiles<kIsa>(int M, int N, int K, const float* a, std::size_t a_ms, std::size_t a_ks,
                                       const float* b, std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
  for (int n0 = 0; n0 < N; n0 += 8 * kMaxNV) {  // a slab of B's columns, used by every row tile while in cache
    const int cols = std::min(8 * kMaxNV, N - n0), nv = (cols + 7) / 8;
    const bool masked = cols % 8 != 0;
    const Mask8 tail = mask_first(cols - 8 * (nv - 1));
    for (int m0 = 0; m0 < M; m0 += kMaxMT) {
      const int mt = std::min(kMaxMT, M - m0);
      kGemmTile[masked][mt - 1][nv - 1](K, a + m0 * a_ms, a_ms, a_ks, b + n0, ldb, c + m0 * ldc + n0, ldc, accumulate,
                                        tail);
    }
  }
}

}  // namespace cnn::kernels
#endif
