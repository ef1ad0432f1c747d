// The fast path at the level of a whole training step: the same bits on any number of threads and on every run
// with the same seed, and no memory allocated once the workspaces have held the largest batch.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "helpers.h"

// Every allocation of this test program goes through these; counting is switched on only around a step.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void* counted_alloc(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* counted_alloc_aligned(std::size_t size, std::size_t align) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t rounded = (size + align - 1) / align * align;
  if (void* p = std::aligned_alloc(align, rounded ? rounded : align)) return p;
  throw std::bad_alloc();
}
void* counted_alloc_nothrow(std::size_t size) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size); }
void* operator new[](std::size_t size) { return counted_alloc(size); }
void* operator new(std::size_t size, std::align_val_t a) { return counted_alloc_aligned(size, std::size_t(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counted_alloc_aligned(size, std::size_t(a)); }
// The nothrow forms too (std::stable_sort's buffer comes from one): left to the runtime, its pointer would reach the
// free() below, which AddressSanitizer rightly reports as a mismatched delete.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc_nothrow(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc_nothrow(size); }
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc_aligned(size, std::size_t(a));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t& t) noexcept {
  return operator new(size, a, t);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace cnn {
namespace {

struct Threads {
  explicit Threads(int n) { set_threads(n); }
  ~Threads() { set_threads(1); }
};

// A few SGD steps of `preset` on a fixed random batch; returns the parameters.
std::vector<float> train_steps(const std::string& preset, int threads, int batch, int steps) {
  Threads t(threads);
  Network net = load_network(preset);
  net.init(42);
  Optimizer sgd({.lr = 0.1});
  const Shape in = net.input_shape();
  const Tensor x = test::random_tensor(in.with_batch(batch), 5, 0.0f, 1.0f);
  std::vector<int> labels(static_cast<std::size_t>(batch));
  for (int i = 0; i < batch; ++i) labels[std::size_t(i)] = (i * 7) % 10;
  for (int s = 0; s < steps; ++s) {
    net.forward_backward(x, labels.data(), std::uint64_t(s));
    sgd.step(net);
  }
  std::vector<float> all = net.params();  // and the batch normalisation's running statistics
  all.insert(all.end(), net.buffers().begin(), net.buffers().end());
  return all;
}

// ResNet-8: batch statistics are reduced per channel in one fixed order, residual gradients added in plan order.
TEST(FastNetwork, GraphWithBatchNormGivesTheSameBitsOnAnyThreadCount) {
  for (int batch : {13, 2}) {
    const std::vector<float> one = train_steps("resnet8", 1, batch, 2);
    const std::vector<float> two = train_steps("resnet8", 2, batch, 2);
    const std::vector<float> three = train_steps("resnet8", 3, batch, 2);
    ASSERT_EQ(one.size(), two.size());
    EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float))) << "batch " << batch;
    EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float))) << "batch " << batch;
  }
}

TEST(FastNetwork, SameBitsOnOneTwoAndThreeThreads) {
  for (const std::string preset : {"seed5", "lenet5"}) {
    for (int batch : {50, 13, 1}) {
      const std::vector<float> one = train_steps(preset, 1, batch, 4);
      const std::vector<float> two = train_steps(preset, 2, batch, 4);
      const std::vector<float> three = train_steps(preset, 3, batch, 4);
      ASSERT_EQ(one.size(), two.size());
      // Bitwise: memcmp, not a tolerance.
      EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float))) << preset << " batch " << batch;
      EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float))) << preset << " batch " << batch;
      // and the run repeats itself
      EXPECT_EQ(0, std::memcmp(two.data(), train_steps(preset, 2, batch, 4).data(), one.size() * sizeof(float)));
    }
  }
}

TEST(FastNetwork, InferenceIsTheSameOnAnyThreadCount) {
  Network net = load_network("seed5");
  net.init(9);
  const Tensor x = test::random_tensor({37, 1, 28, 28}, 6, 0.0f, 1.0f);
  std::vector<Tensor> outs;
  for (int threads : {1, 2, 3}) {
    Threads t(threads);
    outs.push_back(net.forward(x, {Mode::eval, 0}));
  }
  EXPECT_EQ(0, std::memcmp(outs[0].data(), outs[1].data(), outs[0].size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(outs[0].data(), outs[2].data(), outs[0].size() * sizeof(float)));
}

// One steady-state training step (forward, loss, backward, SGD update) allocates nothing.
TEST(FastNetwork, SteadyStateTrainingStepAllocatesNothing) {
  for (const std::string preset : {"seed5", "lenet5", "resnet20"}) {
    for (int threads : {1, 2}) {
      Threads t(threads);
      Network net = load_network(preset);
      net.init(1);
      Optimizer sgd({.lr = 0.1});
      const Tensor x = test::random_tensor(net.input_shape().with_batch(50), 5, 0.0f, 1.0f);
      std::vector<int> labels(50);
      for (int i = 0; i < 50; ++i) labels[std::size_t(i)] = i % 10;
      net.forward_backward(x, labels.data(), 0);  // warm-up: workspaces take their size
      sgd.step(net);
      const Tensor smaller = Tensor::view(x.data(), net.input_shape().with_batch(17));
      net.forward_backward(smaller, labels.data(), 1);  // a smaller last batch fits in the same workspaces
      sgd.step(net);

      g_allocations = 0;
      g_counting = true;
      for (int s = 2; s < 5; ++s) {
        net.forward_backward(x, labels.data(), std::uint64_t(s));
        sgd.step(net);
      }
      net.forward_backward(smaller, labels.data(), 5);
      sgd.step(net);
      net.forward(x, {Mode::eval, 0});
      g_counting = false;
      EXPECT_EQ(g_allocations.load(), 0) << preset << " on " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace cnn
