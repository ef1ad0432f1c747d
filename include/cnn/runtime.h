// One explicit thread count for the whole library: every kernel and OpenBLAS honour it; and what the kernels run
// on this CPU.
#pragma once

#include <string>
#include <vector>

namespace cnn {

// Sets the number of threads (≥ 1; 0 means all cores). Results do not depend on it.
void set_threads(int threads);
int threads();

// The CPU and the instruction set the kernels use on it: "avx512_16" (AVX-512 with 16-float vectors in the
// convolutions, where the core's 512-bit FMAs are faster than its 256-bit ones), "avx512", "avx2" or "portable"
// (plain C++ and OpenBLAS), the best the CPU has unless the environment variable CNN_ISA names another.
struct CpuInfo {
  std::string model;                   // /proc/cpuinfo's "model name", or "unknown"
  std::vector<std::string> supported;  // the sets this CPU runs, best first
  std::string kernels, reason;         // the set in use, and why
  double peak_256 = 0, peak_512 = 0;   // one thread's measured FMA peak in GFLOP/s (0: not measured or no such set)
};
// measure: also time the FMA peaks (about 0.1 s).
CpuInfo cpu_info(bool measure);

}  // namespace cnn
