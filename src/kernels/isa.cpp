// Which instruction set the kernels use on this CPU, and the portable entry points that hand a call to the set's
// own code: the kernels compiled once per set (simd.h) are reached only through here and through ConvPlan.
#include "kernels/isa.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "kernels/kernels.h"

namespace cnn::kernels {

namespace {

bool cpu_has(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::portable:
      return true;
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && cpu_has(Isa::avx2);
    case Isa::avx512_16:
      return __builtin_cpu_supports("avx512dq") && cpu_has(Isa::avx512);
  }
  return false;
#else
  return isa == Isa::portable;
#endif
}

// The best set the CPU has at or below `wanted`.
Isa lower_to_supported(Isa wanted) {
  for (Isa i : {Isa::avx512_16, Isa::avx512, Isa::avx2})
    if (int(i) <= int(wanted) && cpu_has(i)) return i;
  return Isa::portable;
}

struct Choice {
  Isa isa;
  std::string reason;
};

// Once, at the first call: CNN_ISA, else the best the CPU has.
const Choice& initial_choice() {
  static const Choice choice = [] {
    const char* env = std::getenv("CNN_ISA");
    Isa wanted = Isa::portable;
    const bool named = env && *env && parse_isa(env, wanted);
    const bool wide = !named && cpu_has(Isa::avx512_16) && wide_vectors_pay();  // measured only when it decides
    const Isa best = lower_to_supported(wide ? Isa::avx512_16 : Isa::avx512);
    if (!env || !*env)
      return Choice{best, best == Isa::avx512 && cpu_has(Isa::avx512_16)
                              ? "the best this CPU has: its 512-bit FMAs are no faster than two 256-bit ones"
                              : "the best this CPU has"};
    if (!named) {
      std::fprintf(stderr, "cnn: CNN_ISA=%s is not one of portable, avx2, avx512, avx512_16; using %s\n", env,
                   isa_name(best));
      return Choice{best, std::string("the best this CPU has; CNN_ISA=") + env + " is no set"};
    }
    const Isa got = lower_to_supported(wanted);
    if (got != wanted) return Choice{got, std::string("CNN_ISA=") + env + ", which this CPU lacks"};
    return Choice{got, std::string("CNN_ISA=") + env};
  }();
  return choice;
}

constexpr int kNotSet = -1;
std::atomic<int> g_chosen{kNotSet};  // set_isa's choice, read by every kernel call on any thread

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::portable:
      return "portable";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
    case Isa::avx512_16:
      return "avx512_16";
  }
  return "?";
}

bool parse_isa(const std::string& name, Isa& isa) {
  for (Isa i : {Isa::portable, Isa::avx2, Isa::avx512, Isa::avx512_16})
    if (name == isa_name(i)) {
      isa = i;
      return true;
    }
  return false;
}

bool isa_supported(Isa isa) { return cpu_has(isa); }

Isa isa() {
  const int chosen = g_chosen.load(std::memory_order_relaxed);
  return chosen == kNotSet ? initial_choice().isa : Isa(chosen);
}

std::string isa_reason() {
  return g_chosen.load(std::memory_order_relaxed) == kNotSet ? initial_choice().reason : "set by the program";
}

void set_isa(Isa wanted) { g_chosen.store(int(lower_to_supported(wanted)), std::memory_order_relaxed); }

bool simd_available() { return isa() != Isa::portable; }
void set_simd_enabled(bool on) { set_isa(on ? initial_choice().isa : Isa::portable); }

bool wide_vectors_pay() {
  static const bool pays = [] {
    if (!cpu_has(Isa::avx512)) return false;
    // alternated, so that a clock change halfway through does not favour one width
    double narrow = 0.0, wide = 0.0;
    for (int round = 0; round < 2; ++round) {
      narrow = std::max(narrow, fma_peak_gflops(Isa::avx512, 256, 0.002));
      wide = std::max(wide, fma_peak_gflops(Isa::avx512, 512, 0.002));
    }
    return wide > 1.4 * narrow;
  }();
  return pays;
}

double fma_peak_gflops(Isa set, int bits, double seconds) {
#if defined(__x86_64__)
  if (set == Isa::portable || !cpu_has(set) || (bits == 512 && !has_avx512(set)) || (bits != 256 && bits != 512))
    return 0.0;
  const auto chains = has_avx512(set) ? fma_chains<Isa::avx512> : fma_chains<Isa::avx2>;
  // a short run first, which also wakes the core up to its clock, to size the timed ones
  long iters = 1 << 14;
  double best = 0.0;
  volatile float sink = 0.0f;
  for (double spent = 0.0; spent < seconds;) {
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + chains(bits, iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    spent += s;
    if (s < seconds / 8) {
      iters *= 2;
      continue;
    }
    best = std::max(best, double(iters) * 12 * (bits / 32) * 2 / s / 1e9);
  }
  return best;
#else
  (void)set, (void)bits, (void)seconds;
  return 0.0;
#endif
}

void transpose(const float* src, int rows, int cols, std::size_t ld_src, float* dst, std::size_t ld_dst) {
  int r0 = 0;
#if defined(__x86_64__)
  if (const Isa i = isa(); i != Isa::portable) {
    (has_avx512(i) ? transpose_blocks<Isa::avx512> : transpose_blocks<Isa::avx2>)(src, rows, cols, ld_src, dst, ld_dst);
    r0 = rows / 8 * 8;
    for (int r = 0; r < r0; ++r)  // the columns right of the last whole block
      for (int c = cols / 8 * 8; c < cols; ++c) dst[std::size_t(c) * ld_dst + r] = src[std::size_t(r) * ld_src + c];
  }
#endif
  for (int r = r0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dst[std::size_t(c) * ld_dst + r] = src[std::size_t(r) * ld_src + c];
}

// 256 KB of B: it stays in L2 while every row tile of A uses it. (The portable path has OpenBLAS's SGEMM instead.)
bool gemm_small_fits(int K, int N) { return isa() != Isa::portable && std::size_t(K) * std::size_t(N) <= 64 * 1024; }

void gemm_small(int M, int N, int K, const float* a, std::size_t a_ms, std::size_t a_ks, const float* b,
                std::size_t ldb, float* c, std::size_t ldc, bool accumulate) {
#if defined(__x86_64__)
  if (const Isa i = isa(); i != Isa::portable) {
    (has_avx512(i) ? gemm_small_tiles<Isa::avx512> : gemm_small_tiles<Isa::avx2>)(M, N, K, a, a_ms, a_ks, b, ldb, c,
                                                                                  ldc, accumulate);
    return;
  }
#endif
  // A layer set up with vectors and run after set_isa(portable): each C element one sum in k order, as the tiles
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      float s = accumulate ? c[std::size_t(m) * ldc + n] : 0.0f;
      for (int k = 0; k < K; ++k) s += a[std::size_t(m) * a_ms + std::size_t(k) * a_ks] * b[std::size_t(k) * ldb + n];
      c[std::size_t(m) * ldc + n] = s;
    }
}

}  // namespace cnn::kernels
