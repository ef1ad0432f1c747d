// One explicit thread count for the whole library: every kernel and OpenBLAS honour it.
#pragma once

namespace cnn {

// Sets the number of threads (≥ 1; 0 means all cores). Results do not depend on it.
void set_threads(int threads);
int threads();

}  // namespace cnn
