// A small fork-join pool. Workers spin briefly between jobs (a training step is a quick succession of short
// parallel layers) and then sleep on the job counter, so an idle library costs no CPU.
#include "kernels/parallel.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CNN_PAUSE() _mm_pause()
#else
#define CNN_PAUSE() ((void)0)
#endif

namespace cnn::kernels {

namespace {

constexpr int kSpins = 20000;  // pauses before a waiting thread sleeps (tens of microseconds)

class Pool {
 public:
  ~Pool() { resize(1); }

  void resize(int threads) {
    std::lock_guard<std::mutex> lock(run_mutex_);
    if (threads < 1) threads = 1;
    if (threads - 1 == int(workers_.size())) return;
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_.store(false);
    // A worker starts from the generation current now, so a job published before it first runs is not missed.
    const std::uint64_t now = generation_.load();
    for (int i = 0; i < threads - 1; ++i) workers_.emplace_back([this, now] { work(now); });
  }

  int threads() const { return int(workers_.size()) + 1; }

  void run(int chunks, void (*fn)(void*, int), void* ctx) {
    std::unique_lock<std::mutex> lock(run_mutex_, std::try_to_lock);
    if (inside_ || !lock.owns_lock() || workers_.empty() || chunks <= 1) {
      for (int c = 0; c < chunks; ++c) fn(ctx, c);
      return;
    }
    fn_ = fn, ctx_ = ctx, chunks_ = chunks;
    next_.store(0, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    inside_ = true;
    take_chunks();
    inside_ = false;
    // Wait until every worker has passed through this job, so the next job may rewrite fn_, ctx_ and chunks_.
    const int want = int(workers_.size());
    for (int spins = 0; finished_.load(std::memory_order_acquire) != want; ++spins)
      if (spins < kSpins) CNN_PAUSE();
      else std::this_thread::yield();
  }

 private:
  void take_chunks() {
    for (int c; (c = next_.fetch_add(1, std::memory_order_relaxed)) < chunks_;) fn_(ctx_, c);
  }

  void work(std::uint64_t seen) {
    inside_ = true;
    for (;;) {
      int spins = 0;
      std::uint64_t g;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) {
        if (++spins < kSpins) CNN_PAUSE();
        else generation_.wait(seen, std::memory_order_acquire);
      }
      seen = g;
      if (stop_.load()) return;
      take_chunks();
      finished_.fetch_add(1, std::memory_order_release);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> next_{0}, finished_{0};
  std::atomic<bool> stop_{false};
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int chunks_ = 0;
  static thread_local bool inside_;
};

thread_local bool Pool::inside_ = false;

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void parallel_for(int chunks, void (*fn)(void*, int), void* ctx) { pool().run(chunks, fn, ctx); }
void set_pool_threads(int threads) { pool().resize(threads); }
int pool_threads() { return pool().threads(); }

}  // namespace cnn::kernels
