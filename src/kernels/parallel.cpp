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

constexpr int kSpins = 4000;  // pauses before a waiting thread sleeps (some tens of microseconds)

// The job and its next chunk live in one atomic word, (generation << 32) | (chunks << 16) | next chunk, so a thread
// claims a chunk with one compare-and-swap and never reads a job that is no longer current: the caller publishes
// the next job only after every claimed chunk of this one has finished. A worker that wakes late (the machine is
// busy) simply finds nothing left to claim; nobody waits for it.
class Pool {
 public:
  ~Pool() { resize(1); }

  void resize(int threads) {
    std::lock_guard<std::mutex> lock(run_mutex_);
    if (threads < 1) threads = 1;
    if (threads - 1 == int(workers_.size())) return;
    stop_.store(true);
    publish(0);
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_.store(false);
    for (int i = 0; i < threads - 1; ++i) workers_.emplace_back([this] { work(); });
  }

  int threads() const { return int(workers_.size()) + 1; }

  void run(int chunks, void (*fn)(void*, int), void* ctx) {
    std::unique_lock<std::mutex> lock(run_mutex_, std::try_to_lock);
    if (inside_ || !lock.owns_lock() || workers_.empty() || chunks <= 1 || chunks > 0xffff) {
      for (int c = 0; c < chunks; ++c) fn(ctx, c);
      return;
    }
    fn_ = fn, ctx_ = ctx;
    done_.store(0, std::memory_order_relaxed);
    publish(chunks);
    inside_ = true;
    take_chunks(ticket_.load(std::memory_order_acquire) >> 32);
    inside_ = false;
    for (int spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins)
      if (spins < kSpins) CNN_PAUSE();
      else std::this_thread::yield();
  }

 private:
  void publish(int chunks) {
    const std::uint64_t gen = (ticket_.load(std::memory_order_relaxed) >> 32) + 1;
    ticket_.store((gen << 32) | (std::uint64_t(chunks) << 16), std::memory_order_release);
    ticket_.notify_all();
  }

  // Claims and runs chunks of job `gen` until none is left.
  void take_chunks(std::uint64_t gen) {
    std::uint64_t t = ticket_.load(std::memory_order_acquire);
    for (;;) {
      if ((t >> 32) != gen) return;
      const int chunks = int((t >> 16) & 0xffff), next = int(t & 0xffff);
      if (next >= chunks) return;
      if (ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        fn_(ctx_, next);
        done_.fetch_add(1, std::memory_order_release);
        t = ticket_.load(std::memory_order_acquire);
      }
    }
  }

  void work() {
    inside_ = true;
    std::uint64_t seen = 0;  // jobs are only ever picked up through take_chunks, so starting late is harmless
    for (;;) {
      int spins = 0;
      std::uint64_t t;
      while (((t = ticket_.load(std::memory_order_acquire)) >> 32) == seen ||
             ((t >> 16) & 0xffff) == (t & 0xffff)) {  // same job, or nothing left to claim
        if (stop_.load(std::memory_order_relaxed)) return;
        if (++spins < kSpins) CNN_PAUSE();
        else ticket_.wait(t, std::memory_order_acquire);
      }
      seen = t >> 32;
      take_chunks(seen);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::atomic<std::uint64_t> ticket_{0};
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
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
