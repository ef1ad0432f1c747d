// The core's fused multiply-add peak, measured: 12 independent chains of FMAs (more than latency × issue rate on any
// current x86 core, so the chains never wait on each other), in 256-bit and, with AVX-512, 512-bit vectors. The
// benchmarks divide the training GFLOP/s by it; `cnn info --cpu` prints it beside the set the kernels use.
#include "kernels/simd.h"

#if defined(CNN_HAVE_X86)
namespace cnn::kernels {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 on its own intrinsics' "undefined" operands
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace {
constexpr int kChains = 12;

CNN_TARGET float chains256(long iters) {
  __m256 a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = _mm256_set1_ps(float(i) * 0.001f);
  const __m256 m = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(0.0001f);
  for (long t = 0; t < iters; ++t)
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) a[i] = _mm256_fmadd_ps(a[i], m, b);
  __m256 s = a[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, a[i]);
  return hsum(s);
}

#if !defined(CNN_KERNELS_AVX2)
CNN_TARGET float chains512(long iters) {
  __m512 a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = _mm512_set1_ps(float(i) * 0.001f);
  const __m512 m = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(0.0001f);
  for (long t = 0; t < iters; ++t)
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) a[i] = _mm512_fmadd_ps(a[i], m, b);
  __m512 s = a[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}
#endif
}  // namespace
#pragma GCC diagnostic pop

template <>
float fma_chains<kIsa>(int bits, long iters) {
#if !defined(CNN_KERNELS_AVX2)
  if (bits == 512) return chains512(iters);
#endif
  return bits == 256 ? chains256(iters) : 0.0f;
}

}  // namespace cnn::kernels
#endif
