// Google Benchmark of every fast kernel, one thread, reporting GFLOP/s beside a large OpenBLAS SGEMM measured in
// the same run (the machine's practical peak), so each kernel's share of the peak shows:
//   build-*/bench/cnn_microbench [--benchmark_filter=conv]
// Convolutions are timed as whole layers on a batch of 50 (the training batch), once with the kernel family the
// layer picks (direct AVX-512 for stride 1) and once forced onto im2col + SGEMM: that comparison is how the choice
// per shape was made. FLOPs count 2 per multiply-add of the seeds' formulas (padding zeros not counted).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <vector>

#include "cnn/cnn.h"
#include "kernels/kernels.h"

namespace {

using namespace cnn;

Tensor random(Shape s, std::uint64_t seed) {
  Tensor t(s);
  Rng rng(seed);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The machine's practical peak: a large single-threaded SGEMM.
void BM_OpenBLAS_SGEMM(benchmark::State& state) {
  const int n = int(state.range(0));
  std::vector<float> a(std::size_t(n) * n, 0.5f), b(std::size_t(n) * n, 0.25f), c(std::size_t(n) * n);
  openblas_set_num_threads(1);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, 2.0 * n * n * n);
}
BENCHMARK(BM_OpenBLAS_SGEMM)->Arg(1024)->Unit(benchmark::kMillisecond);

struct ConvCase {
  const char* name;
  int c, h, w, o, k, stride;
  Padding pad;
  Pads pads = {};  // for Padding::explicit_pads
  bool bias = true;
};
const ConvCase kConvs[] = {
    {"seed5_C1", 1, 28, 28, 6, 5, 1, Padding::valid},
    {"seed5_C3", 6, 12, 12, 12, 5, 1, Padding::valid},
    {"lenet5_C1", 1, 28, 28, 6, 5, 1, Padding::same},
    {"lenet5_C3", 6, 14, 14, 16, 5, 1, Padding::valid},
    {"alexnet_conv3", 256, 13, 13, 384, 3, 1, Padding::same},
    // CIFAR-10 ResNets (He et al. 2016, section 4.2): 3×3 pad 1 without bias at 16/32/64 maps of 32/16/8 pixels, the
    // stride-2 3×3 and 1×1 convolutions between stages
    {"resnet_stem_3to16_32px", 3, 32, 32, 16, 3, 1, Padding::explicit_pads, {1, 1, 1, 1}, false},
    {"resnet_16_32px", 16, 32, 32, 16, 3, 1, Padding::explicit_pads, {1, 1, 1, 1}, false},
    {"resnet_32_16px", 32, 16, 16, 32, 3, 1, Padding::explicit_pads, {1, 1, 1, 1}, false},
    {"resnet_64_8px", 64, 8, 8, 64, 3, 1, Padding::explicit_pads, {1, 1, 1, 1}, false},
    {"resnet_down_16to32_s2", 16, 32, 32, 32, 3, 2, Padding::explicit_pads, {1, 1, 1, 1}, false},
    {"resnet_shortcut_1x1_16to32_s2", 16, 32, 32, 32, 1, 2, Padding::explicit_pads, {0, 0, 0, 0}, false},
};

// mode 0: forward; 1: backward (dW, db and dA). simd false forces the im2col + SGEMM family.
void BM_Conv(benchmark::State& state, ConvCase s, int mode, bool simd) {
  set_threads(1);
  kernels::set_simd_enabled(simd);
  const int batch = s.c > 64 ? 4 : 50;
  Network net({1, s.c, s.h, s.w});
  if (s.pad == Padding::explicit_pads)
    net.add<Conv2D>(s.o, s.k, s.stride, s.pads, s.bias);
  else
    net.add<Conv2D>(s.o, s.k, s.stride, s.pad, s.bias);
  net.init(1);
  net.set_need_input_gradient(true);
  kernels::set_simd_enabled(true);
  auto& conv = dynamic_cast<Conv2D&>(net.layer(0));
  state.SetLabel(conv.kernel_name());
  const Tensor x = random({batch, s.c, s.h, s.w}, 1);
  const Tensor& y = net.forward(x);
  const Tensor dy = random(y.shape(), 2);
  const double macs = double(conv.macs_per_sample()) * batch;
  for (auto _ : state) {
    if (mode == 0)
      net.forward(x);
    else
      net.backward(dy);
  }
  set_flops(state, 2.0 * macs * (mode == 0 ? 1 : 2));
}

void BM_Dense(benchmark::State& state, int in, int out, int mode) {
  set_threads(1);
  Network net({1, in, 1, 1});
  net.add<Dense>(out);
  net.init(1);
  net.set_need_input_gradient(true);
  const Tensor x = random({50, in, 1, 1}, 1);
  const Tensor& y = net.forward(x);
  const Tensor dy = random(y.shape(), 2);
  for (auto _ : state) {
    if (mode == 0)
      net.forward(x);
    else
      net.backward(dy);
  }
  set_flops(state, 2.0 * 50 * in * out * (mode == 0 ? 1 : 2));
}

void BM_MaxPool(benchmark::State& state, int mode) {
  set_threads(1);
  Network net({1, 6, 24, 24});
  net.add<MaxPool2D>(2);
  net.set_need_input_gradient(true);
  const Tensor x = random({50, 6, 24, 24}, 1);
  const Tensor& y = net.forward(x);
  const Tensor dy = random(y.shape(), 2);
  for (auto _ : state) {
    if (mode == 0)
      net.forward(x);
    else
      net.backward(dy);
  }
  set_flops(state, double(x.size()));  // one comparison (or one add) per input element
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(x.size() + y.size()) * 4);
}

