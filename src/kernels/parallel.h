// The library's threads: one fork-join pool sized by cnn::set_threads, used by every kernel.
//
// Work is cut into a fixed number of chunks that depends on the data only (never on the thread count); each chunk
// writes its own outputs or its own partial sums, and partial sums are added in chunk order afterwards. So a run
// gives the same bits on 1, 2 or 16 threads: only which thread does a chunk changes, never what a chunk computes.
#pragma once

#include <cstddef>
#include <type_traits>

namespace cnn::kernels {

// How many chunks a batch of `n` samples is cut into: at most kMaxChunks, never more than n.
constexpr int kMaxChunks = 8;
inline int batch_chunks(int n) { return n < kMaxChunks ? (n > 0 ? n : 1) : kMaxChunks; }
// Samples [begin, end) of chunk `c` when `n` samples are cut into `chunks` near-equal parts.
inline int chunk_begin(int n, int chunks, int c) { return int((long long)n * c / chunks); }

// Runs fn(ctx, chunk) for every chunk in [0, chunks) on the pool (the calling thread takes part) and returns when
// all are done. Called from inside a chunk it runs the chunks serially on the calling thread.
void parallel_for(int chunks, void (*fn)(void*, int), void* ctx);

template <class F>
void parallel_for(int chunks, F&& f) {
  using Fn = std::remove_reference_t<F>;
  parallel_for(
      chunks, [](void* c, int i) { (*static_cast<Fn*>(c))(i); }, static_cast<void*>(&f));
}

// Resizes the pool to `threads` threads in all (the caller counts as one). Called by cnn::set_threads.
void set_pool_threads(int threads);
int pool_threads();

}  // namespace cnn::kernels
