// A small fork-join pool. Workers spin briefly between jobs (a training step is a quick succession of short
// parallel layers) and then sleep on the job counter, so an idle library costs no CPU.
#include "kernels/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <system_error>
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
constexpr int kMaxThreads = 256;

// A job's chunks are dealt out in contiguous ranges, one per thread (the caller is thread 0), and every thread runs
// its own range first: consecutive layers cut the batch the same way, so chunk c of the next layer runs on the core
// whose cache holds chunk c of this one (with dynamic claiming it moved between cores at random, and the
// memory-bound layers — pooling — did not scale at all). A thread that is done takes what is left of the others'
// ranges, so a worker that wakes late (the machine is busy) only costs its share once.
// Each range is one atomic word, (generation << 32) | (next << 16) | end, claimed a chunk at a time with a
// compare-and-swap that also checks the generation, so nobody runs a chunk of a job that is no longer current: the
// caller publishes the next job only after every claimed chunk of this one has finished.
class Pool {
 public:
  ~Pool() { resize(1); }

  // Where the system refuses a thread (the process limit, ulimit -u or a container's pids limit), the pool is
  // made again with as many as it gave: fewer threads give the same bits (kernels/shard.h), and the caller sees
  // the count in threads().
  void resize(int threads) {
    std::lock_guard<std::mutex> lock(run_mutex_);
    threads = std::clamp(threads, 1, kMaxThreads);
    for (bool whole = threads - 1 == int(workers_.size()); !whole;) {
      stop_.store(true);
      publish();
      for (auto& t : workers_) t.join();
      workers_.clear();
      stop_.store(false);
      team_ = threads;  // written before the workers exist, read by them only: no job runs while this changes
      try {
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
        whole = true;
      } catch (const std::system_error&) {
        threads = int(workers_.size()) + 1;  // the workers that did start were told of a larger team
      }
    }
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
    const int T = team_;
    const std::uint64_t gen = (job_.load(std::memory_order_relaxed) >> 32) + 1;
    for (int p = 0; p < T; ++p) {
      const std::uint64_t begin = std::uint64_t(chunks) * p / T, end = std::uint64_t(chunks) * (p + 1) / T;
      range_[p].word.store((gen << 32) | (begin << 16) | end, std::memory_order_relaxed);
    }
    publish();
    inside_ = true;
    take_chunks(gen, 0, T);
    inside_ = false;
    for (int spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins)
      if (spins < kSpins)
        CNN_PAUSE();
      else
        std::this_thread::yield();
  }

 private:
  struct alignas(64) Range {
    std::atomic<std::uint64_t> word{0};
  };

  void publish() {
    job_.fetch_add(std::uint64_t(1) << 32, std::memory_order_release);
    job_.notify_all();
  }

  // Runs chunks of job `gen`: thread self's own range, then whatever is left of the others'.
  void take_chunks(std::uint64_t gen, int self, int T) {
    for (int k = 0; k < T; ++k) {
      std::atomic<std::uint64_t>& w = range_[(self + k) % T].word;
      std::uint64_t t = w.load(std::memory_order_acquire);
      while ((t >> 32) == gen && ((t >> 16) & 0xffff) < (t & 0xffff)) {
        if (w.compare_exchange_weak(t, t + (std::uint64_t(1) << 16), std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
          fn_(ctx_, int((t >> 16) & 0xffff));
          done_.fetch_add(1, std::memory_order_release);
          t = w.load(std::memory_order_acquire);
        }
      }
    }
  }

  void work(int self) {
    inside_ = true;
    std::uint64_t seen = job_.load(std::memory_order_acquire) >> 32;
    for (;;) {
      int spins = 0;
      std::uint64_t t;
      while (((t = job_.load(std::memory_order_acquire)) >> 32) == seen) {
        if (stop_.load(std::memory_order_relaxed)) return;
        if (++spins < kSpins)
          CNN_PAUSE();
        else
          job_.wait(t, std::memory_order_acquire);
      }
      if (stop_.load(std::memory_order_relaxed)) return;
      seen = t >> 32;
      take_chunks(seen, self, team_);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::atomic<std::uint64_t> job_{0};  // generation << 32: bumped for every job (and to wake workers to stop)
  Range range_[kMaxThreads];
  std::atomic<int> done_{0};
  std::atomic<bool> stop_{false};
  int team_ = 1;  // threads in all, the caller included (set by resize before it starts the workers)
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