void BM_ReLU(benchmark::State& state, int mode) {
  set_threads(1);
  Network net({1, 6, 24, 24});
  net.add<ReLU>();
  net.set_need_input_gradient(true);
  const Tensor x = random({50, 6, 24, 24}, 1);
  const Tensor& y = net.forward(x);
  const Tensor dy = random(y.shape(), 2);
  for (auto _ : state) {
    if (mode == 0)
      net.forward(x);
    else
      net.backward(dy);
  }
  set_flops(state, double(x.size()));
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(x.size()) * 4 * (mode == 0 ? 2 : 3));
}

void BM_SoftmaxCrossEntropy(benchmark::State& state) {
  const Tensor z = random({50, 10, 1, 1}, 1);
  std::vector<int> labels(50);
  for (int i = 0; i < 50; ++i) labels[std::size_t(i)] = i % 10;
  std::vector<float> dz(z.size());
  for (auto _ : state)
    benchmark::DoNotOptimize(kernels::softmax_cross_entropy(z.data(), labels.data(), 50, 10, dz.data()));
  set_flops(state, 50.0 * 10 * 6);
}

void BM_SeedStep(benchmark::State& state, const char* preset) {
  set_threads(int(state.range(0)));
  Network net = load_network(preset);
  net.init(1);
  Optimizer sgd({.lr = 0.1});
  const Tensor x = random(net.input_shape().with_batch(50), 1);
  std::vector<int> labels(50);
  for (int i = 0; i < 50; ++i) labels[std::size_t(i)] = i % 10;
  std::uint64_t step = 0;
  for (auto _ : state) {
    net.forward_backward(x, labels.data(), step++);
    sgd.step(net);
  }
  // forward + both backward products per multiply-add of the forward pass (the seeds' 1.05 MFLOP per seed5 image)
  set_flops(state, 50.0 * 2 * 3 * double(net.macs_per_sample()));
  state.counters["images/s"] = benchmark::Counter(50.0, benchmark::Counter::kIsIterationInvariantRate);
  set_threads(1);
}

[[maybe_unused]] const bool registered = [] {
  for (const ConvCase& s : kConvs) {
    for (int mode : {0, 1})
      for (bool simd : {true, false}) {
        const std::string name =
            std::string("BM_Conv/") + s.name + (mode ? "/backward" : "/forward") + (simd ? "/chosen" : "/im2col");
        benchmark::RegisterBenchmark(name.c_str(), BM_Conv, s, mode, simd)->Unit(benchmark::kMicrosecond);
      }
  }
  for (auto [in, out] : {std::pair{192, 10}, std::pair{400, 120}, std::pair{9216, 4096}})
    for (int mode : {0, 1})
      benchmark::RegisterBenchmark((std::string("BM_Dense/") + std::to_string(in) + "x" + std::to_string(out) +
                                    (mode ? "/backward" : "/forward"))
                                       .c_str(),
                                   BM_Dense, in, out, mode)
          ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_MaxPool2x2/50x6x24x24/forward_with_argmax", BM_MaxPool, 0)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_MaxPool2x2/50x6x24x24/backward", BM_MaxPool, 1)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_ReLU/50x6x24x24/forward", BM_ReLU, 0)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_ReLU/50x6x24x24/backward", BM_ReLU, 1)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_SoftmaxCrossEntropy/50x10", BM_SoftmaxCrossEntropy)->Unit(benchmark::kMicrosecond);
  for (const char* preset : {"seed5", "lenet5"})
    benchmark::RegisterBenchmark((std::string("BM_TrainingStep/") + preset + "/threads").c_str(), BM_SeedStep, preset)
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
