// What this core can do, checked once, and the switch that sends the library down the portable path (tests and
// benchmarks: every fast kernel is compared with the portable one on the same machine).
#include "kernels/kernels.h"

namespace cnn::kernels {

namespace {
bool g_simd_enabled = true;

bool cpu_has_avx512() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  return has;
#else
  return false;
#endif
}
}  // namespace

bool simd_available() { return g_simd_enabled && cpu_has_avx512(); }
void set_simd_enabled(bool on) { g_simd_enabled = on; }

}  // namespace cnn::kernels
