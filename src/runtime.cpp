#include "cnn/runtime.h"

#include <cblas.h>

#include <thread>

#include "cnn/error.h"

namespace cnn {

namespace {
int g_threads = 1;
}

void set_threads(int n) {
  if (n < 0) throw Error("threads: must be ≥ 0 (0 = all cores), got " + std::to_string(n));
  if (n == 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  g_threads = n;
  openblas_set_num_threads(n);
}

int threads() { return g_threads; }

}  // namespace cnn
