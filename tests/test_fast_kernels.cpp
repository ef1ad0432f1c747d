// The fast path (src/kernels/) against the literal formulas of src/reference/ on random shapes: strides,
// paddings, channel counts, odd and single-image batches, each through both kernel families (the direct AVX-512
// kernels where the CPU has them, and the portable im2col + SGEMM path), on 1 and 3 threads.
#include <array>

#include "helpers.h"
#include "kernels/kernels.h"
#include "reference/reference.h"

namespace cnn {
namespace {

using kernels::Isa;
using test::FastPathSettings;

struct RandomConv {
  int n, c, h, w, o, kh, kw, stride;
  Padding pad;
};

RandomConv random_conv(Rng& rng) {
  RandomConv p;
  const int batches[] = {1, 2, 3, 5, 7, 9, 13};
  p.n = batches[rng.below(7)];
  p.c = 1 + int(rng.below(7));
  p.o = 1 + int(rng.below(19));
  p.kh = 1 + int(rng.below(5));
  p.kw = 1 + int(rng.below(5));
  p.stride = rng.below(3) == 0 ? 2 + int(rng.below(2)) : 1;
  p.pad = rng.below(2) ? Padding::same : Padding::valid;
  p.h = p.kh + int(rng.below(20));
  p.w = p.kw + int(rng.below(30));
  return p;
}

std::string describe(const RandomConv& p) {
  return "n=" + std::to_string(p.n) + " c=" + std::to_string(p.c) + " " + std::to_string(p.h) + "x" +
         std::to_string(p.w) + " o=" + std::to_string(p.o) + " k=" + std::to_string(p.kh) + "x" + std::to_string(p.kw) +
         " s=" + std::to_string(p.stride) + " " + to_string(p.pad);
}

void check_conv(const RandomConv& p, bool fused_relu) {
  Network net({1, p.c, p.h, p.w});
  net.add<Conv2D>(p.o, KernelSize{p.kh, p.kw}, p.stride, p.pad);
  if (fused_relu) net.add<ReLU>();
  net.init(7);
  net.set_need_input_gradient(true);
  auto& conv = dynamic_cast<Conv2D&>(net.layer(0));
  const std::string what = describe(p) + " (" + conv.kernel_name() + (fused_relu ? ", fused relu)" : ")");
  const Tensor x = test::random_tensor({p.n, p.c, p.h, p.w}, 11);
  const ref::Pads pads{conv.pad_top(), conv.pad_bottom(), conv.pad_left(), conv.pad_right()};
  const Tensor z = ref::conv2d_forward(x, conv.weight(), conv.bias(), p.stride, pads);
  const Tensor& got = net.forward(x);
  ASSERT_EQ(got.shape(), z.shape()) << what;
  Tensor want = z;
  if (fused_relu) {
    for (std::size_t i = 0; i < want.size(); ++i) want[i] = want[i] >= 0.0f ? want[i] : 0.0f;
    test::expect_close(net.activation(0), z, 1e-5, what + ": pre-activation");
  }
  test::expect_close(got, want, 1e-5, what + ": forward");

  const Tensor dout = test::random_tensor(got.shape(), 12);
  net.backward(dout);
  Tensor dz = dout;
  if (fused_relu)
    for (std::size_t i = 0; i < dz.size(); ++i) dz[i] = z[i] >= 0.0f ? dz[i] : 0.0f;
  const ref::ConvGrads g = ref::conv2d_backward(x, conv.weight(), dz, p.stride, pads);
  test::expect_close(net.input_gradient(0), g.dx, 1e-5, what + ": dA");
  test::expect_close(conv.weight_grad(), g.dw, 1e-5, what + ": dW");
  test::expect_close(conv.bias_grad(), g.db, 1e-5, what + ": db");
}

class FastConv : public ::testing::TestWithParam<std::tuple<Isa, int>> {};

TEST_P(FastConv, RandomShapesMatchTheReference) {
  const auto [isa, threads] = GetParam();
  FastPathSettings settings(threads, isa);
  Rng rng(101 + 101 * int(isa));
  for (int t = 0; t < 60; ++t) {
    const RandomConv p = random_conv(rng);
    check_conv(p, t % 3 == 0);
    if (HasFatalFailure()) return;
  }
}

// The seed nets' convolutions, each through the kernels chosen for it (the three forms of the direct dA among them:
// across the batch for valid padding, as a forward convolution for a 7-wide kernel, tap by tap for "same"), and a
// CIFAR ResNet's 3×3 "same" ones on rows of 16, 32 and 48 pixels (rows of 16 with 16-float vectors), and strided
// ones over channels (its stride-2 3×3 and 1×1, stride 3, an even kernel).
TEST_P(FastConv, TheSeedNetShapesMatchTheReference) {
  const auto [isa, threads] = GetParam();
  FastPathSettings settings(threads, isa);
  const RandomConv shapes[] = {
      {5, 1, 28, 28, 6, 5, 5, 1, Padding::valid},   {5, 6, 12, 12, 12, 5, 5, 1, Padding::valid},
      {3, 1, 28, 28, 6, 5, 5, 1, Padding::same},    {3, 6, 14, 14, 16, 5, 5, 1, Padding::valid},
      {50, 6, 14, 14, 16, 5, 5, 1, Padding::valid}, {2, 3, 9, 11, 24, 3, 4, 1, Padding::same},
      {4, 2, 12, 9, 8, 6, 2, 1, Padding::valid},    {9, 4, 10, 16, 8, 3, 7, 1, Padding::valid},
      {17, 3, 7, 12, 5, 4, 5, 1, Padding::valid},   {3, 16, 32, 32, 16, 3, 3, 1, Padding::same},
      {2, 8, 16, 16, 24, 3, 3, 1, Padding::same},   {2, 5, 5, 48, 7, 3, 3, 1, Padding::same},
      {3, 16, 32, 32, 32, 3, 3, 2, Padding::same},  {2, 16, 16, 16, 32, 1, 1, 2, Padding::valid},
      {2, 5, 11, 13, 8, 3, 3, 3, Padding::valid},   {2, 4, 9, 10, 16, 5, 4, 2, Padding::same}};
  for (const RandomConv& p : shapes)
    for (bool relu : {false, true}) {
      check_conv(p, relu);
      if (HasFatalFailure()) return;
    }
}

INSTANTIATE_TEST_SUITE_P(IsaAndThreads, FastConv,
                         ::testing::Combine(::testing::ValuesIn(test::isas()), ::testing::Values(1, 3)),
                         test::isa_and_threads);

TEST(FastConvChoice, TheSeedShapesTakeTheDirectKernels) {
  if (!kernels::simd_available()) GTEST_SKIP() << "no AVX2 or AVX-512 on this CPU";
  Network net = load_network("seed5");
  EXPECT_EQ(dynamic_cast<Conv2D&>(net.layer(0)).kernel_name(), "direct, dA over the batch");
  EXPECT_EQ(dynamic_cast<Conv2D&>(net.layer(3)).kernel_name(), "direct, dW over channels, dA over the batch");
  Network lenet = load_network("lenet5");
  EXPECT_EQ(dynamic_cast<Conv2D&>(lenet.layer(0)).kernel_name(), "direct");
  const std::string over = kernels::isa() == kernels::Isa::avx512_16 ? "over 16 channels" : "over channels";
  EXPECT_EQ(dynamic_cast<Conv2D&>(lenet.layer(3)).kernel_name(),
            "direct, forward " + over + ", dW over channels, dA over the batch");
  Network wide({1, 4, 10, 16});  // a 7-wide kernel: dA as a forward convolution (dA's 16-pixel rows against dZ's 10)
  wide.add<Conv2D>(8, KernelSize{3, 7}, 1);
  EXPECT_EQ(dynamic_cast<Conv2D&>(wide.layer(0)).kernel_name(), "direct, dA as forward");
  Network big({1, 3, 64, 64});  // dA over the batch would need 4 MB of workspace per chunk: tap by tap instead
  big.add<Conv2D>(32, 3, 1);
  EXPECT_EQ(dynamic_cast<Conv2D&>(big.layer(0)).kernel_name(), "direct, dW over channels");
  Network strided({1, 3, 32, 32});  // 4 maps fill no vector of channels: im2col
  strided.add<Conv2D>(4, 3, 2);
  EXPECT_EQ(dynamic_cast<Conv2D&>(strided.layer(0)).kernel_name(), "im2col");
  Network strided8({1, 3, 32, 32});  // 8 of them: forward and dW over channels, dA by im2col
  strided8.add<Conv2D>(8, 3, 2);
  EXPECT_EQ(dynamic_cast<Conv2D&>(strided8.layer(0)).kernel_name(),
            "direct, forward over channels, dW over channels, dA by im2col");
}

// Conv2D → ReLU → MaxPool2D runs backward with the ReLU folded into the pooling's pass unless every input
// gradient is asked for; both ways give the same bits (half the pre-activations are negative, so the mask matters).
TEST(FastConvReluPool, FoldedBackwardEqualsTheLayerByLayerOne) {
  std::vector<std::pair<int, Isa>> runs;
  for (Isa isa : test::isas()) runs.push_back({1, isa});
  runs.push_back({3, kernels::isa()});
  for (auto [threads, isa] : runs) {
    FastPathSettings settings(threads, isa);
    std::vector<std::vector<float>> grads;
    for (bool every_gradient : {false, true}) {
      Network net({1, 3, 13, 19});  // pooled rows of 9: the vectorised kernel, with an odd last row and column
      net.add<Conv2D>(5, 3, 1, Padding::same);
      net.add<ReLU>();
      net.add<MaxPool2D>(2);
      net.add<Dense>(4);
      net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
      net.init(5);
      net.set_need_input_gradient(every_gradient);
      const Tensor x = test::random_tensor({7, 3, 13, 19}, 9);
      const int labels[7] = {0, 1, 2, 3, 0, 1, 2};
      net.forward_backward(x, labels, 0);
      grads.push_back(net.grads());
    }
    EXPECT_EQ(grads[0], grads[1]) << threads << " threads, " << kernels::isa_name(isa);
  }
}

// Pooling with the ReLU folded in (training reads Z and never writes R) gives the bits of pooling max(z, 0),
// argmax included: on rows shorter and longer than one vector, odd sizes, windows with no positive pixel, and the
// generic k×k path.
TEST(FastPool, MaxPoolWithTheReluFoldedInEqualsPoolingTheReluOutput) {
  for (Isa isa : test::isas()) {
    FastPathSettings settings(1, isa);
    for (auto [h, w, k, s] :
         {std::array{10, 10, 2, 2}, std::array{13, 19, 2, 2}, std::array{28, 28, 2, 2}, std::array{9, 11, 3, 2}}) {
      const int ho = (h - k) / s + 1, wo = (w - k) / s + 1, planes = 12;
      Tensor z = test::random_tensor({planes, 1, h, w}, 31);
      for (std::size_t i = 0; i < z.size(); i += 7) z[i] = 0.0f;  // exact zeros: the ReLU keeps them
      Tensor r = z;
      for (std::size_t i = 0; i < r.size(); ++i) r[i] = r[i] >= 0.0f ? r[i] : 0.0f;
      std::vector<float> y1(planes * ho * wo), y2(y1.size());
      std::vector<unsigned> a1(y1.size()), a2(y1.size());
      kernels::maxpool_forward(r.data(), planes, h, w, k, s, ho, wo, y1.data(), a1.data());
      kernels::maxpool_forward(z.data(), planes, h, w, k, s, ho, wo, y2.data(), a2.data(), true);
      EXPECT_EQ(y1, y2) << h << "x" << w << " k" << k << " s" << s << " " << kernels::isa_name(isa);
      EXPECT_EQ(a1, a2) << h << "x" << w << " k" << k << " s" << s << " " << kernels::isa_name(isa);
    }
  }
}

TEST(FastTranspose, AnyShapeAndStrides) {
  for (Isa isa : test::isas()) {
    FastPathSettings settings(1, isa);
    for (auto [rows, cols] :
         {std::pair{1, 1}, std::pair{8, 8}, std::pair{16, 100}, std::pair{13, 21}, std::pair{150, 12}}) {
      const std::size_t ld_src = cols + 3, ld_dst = rows + 5;
      std::vector<float> src(rows * ld_src), dst(cols * ld_dst, -1.0f);
      for (std::size_t i = 0; i < src.size(); ++i) src[i] = float(i);
      kernels::transpose(src.data(), rows, cols, ld_src, dst.data(), ld_dst);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
          ASSERT_EQ(dst[c * ld_dst + r], src[r * ld_src + c]) << rows << "x" << cols << " at " << r << "," << c;
      for (int c = 0; c < cols; ++c)  // the padding of each destination row is left alone
        for (std::size_t r = rows; r < ld_dst; ++r) ASSERT_EQ(dst[c * ld_dst + r], -1.0f);
    }
  }
}

TEST(FastDense, RandomShapesMatchTheReference) {
  for (auto [threads, isa] : {std::pair{1, Isa::avx2}, std::pair{1, Isa::avx512}, std::pair{3, kernels::isa()}}) {
    if (!kernels::isa_supported(isa)) continue;
    FastPathSettings settings(threads, isa);
    Rng rng(303);
    for (int t = 0; t < 12; ++t) {
      const int batches[] = {1, 2, 7, 50, 33};
      const int n = batches[rng.below(5)], c = 1 + int(rng.below(40)), h = 1 + int(rng.below(9)),
                k = 1 + int(rng.below(300));
      const bool relu = t % 2 == 1;
      const std::string what = "dense n=" + std::to_string(n) + " in=" + std::to_string(c * h * h) +
                               " out=" + std::to_string(k) + (relu ? " +relu" : "");
      Network net({1, c, h, h});
      net.add<Dense>(k);
      if (relu) net.add<ReLU>();
      net.init(3);
      net.set_need_input_gradient(true);
      auto& d = dynamic_cast<Dense&>(net.layer(0));
      const Tensor x = test::random_tensor({n, c, h, h}, 5);
      const Tensor z = ref::dense_forward(x, d.weight(), d.bias());
      Tensor want = z;
      if (relu)
        for (std::size_t i = 0; i < want.size(); ++i) want[i] = want[i] >= 0.0f ? want[i] : 0.0f;
      test::expect_close(net.forward(x), want, 1e-5, what + ": forward");
      const Tensor dout = test::random_tensor({n, k, 1, 1}, 6);
      net.backward(dout);
      Tensor dz = dout;
      if (relu)
        for (std::size_t i = 0; i < dz.size(); ++i) dz[i] = z[i] >= 0.0f ? dz[i] : 0.0f;
      const ref::DenseGrads g = ref::dense_backward(x, d.weight(), dz);
      test::expect_close(net.input_gradient(0), g.dx, 1e-5, what + ": dA");
      test::expect_close(d.params()[0].grad, g.dw, 1e-5, what + ": dW");
      test::expect_close(d.params()[1].grad, g.db, 1e-5, what + ": dB");
    }
  }
}

// The vectorised 2×2 kernel on ties (values from {0, 1, 2}): the first maximum in row-major order takes the
// gradient, as in the reference; odd and even sizes, rows shorter and longer than one vector.
TEST(FastPool, MaxPool2x2KeepsTheFirstMaximumOnTies) {
  for (Isa isa : test::isas())
    for (const Shape s :
         {Shape{3, 2, 9, 21}, Shape{2, 3, 8, 16}, Shape{1, 1, 2, 2}, Shape{4, 6, 28, 28}, Shape{2, 2, 6, 38}}) {
      FastPathSettings settings(1, isa);
      Network net({1, s.c, s.h, s.w});
      net.add<MaxPool2D>(2, 2);
      net.set_need_input_gradient(true);
      Tensor x(s);
      Rng rng(77);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(rng.below(3));
      const std::string what = std::string("maxpool 2/2 with ties, ") + kernels::isa_name(isa) + ", on " + s.str();
      test::expect_close(net.forward(x), ref::maxpool_forward(x, 2, 2), 0.0, what + ": forward");
      const Tensor dz = test::random_tensor(net.output_shape().with_batch(s.n), 5);
      net.backward(dz);
      test::expect_close(net.input_gradient(0), ref::maxpool_backward(x, dz, 2, 2), 0.0, what + ": backward");
    }
}

TEST(FastPool, MaxPoolWithArgmaxMatchesTheReference) {
  std::vector<std::pair<int, Isa>> runs;
  for (Isa isa : test::isas()) runs.push_back({1, isa});
  runs.push_back({3, kernels::isa()});
  for (auto [threads, isa] : runs) {
    FastPathSettings settings(threads, isa);
    Rng rng(404);
    for (int t = 0; t < 20; ++t) {
      const int batches[] = {1, 3, 8, 11};
      const int n = batches[rng.below(4)], c = 1 + int(rng.below(6)), k = 1 + int(rng.below(3)),
                s = 1 + int(rng.below(3)), h = k + int(rng.below(12)), w = k + int(rng.below(12));
      Network net({1, c, h, w});
      net.add<MaxPool2D>(k, s);
      net.set_need_input_gradient(true);
      const Tensor x = test::spaced_tensor({n, c, h, w}, 9 + t);
      const std::string what = "maxpool " + std::to_string(k) + "/" + std::to_string(s) + ", " +
                               kernels::isa_name(isa) + ", on " + x.shape().str();
      test::expect_close(net.forward(x), ref::maxpool_forward(x, k, s), 0.0, what + ": forward");
      const Tensor dz = test::random_tensor(net.output_shape().with_batch(n), 4);
      net.backward(dz);
      test::expect_close(net.input_gradient(0), ref::maxpool_backward(x, dz, k, s), 1e-6, what + ": backward");
    }
  }
}

TEST(FastActivations, ReLUForwardAndBackwardMatchTheSeedsRule) {
  for (int threads : {1, 3}) {
    FastPathSettings settings(threads, kernels::isa());
    Network net({1, 6, 24, 24});
    net.add<ReLU>();
    net.set_need_input_gradient(true);
    Tensor x = test::random_tensor({9, 6, 24, 24}, 21);
    x[0] = 0.0f;  // the seeds' rule: z = 0 passes its gradient
    const Tensor& y = net.forward(x);
    const Tensor dy = test::random_tensor(x.shape(), 22);
    net.backward(dy);
    for (std::size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(y[i], x[i] >= 0.0f ? x[i] : 0.0f) << i;
      ASSERT_EQ(net.input_gradient(0)[i], x[i] >= 0.0f ? dy[i] : 0.0f) << i;
    }
  }
}

// The zero-bordered copies a forward makes serve the backward on the same batch; a backward on another batch than
// the last forward's (a layer driven by hand) copies its own.
TEST(FastConvChoice, ABackwardReadsItsOwnBatchWhateverTheLastForwardRead) {
  Network net({1, 8, 16, 16});
  net.add<Conv2D>(16, 3, 1, Padding::same);
  net.init(3);
  auto& conv = dynamic_cast<Conv2D&>(net.layer(0));
  const Tensor x1 = test::random_tensor({3, 8, 16, 16}, 61), x2 = test::random_tensor({3, 8, 16, 16}, 62);
  const Tensor dy = test::random_tensor({3, 16, 16, 16}, 63);
  const ref::Pads pads{1, 1, 1, 1};
  Tensor z1, z2, dx;
  conv.forward(x1, z1, {Mode::train, 0});
  conv.forward(x2, z2, {Mode::train, 0});
  for (const Tensor* x : {&x1, &x2}) {
    conv.backward(*x, x == &x1 ? z1 : z2, dy, &dx);
    const ref::ConvGrads g = ref::conv2d_backward(*x, conv.weight(), dy, 1, pads);
    test::expect_close(conv.weight_grad(), g.dw, 1e-5, x == &x1 ? "dW of the earlier batch" : "dW of the last");
    test::expect_close(dx, g.dx, 1e-5, "dA");
  }
}

}  // namespace
}  // namespace cnn
