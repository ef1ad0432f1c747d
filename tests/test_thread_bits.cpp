// Training gives the same bits on 1, 2 and 3 threads — and on 2 to 5 processes, simulated by threads that each hold a
// copy of the network (cnn::Collective over shared memory) — for every layer type at once, the im2col convolution
// (stride 2) beside the direct one (stride 1): the outputs, the loss, every gradient (also ∂L/∂x), the running
// statistics and the parameters after two SGD-with-momentum steps. The first convolution's output is large enough (24
// images of 8×16×16) for the element-wise layers to split the batch too.
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "helpers.h"
#include "kernels/kernels.h"
#include "kernels/shard.h"

namespace cnn {
namespace {

const char* const kEveryLayer = R"({"input": [3, 16, 16], "loss": "squared_error", "layers": [
  {"type": "normalize", "mean": [0.5, 0.4, 0.3], "std": [0.25, 0.5, 2]},
  {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same"},
  {"type": "relu"},
  {"type": "conv2d", "filters": 8, "kernel": 3, "stride": 2, "padding": 1},
  {"type": "batchnorm2d"},
  {"type": "leaky_relu", "alpha": 0.2, "name": "trunk"},
  {"type": "maxpool2d", "kernel": 2, "name": "max", "inputs": ["trunk"]},
  {"type": "avgpool2d", "kernel": 2, "name": "avg", "inputs": ["trunk"]},
  {"type": "l2pool2d", "kernel": 2, "name": "l2", "inputs": ["trunk"]},
  {"type": "subsampling", "kernel": 2, "name": "sub", "inputs": ["trunk"]},
  {"type": "add", "name": "sum", "inputs": ["max", "avg"]},
  {"type": "concat", "inputs": ["sum", "l2", "sub"]},
  {"type": "sigmoid"},
  {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same"},
  {"type": "tanh"},
  {"type": "global_avgpool2d"},
  {"type": "flatten"},
  {"type": "dense", "units": 32},
  {"type": "dropout", "rate": 0.3},
  {"type": "dense", "units": 10},
  {"type": "softmax"}]})";

struct Bits {
  std::vector<float> out, dx, grads, params, buffers;
  double loss = 0;
  std::string kernels;  // of the convolutions
};

Bits train_two_steps(int threads) {
  test::ThreadCount tc(threads);
  Network net = network_from_text(kEveryLayer, "every layer");
  net.init(3);
  net.set_need_input_gradient(true);
  Optimizer opt({.kind = "sgd", .lr = 0.05, .momentum = 0.9});
  Bits b;
  for (std::size_t i = 0; i < net.size(); ++i)
    if (const auto* c = dynamic_cast<const Conv2D*>(&net.layer(i)))
      b.kernels.append("[").append(c->kernel_name()).append("] ");  // (not +: GCC 12's false -Wrestrict)
  for (int step = 0; step < 2; ++step) {
    const Tensor x = test::random_tensor({24, 3, 16, 16}, 10 + std::uint64_t(step), 0.0f, 1.0f);
    std::vector<int> labels(24);
    for (int n = 0; n < 24; ++n) labels[std::size_t(n)] = (n * 7 + step) % 10;
    b.loss = net.forward_backward(x, labels.data(), std::uint64_t(step));
    opt.step(net);
  }
  const Tensor& out = net.activation(net.size() - 1);
  b.out.assign(out.data(), out.data() + out.size());
  const Tensor& dx = net.network_input_gradient();
  b.dx.assign(dx.data(), dx.data() + dx.size());
  b.grads = net.grads();
  b.params = net.params();
  b.buffers = net.buffers();
  return b;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// On each instruction set the CPU has. AVX2's register tiles are smaller than AVX-512's, but every output is still one
// sum in the same order, so the two sets must give the same bits as well (the portable path, im2col + OpenBLAS,
// sums in another order).
TEST(ThreadBits, EveryLayerTypeTrainsToTheSameBitsOnAnyThreadCount) {
  std::vector<Bits> vector_sets;
  for (kernels::Isa isa : test::isas()) {
    test::FastPathSettings settings(1, isa);
    const char* name = kernels::isa_name(isa);
    const Bits one = train_two_steps(1);
    std::printf("[thread bits] every layer type, %s, convolutions %s\n", name, one.kernels.c_str());
    EXPECT_NE(one.kernels.find("im2col"), std::string::npos) << one.kernels;
    if (isa != kernels::Isa::portable) {
      EXPECT_NE(one.kernels.find("direct"), std::string::npos) << one.kernels;
    }
    EXPECT_GT(test::max_abs(one.dx.data(), one.dx.size()), 0.0);
    EXPECT_GT(test::max_abs(one.grads.data(), one.grads.size()), 0.0);
    for (int threads : {2, 3}) {
      const Bits t = train_two_steps(threads);
      EXPECT_EQ(std::memcmp(&one.loss, &t.loss, sizeof(double)), 0) << name << ", " << threads << " threads: loss";
      EXPECT_TRUE(same_bits(one.out, t.out)) << name << ", " << threads << " threads: output";
      EXPECT_TRUE(same_bits(one.dx, t.dx)) << name << ", " << threads << " threads: input gradient";
      EXPECT_TRUE(same_bits(one.grads, t.grads)) << name << ", " << threads << " threads: parameter gradients";
      EXPECT_TRUE(same_bits(one.params, t.params)) << name << ", " << threads << " threads: parameters after two steps";
      EXPECT_TRUE(same_bits(one.buffers, t.buffers)) << name << ", " << threads << " threads: running statistics";
    }
    if (isa != kernels::Isa::portable) vector_sets.push_back(one);
  }
  for (std::size_t i = 1; i < vector_sets.size(); ++i) {
    const Bits &a = vector_sets[0], &b = vector_sets[i];
    const std::string sets = std::string("avx2 against ") + kernels::isa_name(test::isas()[i + 1]) + ": ";
    EXPECT_EQ(std::memcmp(&a.loss, &b.loss, sizeof(double)), 0) << sets << "loss";
    EXPECT_TRUE(same_bits(a.out, b.out)) << sets << "output";
    EXPECT_TRUE(same_bits(a.dx, b.dx)) << sets << "input gradient";
    EXPECT_TRUE(same_bits(a.grads, b.grads)) << sets << "parameter gradients";
    EXPECT_TRUE(same_bits(a.params, b.params)) << sets << "parameters after two steps";
  }
}

// The presets, whose shapes take every direct kernel family (rows, channels, dA over the batch, as a forward
// convolution, tap by tap) and the small GEMM: two momentum-SGD steps on AVX2, and on AVX-512 with 16-float vectors
// where the CPU has it, give AVX-512's bits.
TEST(IsaBits, EveryPresetTrainsToTheSameBitsWithAvx2AsWithAvx512) {
  if (!kernels::isa_supported(kernels::Isa::avx512)) GTEST_SKIP() << "needs both sets on this CPU";
  std::vector<kernels::Isa> sets = {kernels::Isa::avx512, kernels::Isa::avx2};
  if (kernels::isa_supported(kernels::Isa::avx512_16)) sets.push_back(kernels::Isa::avx512_16);
  for (const char* preset : {"seed5", "lenet5", "alexnet-small", "resnet8", "book6x6"}) {
    std::vector<std::vector<float>> params(sets.size()), grads(sets.size());
    std::vector<std::string> plans(sets.size());
    for (std::size_t i = 0; i < sets.size(); ++i) {
      test::FastPathSettings settings(1, sets[i]);
      Network net = load_network(preset);
      net.init(5);
      // the same dW and dA kernels on every set; the forwards differ (avx512_16's rows of 16 pixels and vectors of 16
      // channels), but every one sums each output in the same order
      for (std::size_t l = 0; l < net.size(); ++l)
        if (const auto* c = dynamic_cast<const Conv2D*>(&net.layer(l))) {
          std::string name = c->kernel_name();
          for (const std::string wide : {", rows of 16", ", forward over 16 channels", ", forward over channels"})
            if (const auto at = name.find(wide); at != std::string::npos) name.erase(at, wide.size());
          plans[i].append("[").append(name).append("] ");
        }
      Optimizer opt({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
      const int n = 10, classes = int(net.output_shape().sample_size());
      std::vector<int> labels(n);
      for (int step = 0; step < 2; ++step) {
        const Tensor x = test::random_tensor(net.input_shape().with_batch(n), 20 + std::uint64_t(step), 0.0f, 1.0f);
        for (int k = 0; k < n; ++k) labels[std::size_t(k)] = (k * 3 + step) % classes;
        net.forward_backward(x, labels.data(), std::uint64_t(step));
        opt.step(net);
      }
      params[i] = net.params();
      grads[i] = net.grads();
    }
    std::printf("[isa bits] %s: %s\n", preset, plans[0].c_str());
    EXPECT_GT(test::max_abs(grads[0].data(), grads[0].size()), 0.0) << preset;
    for (std::size_t i = 1; i < sets.size(); ++i) {
      const char* name = kernels::isa_name(sets[i]);
      EXPECT_EQ(plans[0], plans[i]) << preset << ", " << name;
      EXPECT_TRUE(same_bits(grads[0], grads[i])) << preset << ", " << name << ": gradients";
      EXPECT_TRUE(same_bits(params[0], params[i])) << preset << ", " << name << ": parameters after two steps";
    }
  }
}

// R ranks in one process: each a thread with its own network; all_gather and broadcast through shared memory.
class Ranks {
 public:
  explicit Ranks(int n) : n_(n), from_(std::size_t(n)) {}
  class Member : public Collective {
   public:
    Member(Ranks& g, int r) : g_(g), r_(r) {}
    int rank() const override { return r_; }
    int size() const override { return g_.n_; }
    void all_gather(const void* mine, const std::size_t* bytes, void* all) const override {
      g_.from_[std::size_t(r_)] = mine;
      g_.barrier();
      std::size_t at = 0;
      for (int q = 0; q < g_.n_; ++q) {
        if (bytes[q]) std::memcpy(static_cast<char*>(all) + at, g_.from_[std::size_t(q)], bytes[q]);  // none: null
        at += bytes[q];
      }
      g_.barrier();
    }
    void broadcast(void* data, std::size_t bytes, int root) const override {
      if (r_ == root) g_.from_[std::size_t(root)] = data;
      g_.barrier();
      if (r_ != root) std::memcpy(data, g_.from_[std::size_t(root)], bytes);
      g_.barrier();
    }

   private:
    Ranks& g_;
    int r_;
  };

 private:
  void barrier() {
    std::unique_lock<std::mutex> lock(m_);
    const std::uint64_t gen = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0, ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }
  int n_;
  std::vector<const void*> from_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
};

// Two SGD steps of the every-layer net on a global batch of n, as `ranks` processes: rank r's bits.
std::vector<Bits> train_two_steps_as(int ranks, int n, const char* net_text) {
  Ranks group(ranks);
  std::vector<Bits> out(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      Ranks::Member comm(group, r);
      Network net = network_from_text(net_text, "every layer");
      net.init(3);
      Optimizer opt({.kind = "sgd", .lr = 0.05, .momentum = 0.9});
      Bits& b = out[std::size_t(r)];
      for (int step = 0; step < 2; ++step) {
        const Tensor x = test::random_tensor({n, 3, 16, 16}, 10 + std::uint64_t(step), 0.0f, 1.0f);
        std::vector<int> labels(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) labels[std::size_t(i)] = (i * 7 + step) % 10;
        const auto [i0, i1] = local_images(n, r, ranks);
        Tensor mine({i1 - i0, 3, 16, 16});
        std::copy(x.sample(i0), x.sample(i0) + mine.size(), mine.data());
        b.loss = net.forward_backward(mine, labels.data() + i0, std::uint64_t(step), {&comm, n});
        opt.step(net);
      }
      b.grads = net.grads();
      b.params = net.params();
      b.buffers = net.buffers();
    });
  for (auto& t : threads) t.join();
  return out;
}

TEST(ProcessBits, EveryLayerTypeTrainsToTheSameBitsOnAnyNumberOfProcesses) {
  // the softmax cross-entropy loss as well as the squared error; batches that the chunks do not divide evenly, one
  // of fewer images than processes (ranks with no image still take part), one of more than 8 chunks' worth
  std::string cross_entropy = kEveryLayer;
  cross_entropy.replace(cross_entropy.find("squared_error"), 13, "softmax_cross_entropy");
  const std::string final_softmax = ",\n  {\"type\": \"softmax\"}";
  cross_entropy.erase(cross_entropy.find(final_softmax), final_softmax.size());
  for (const std::string& text : {std::string(kEveryLayer), cross_entropy})
    for (int n : {3, 13, 24}) {
      const Bits one = train_two_steps_as(1, n, text.c_str())[0];
      EXPECT_GT(test::max_abs(one.grads.data(), one.grads.size()), 0.0);
      for (int ranks : {2, 3, 4, 5}) {
        const std::vector<Bits> all = train_two_steps_as(ranks, n, text.c_str());
        for (int r = 0; r < ranks; ++r) {
          const Bits& t = all[std::size_t(r)];
          const std::string who = std::to_string(ranks) + " processes, batch " + std::to_string(n) + ", rank " +
                                  std::to_string(r) + (text == kEveryLayer ? " (squared error)" : " (cross-entropy)");
          EXPECT_EQ(std::memcmp(&one.loss, &t.loss, sizeof(double)), 0) << who << ": loss";
          EXPECT_TRUE(same_bits(one.grads, t.grads)) << who << ": parameter gradients";
          EXPECT_TRUE(same_bits(one.params, t.params)) << who << ": parameters after two steps";
          EXPECT_TRUE(same_bits(one.buffers, t.buffers)) << who << ": running statistics";
        }
      }
    }
}

// The shares: contiguous blocks of the chunks, every image once, rank order = image order.
TEST(ProcessBits, RanksTakeContiguousBlocksOfTheChunks) {
  for (int n : {1, 5, 8, 50, 128})
    for (int ranks = 1; ranks <= 9; ++ranks) {
      int at = 0;
      for (int r = 0; r < ranks; ++r) {
        const auto [b, e] = local_images(n, r, ranks);
        EXPECT_EQ(b, at) << n << " images, " << ranks << " ranks, rank " << r;
        EXPECT_LE(b, e);
        at = e;
      }
      EXPECT_EQ(at, n);
    }
  EXPECT_EQ(local_images(128, 1, 2), (std::pair<int, int>{64, 128}));
  EXPECT_EQ(local_images(50, 0, 4), (std::pair<int, int>{0, 12}));  // chunks of 6, 6, 6, 7, …: two of them
}

}  // namespace
}  // namespace cnn
