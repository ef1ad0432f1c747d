#include "cnn/runtime.h"

#include <algorithm>
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

}  // namespace cnn
