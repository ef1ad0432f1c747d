#include "cnn/runtime.h"

#include <algorithm>
#include <fstream>
#include <thread>

#include "cnn/error.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace cnn {

void set_threads(int n) {
  if (n < 0) throw Error("threads: must be ≥ 0 (0 = all cores), got " + std::to_string(n));
  if (n == 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  // Every kernel, OpenBLAS's products included, runs inside the library's own pool: OpenBLAS itself is kept to
  // one thread (see kernels::gemm), so n threads means n threads, and the chunking keeps results identical.
  kernels::set_pool_threads(n);
}

int threads() { return kernels::pool_threads(); }

CpuInfo cpu_info(bool measure) {
  CpuInfo c;
  c.model = "unknown";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      c.model = line.substr(line.find(':') + 1);
      c.model.erase(0, c.model.find_first_not_of(" \t"));
      break;
    }
  for (kernels::Isa i : {kernels::Isa::avx512_16, kernels::Isa::avx512, kernels::Isa::avx2, kernels::Isa::portable})
    if (kernels::isa_supported(i)) c.supported.push_back(kernels::isa_name(i));
  c.kernels = kernels::isa_name(kernels::isa());
  c.reason = kernels::isa_reason();
  if (measure) {
    const kernels::Isa best = kernels::isa_supported(kernels::Isa::avx512) ? kernels::Isa::avx512 : kernels::Isa::avx2;
    c.peak_256 = kernels::fma_peak_gflops(best, 256);
    c.peak_512 = kernels::fma_peak_gflops(best, 512);
  }
  return c;
}

}  // namespace cnn
