// The core's FMA peak: 12 independent chains of fused multiply-adds (enough to hide the latency), in 256- and
// 512-bit vectors, timed over 10^8 iterations. Prints GFLOP/s for one thread; the "machine's limit" of the README.
//   ./build-bench/bench/peak_fma
#include <immintrin.h>

#include <chrono>
#include <cstdio>

namespace {
__attribute__((target("avx512f,avx512vl,fma"))) float chains256(long iters) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(float(i) * 0.001f);
  const __m256 m = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(0.0001f);
  for (long t = 0; t < iters; ++t)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, b);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  return _mm256_cvtss_f32(s);
}
__attribute__((target("avx512f,avx512vl,fma"))) float chains512(long iters) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(float(i) * 0.001f);
  const __m512 m = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(0.0001f);
  for (long t = 0; t < iters; ++t)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, b);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  return sum;
}
template <class F>
void report(const char* name, F f, int lanes) {
  const long iters = 100000000;
  const auto t0 = std::chrono::steady_clock::now();
  const float r = f(iters);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s FMA peak, 1 thread: %.1f GFLOP/s (checksum %g)\n", name, double(iters) * 12 * lanes * 2 / s / 1e9, r);
}
}  // namespace

int main() {
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl")) {
    std::printf("no AVX-512 on this CPU\n");
    return 1;
  }
  report("256-bit", chains256, 8);
  report("512-bit", chains512, 16);
}
