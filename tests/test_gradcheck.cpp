// Every layer's input, weight and bias gradients against central finite differences (objective accumulated in
// double), on shapes with stride 2, `same` padding, non-square kernels, several channels and each family of fast
// convolution kernels. Each check asserts that the gradients it compares are not all zero, prints the largest
// relative error it saw, and holds it to a tolerance a few times that error (measured on AVX-512 and on the portable
// path): the same check must fail when every analytic gradient is scaled by 1 + 10·tolerance, so a tolerance can
// never grow loose enough to let a slightly wrong gradient through. Linear layers are differenced with large steps
// (their differences are exact, so a large step only shrinks the rounding of the float forward passes).
#include <cstring>
#include <functional>

#include "helpers.h"
#include "kernels/kernels.h"

namespace cnn {
namespace {

// run(scale) is one gradient check with every analytic gradient multiplied by scale.
void expect_check_ok(const std::function<test::GradCheck(double)>& run, const std::string& what, double tol,
                     std::size_t max_skipped_per = 10) {
  const test::GradCheck g = run(1.0);
  std::printf("[gradcheck] %-40s max relative error %.2e (tolerance %.1e) over %zu coordinates (%zu skipped)\n",
              what.c_str(), g.max_rel_error, tol, g.checked, g.skipped);
  EXPECT_GT(g.checked, 0u) << what;
  EXPECT_GT(g.max_abs_analytic, 1e-4) << what << ": every gradient is zero, the check would prove nothing";
  EXPECT_LE(g.skipped, g.checked / max_skipped_per) << what << ": too many coordinates sat on a kink";
  EXPECT_LE(g.max_rel_error, tol) << what;
  const test::GradCheck off = run(1.0 + 10.0 * tol);
  EXPECT_GT(off.max_rel_error, tol) << what << ": a gradient scaled by 1 + 10·tolerance passes this check";
}

void expect_gradients_ok(Network& net, const Tensor& x, const std::string& what, double tol, double h) {
  expect_check_ok(
      [&](double scale) {
        net.init(21);
        return test::check_gradients(net, x, 99, h, 400, scale);
      },
      what, tol);
}

// The kernels a network's only Conv2D takes, for the checks that are there to exercise one family.
std::string conv_kernels(const Network& net) { return dynamic_cast<const Conv2D&>(net.layer(0)).kernel_name(); }
void expect_conv_kernels(const Network& net, const std::string& want) {
  EXPECT_EQ(conv_kernels(net), kernels::simd_available() ? want : "im2col");
}

TEST(GradCheck, Conv2DValidStride1) {
  Network net({1, 3, 7, 7});
  net.add<Conv2D>(4, KernelSize{3, 3}, 1, Padding::valid);
  expect_gradients_ok(net, test::random_tensor({2, 3, 7, 7}, 1), "conv2d valid 3x3 s1", 5e-5, 2.0);
}
TEST(GradCheck, Conv2DSameStride2NonSquare) {
  Network net({1, 2, 9, 8});
  net.add<Conv2D>(3, KernelSize{3, 2}, 2, Padding::same);
  expect_gradients_ok(net, test::random_tensor({2, 2, 9, 8}, 2), "conv2d same 3x2 s2", 6e-6, 2.0);
}
TEST(GradCheck, Conv2DValidStride2EvenKernel) {
  Network net({1, 2, 10, 9});
  net.add<Conv2D>(2, KernelSize{4, 4}, 2, Padding::valid);
  expect_gradients_ok(net, test::random_tensor({3, 2, 10, 9}, 3), "conv2d valid 4x4 s2", 1.5e-5, 2.0);
}

// `same` at stride 1, odd kernel: full 8-pixel rows and 6 maps take the direct kernels along rows (forward, dW) and dA
// tap by tap (the padding rules out dA over the batch, and dA's rows are no wider than dZ's).
TEST(GradCheck, Conv2DSameStride1Rows) {
  Network net({1, 3, 8, 8});
  net.add<Conv2D>(6, 5, 1, Padding::same);
  expect_conv_kernels(net, "direct");
  expect_gradients_ok(net, test::random_tensor({2, 3, 8, 8}, 41), "conv2d same 5x5 s1 (" + conv_kernels(net) + ")",
                      4e-5, 2.0);
}
// A CIFAR ResNet's 3×3 `same` convolution on rows of 16: dA as a forward convolution of the same shape, and with
// 16-float vectors (avx512_16) the forward and that dA along rows of 16 pixels.
TEST(GradCheck, Conv2DSame3x3Rows16) {
  Network net({1, 4, 6, 16});
  net.add<Conv2D>(8, 3, 1, Padding::same);
  expect_conv_kernels(net, kernels::isa() == kernels::Isa::avx512_16
                               ? "direct, rows of 16, dW over channels, dA as forward"
                               : "direct, dW over channels, dA as forward");
  expect_gradients_ok(net, test::random_tensor({2, 4, 6, 16}, 43), "conv2d same 3x3 s1 (" + conv_kernels(net) + ")",
                      1e-4, 2.0);
}
// `same` at stride 1 with even kernels: the pads are asymmetric (one more at the bottom and right).
TEST(GradCheck, Conv2DSameStride1EvenKernel) {
  Network net({1, 2, 7, 10});
  net.add<Conv2D>(3, KernelSize{4, 2}, 1, Padding::same);
  const auto& conv = dynamic_cast<const Conv2D&>(net.layer(0));
  EXPECT_EQ(net.layer(0).output_shape(), (Shape{1, 3, 7, 10}));
  EXPECT_EQ(conv.pad_top() + conv.pad_bottom(), 3);
  EXPECT_EQ(conv.pad_left() + conv.pad_right(), 1);
  expect_gradients_ok(net, test::random_tensor({2, 2, 7, 10}, 42), "conv2d same 4x2 s1 (" + conv_kernels(net) + ")",
                      1.5e-5, 2.0);
}
// 8 filters on 10-pixel output rows (a vector and a quarter): forward and dW over channels; no padding: dA over the
// batch.
TEST(GradCheck, Conv2DChannelsAndBatchDA) {
  Network net({1, 3, 12, 12});
  net.add<Conv2D>(8, 3, 1, Padding::valid);
  expect_conv_kernels(net, "direct, forward over channels, dW over channels, dA over the batch");
  expect_gradients_ok(net, test::random_tensor({3, 3, 12, 12}, 43), "conv2d 8@3x3 s1 (" + conv_kernels(net) + ")",
                      1.2e-4, 0.5);
}
// A 3×7 kernel with its pads inside the kernel: dA's 16-pixel rows fill the vectors far better than dZ's 11, so dA
// is computed as a forward convolution of the bordered dZ; kw 7 is past the channel kernels' reach.
TEST(GradCheck, Conv2DDAAsForward) {
  Network net({1, 4, 10, 16});
  net.add<Conv2D>(8, KernelSize{3, 7}, 1, Pads{0, 2, 1, 0});
  expect_conv_kernels(net, "direct, dA as forward");
  expect_gradients_ok(net, test::random_tensor({2, 4, 10, 16}, 44), "conv2d 3x7 pads (" + conv_kernels(net) + ")", 5e-4,
                      0.5);
}
// 3-pixel output rows fill too few vector lanes for the direct kernels: im2col + SGEMM even at stride 1.
TEST(GradCheck, Conv2DIm2colAtStride1) {
  Network net({1, 5, 5, 5});
  net.add<Conv2D>(4, 3, 1, Padding::valid);
  EXPECT_EQ(conv_kernels(net), "im2col");
  expect_gradients_ok(net, test::random_tensor({2, 5, 5, 5}, 45), "conv2d 3x3 s1 on 5x5 (im2col)", 3e-5, 2.0);
}
TEST(GradCheck, Dense) {
  Network net({1, 3, 4, 2});
  net.add<Dense>(5);
  expect_gradients_ok(net, test::random_tensor({4, 3, 4, 2}, 4), "dense 24->5", 1e-5, 2.0);
}
TEST(GradCheck, MaxPool2D) {
  Network net({1, 2, 6, 7});
  net.add<MaxPool2D>(2, 2);
  expect_gradients_ok(net, test::spaced_tensor({2, 2, 6, 7}, 5), "maxpool2d 2x2 s2", 1e-6, 1e-3);
}
TEST(GradCheck, MaxPool2DOverlapping) {
  Network net({1, 2, 7, 7});
  net.add<MaxPool2D>(3, 2);
  expect_gradients_ok(net, test::spaced_tensor({2, 2, 7, 7}, 6), "maxpool2d 3x3 s2 (overlap)", 1e-6, 1e-3);
}
// Padded max pooling (torchvision's ResNet stem: 3×3, stride 2, padding 1; and uneven pads as ceil_mode makes): the
// padded positions are −∞, so an edge window's maximum is among its pixels inside the map, including negative ones.
TEST(GradCheck, MaxPool2DPadded) {
  Network net({1, 2, 7, 8});
  net.add<MaxPool2D>(3, 2, Pads{1, 1, 1, 1});
  EXPECT_EQ(net.output_shape().h, 4);
  EXPECT_EQ(net.output_shape().w, 4);
  const Tensor x = test::spaced_tensor({2, 2, 7, 8}, 8);
  Tensor negative = x;
  for (std::size_t i = 0; i < negative.size(); ++i) negative[i] = -std::fabs(negative[i]) - 1.0f;
  const Tensor& y = net.forward(negative);
  EXPECT_LT(y[0], 0.0f);  // a zero-padded pool would give 0 here
  EXPECT_EQ(y[0], std::max({negative[0], negative[1], negative[8], negative[9]}));
  expect_gradients_ok(net, x, "maxpool2d 3x3 s2 pad 1", 1e-6, 1e-3);
  Network uneven({1, 1, 6, 6});
  uneven.add<MaxPool2D>(2, 2, Pads{0, 1, 1, 0});
  EXPECT_EQ(uneven.output_shape().h, 3);
  EXPECT_EQ(uneven.output_shape().w, 3);
  expect_gradients_ok(uneven, test::spaced_tensor({2, 1, 6, 6}, 9), "maxpool2d 2x2 s2 pad 0,1,1,0", 1e-6, 1e-3);
}
// Padded average pooling divides each window by the pixels of the input it holds, not by k² (PyTorch's
// count_include_pad=False): the corner window of a 3×3, stride 2, pad 1 pooling holds 4 pixels.
TEST(GradCheck, AvgPool2DPaddedCountsOnlyTheInput) {
  Network net({1, 2, 7, 8});
  net.add<AvgPool2D>(3, 2, Pads{1, 1, 1, 1});
  EXPECT_EQ(net.output_shape().h, 4);
  EXPECT_EQ(net.output_shape().w, 4);
  const Tensor x = test::spaced_tensor({2, 2, 7, 8}, 8);
  const Tensor& y = net.forward(x);
  EXPECT_FLOAT_EQ(y[0], (x[0] + x[1] + x[8] + x[9]) / 4.0f);                  // the corner: 2×2
  EXPECT_FLOAT_EQ(y[1], (x[1] + x[2] + x[3] + x[9] + x[10] + x[11]) / 6.0f);  // the top edge: 2×3
  EXPECT_FLOAT_EQ(y[5], (x[9] + x[10] + x[11] + x[17] + x[18] + x[19] + x[25] + x[26] + x[27]) / 9.0f);  // inside
  expect_gradients_ok(net, x, "avgpool2d 3x3 s2 pad 1", 3e-6, 2.0);  // linear: a wide step, no truncation
  Network uneven({1, 1, 6, 6});
  uneven.add<AvgPool2D>(2, 2, Pads{0, 1, 1, 0});
  EXPECT_EQ(uneven.output_shape().h, 3);
  expect_gradients_ok(uneven, test::spaced_tensor({2, 1, 6, 6}, 9), "avgpool2d 2x2 s2 pad 0,1,1,0", 3e-6, 2.0);
}
// Training runs Conv → ReLU → MaxPool as one fused step (the pooling reads the convolution's z); it must give the
// gradients of the three layers run one by one (keep_all), where the finite differences hold.
void expect_fused_pooling_exact(const MaxPool2D& pool) {
  Network net({1, 1, 9, 9});
  net.add<Conv2D>(4, KernelSize{3, 3}).add<ReLU>().add<MaxPool2D>(pool.window(), pool.pads()).add<Dense>(3);
  net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  net.init(5);
  const Tensor x = test::random_tensor({4, 1, 9, 9}, 31);
  const int labels[] = {0, 1, 2, 1};
  const double fused = net.forward_backward(x, labels, 0);
  const std::vector<float> g(net.grads().begin(), net.grads().end());
  net.set_need_input_gradient(true);
  EXPECT_NEAR(net.forward_backward(x, labels, 0), fused, 1e-6);
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < g.size(); ++i)
    worst = std::max(worst, double(std::fabs(g[i] - net.grads()[i]))), scale = std::max(scale, double(std::fabs(g[i])));
  EXPECT_GT(scale, 1e-4);
  EXPECT_LE(worst, 1e-6 * scale);
}
// Windows other than k×k (PyTorch's MaxPool2d((2, 3), stride=(1, 2), dilation=(2, 1)), ONNX's 1-D pooling as a k×1
// window): the literal loop over the taps, each output checked by hand at one place, and the finite differences.
TEST(GradCheck, PoolWindowsOtherThanSquare) {
  {
    Network net({1, 2, 7, 9});
    net.add<MaxPool2D>(PoolWindow{2, 3, 1, 2, 2, 1});  // taps at rows oy, oy + 2 and columns 2·ox … 2·ox + 2
    EXPECT_EQ(net.output_shape().sample_str(), "2x5x4");
    const Tensor x = test::spaced_tensor({2, 2, 7, 9}, 11);
    const Tensor& y = net.forward(x);
    const float* m = x.data() + 9 * 7;  // sample 0, channel 1
    EXPECT_EQ(y[20 + 1 * 4 + 2], std::max({m[9 + 4], m[9 + 5], m[9 + 6], m[27 + 4], m[27 + 5], m[27 + 6]}));
    expect_gradients_ok(net, x, "maxpool2d 2x3 stride 1,2 dilation 2,1", 1e-6, 1e-3);
  }
  {
    Network net({1, 2, 6, 4});
    net.add<AvgPool2D>(PoolWindow{3, 1, 2, 1}, Pads{1, 0, 1, 0});  // down the rows only; the padding not counted
    EXPECT_EQ(net.output_shape().sample_str(), "2x3x4");
    const Tensor x = test::spaced_tensor({2, 2, 6, 4}, 12);
    const Tensor& y = net.forward(x);
    EXPECT_FLOAT_EQ(y[1], (x[1] + x[4 + 1]) / 2.0f);                      // the top window holds rows 0 and 1
    EXPECT_FLOAT_EQ(y[4 + 3], (x[4 + 3] + x[8 + 3] + x[12 + 3]) / 3.0f);  // the second rows 1 to 3
    expect_gradients_ok(net, x, "avgpool2d 3x1 stride 2,1 pad 1,0,1,0", 3e-6, 2.0);
  }
  {
    Network net({1, 1, 3, 7});
    net.add<L2Pool2D>(PoolWindow{1, 3, 1, 1, 1, 2});  // columns ox, ox + 2, ox + 4
    EXPECT_EQ(net.output_shape().sample_str(), "1x3x3");
    Tensor x = test::spaced_tensor({2, 1, 3, 7}, 13);
    for (std::size_t i = 0; i < x.size(); i += 2) x[i] = -x[i];
    const Tensor& y = net.forward(x);
    EXPECT_FLOAT_EQ(y[3 + 1], std::sqrt(x[8] * x[8] + x[10] * x[10] + x[12] * x[12]));
    expect_gradients_ok(net, x, "l2pool2d 1x3 stride 1 dilation 1,2", 8e-4, 1e-3);
  }
  // Through the fused training step as well (below): Conv → ReLU → a rectangular, dilated MaxPool.
  expect_fused_pooling_exact(MaxPool2D(PoolWindow{3, 2, 2, 1, 1, 2}));
}
// maxpool2d_indices: where max pooling took each maximum (its argmax, the first on ties, for the fast kernel's square
// windows and the literal loop's alike), by rows or by columns, and no gradient.
TEST(GradCheck, MaxPoolIndicesAreTheMaxPoolingsArgmax) {
  Tensor x = test::random_tensor({2, 2, 7, 8}, 21);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::round(x[i] * 2.0f);  // five values: many ties
  for (const auto& [win, pads] :
       {std::pair{PoolWindow::square(2, 2), Pads{}}, std::pair{PoolWindow::square(3, 2), Pads{1, 1, 1, 1}},
        std::pair{PoolWindow{2, 3, 1, 2, 2, 1}, Pads{}}}) {
    Network pool({1, 2, 7, 8});
    pool.add<MaxPool2D>(win, pads);
    pool.forward(x);
    const auto& argmax = dynamic_cast<const MaxPool2D&>(pool.layer(0)).argmax();
    for (auto order : {MaxPoolIndices::Order::rows, MaxPoolIndices::Order::columns}) {
      Network idx({1, 2, 7, 8});
      idx.add<MaxPoolIndices>(win, pads, order);
      const Tensor& y = idx.forward(x);
      ASSERT_EQ(y.size(), argmax.size());
      for (std::size_t i = 0; i < y.size(); ++i) {
        const std::uint32_t a = argmax[i];
        ASSERT_EQ(y[i], float(order == MaxPoolIndices::Order::rows ? a : a % 8 * 7 + a / 8)) << idx.layer(0).summary();
      }
      idx.set_need_input_gradient(true);
      idx.forward(x, {Mode::train, 0});
      idx.backward(Tensor(y.shape(), 1.0f));
      const Tensor& dx = idx.network_input_gradient();
      EXPECT_EQ(std::count(dx.data(), dx.data() + dx.size(), 0.0f), std::ptrdiff_t(dx.size()));
    }
  }
}
// The fused step with padded max pooling.
TEST(GradCheck, MaxPool2DPaddedFusedAfterConvAndRelu) { expect_fused_pooling_exact(MaxPool2D(3, 2, Pads{1, 1, 1, 1})); }
TEST(GradCheck, AvgPool2D) {
  Network net({1, 3, 6, 6});
  net.add<AvgPool2D>(2, 2);
  expect_gradients_ok(net, test::random_tensor({2, 3, 6, 6}, 7), "avgpool2d 2x2 s2", 6e-7, 2.0);
}
// Signed inputs: ∂z/∂a = a/z keeps the sign of a (the mutation da += g·|a| passed every check on positive inputs
// and fails here; watched).
TEST(GradCheck, L2Pool2DSignedInputs) {
  for (int stride : {3, 2}) {
    Network net({1, 2, 7, 7});
    net.add<L2Pool2D>(3, stride);
    const Tensor x = test::random_tensor({2, 2, 7, 7}, 8);
    EXPECT_LT(*std::min_element(x.data(), x.data() + x.size()), -0.5f);
    expect_gradients_ok(net, x, "l2pool2d 3x3 s" + std::to_string(stride) + ", signed inputs", 8e-4, 1e-2);
  }
}
TEST(GradCheck, ReLU) {
  Network net({1, 2, 5, 5});
  net.add<ReLU>();
  expect_gradients_ok(net, test::spaced_tensor({2, 2, 5, 5}, 9), "relu", 1e-6, 1e-3);
}
// Several slopes: a backward that uses the default 0.1 in place of its own α passed the check at α = 0.1 alone and
// fails these (watched).
TEST(GradCheck, LeakyReLUAtSeveralAlphas) {
  for (float alpha : {0.01f, 0.1f, 0.25f, 0.6f}) {
    Network net({1, 2, 5, 5});
    net.add<LeakyReLU>(alpha);
    expect_gradients_ok(net, test::spaced_tensor({2, 2, 5, 5}, 10), "leaky_relu " + std::to_string(alpha), 6e-5, 1e-3);
  }
}
TEST(GradCheck, Sigmoid) {
  Network net({1, 2, 4, 4});
  net.add<Sigmoid>();
  expect_gradients_ok(net, test::random_tensor({2, 2, 4, 4}, 11, -3, 3), "sigmoid", 4e-4, 1e-2);
}
TEST(GradCheck, Tanh) {
  Network net({1, 2, 4, 4});
  net.add<Tanh>();
  expect_gradients_ok(net, test::random_tensor({2, 2, 4, 4}, 12, -2, 2), "tanh", 2e-4, 1e-2);
}
TEST(GradCheck, Softmax) {
  Network net({1, 7, 1, 1});
  net.add<Softmax>();
  expect_gradients_ok(net, test::random_tensor({3, 7, 1, 1}, 13, -2, 2), "softmax", 1e-4, 1e-2);
}
// Softmax over all C·H·W features of a sample, not channel by channel: the sample's outputs sum to one (a per-channel
// softmax would give C), and the gradient couples every feature with every other.
TEST(GradCheck, SoftmaxOverChannelsAndPixels) {
  Network net({1, 3, 2, 2});
  net.add<Softmax>();
  const Tensor x = test::random_tensor({2, 3, 2, 2}, 46, -2, 2);
  net.init(21);
  const Tensor& y = net.forward(x);
  for (int n = 0; n < 2; ++n) {
    double sum = 0.0, channel0 = 0.0;
    for (int i = 0; i < 12; ++i) sum += y.sample(n)[i], channel0 += i < 4 ? y.sample(n)[i] : 0.0f;
    EXPECT_NEAR(sum, 1.0, 1e-6);
    EXPECT_LT(channel0, 0.95);
  }
  expect_gradients_ok(net, x, "softmax over 3x2x2", 2e-4, 1e-2);
}
// LogSoftmax over all C·H·W features: the seed's softmax(1, 2, 4) as logarithms, finite where a softmax underflows
// (ONNX's logsoftmax_large_number case), and its gradient against finite differences.
TEST(GradCheck, LogSoftmax) {
  Network seed({1, 3, 1, 1});
  seed.add<LogSoftmax>();
  const auto three = [](float u, float v, float w) {
    Tensor t({1, 3, 1, 1});
    t[0] = u, t[1] = v, t[2] = w;
    return t;
  };
  const Tensor a = seed.forward(three(1, 2, 4));
  const double log_sum = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(4.0));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(a[std::size_t(i)], (i == 2 ? 4.0 : i + 1.0) - log_sum, 1e-6);
  const Tensor& big = seed.forward(three(0, 1000, 10000));
  EXPECT_EQ(big[2], 0.0f);
  EXPECT_EQ(big[0], -10000.0f);
  Network net({1, 3, 2, 2});
  net.add<LogSoftmax>();
  // its outputs are logarithms of order 1, whose float rounding (~2e-7) the differences divide by 2h
  expect_gradients_ok(net, test::random_tensor({2, 3, 2, 2}, 47, -2, 2), "log_softmax over 3x2x2", 2e-3, 1e-2);
}
// Softmax and LogSoftmax along one axis of [N, C, H, W] (PyTorch's dim): every line along that axis sums to one and
// nothing else does (a softmax over the whole sample, or along another axis, fails the sums), and the gradient
// couples the values of a line only.
TEST(GradCheck, SoftmaxAndLogSoftmaxAlongEachAxis) {
  const int C = 3, H = 4, W = 5;
  const Tensor x = test::random_tensor({2, C, H, W}, 48, -2, 2);
  for (int axis : {1, 2, 3, -1}) {
    for (bool log : {false, true}) {
      const std::string what = std::string(log ? "log_softmax" : "softmax") + " axis " + std::to_string(axis);
      SCOPED_TRACE(what);
      Network net({1, C, H, W});
      if (log)
        net.add<LogSoftmax>(axis);
      else
        net.add<Softmax>(axis);
      net.init(21);
      const Tensor& y = net.forward(x);
      const int a = axis < 0 ? axis + 4 : axis;
      const int len = a == 1 ? C : a == 2 ? H : W;
      const std::size_t stride = a == 1 ? std::size_t(H) * W : a == 2 ? std::size_t(W) : 1;
      int lines = 0;
      for (int n = 0; n < 2; ++n)
        for (int c = 0; c < C; ++c)
          for (int h = 0; h < H; ++h)
            for (int w = 0; w < W; ++w) {
              if ((a == 1 && c) || (a == 2 && h) || (a == 3 && w)) continue;  // the first value of each line
              const float* first = y.sample(n) + (std::size_t(c) * H + h) * W + w;
              double sum = 0.0;
              for (int i = 0; i < len; ++i) sum += log ? std::exp(first[i * stride]) : first[i * stride];
              EXPECT_NEAR(sum, 1.0, 1e-5);
              ++lines;
            }
      EXPECT_EQ(lines, 2 * C * H * W / len);
      expect_gradients_ok(net, x, what, log ? 2e-3 : 3e-4, 1e-2);
    }
  }
}
TEST(GradCheck, SoftmaxAxisOutOfRangeIsRefused) {
  EXPECT_THROW(Softmax(4), Error);
  EXPECT_THROW(LogSoftmax(-4), Error);
}

TEST(GradCheck, Flatten) {
  Network net({1, 2, 3, 3});
  net.add<Flatten>().add<Dense>(3);
  expect_gradients_ok(net, test::random_tensor({2, 2, 3, 3}, 14), "flatten + dense", 4e-6, 2.0);
}
// Dropout in training at several rates, where 1/(1 − p) and 1/p differ (a forward that kept with 1/p passed the
// old check at p = 0.5 alone and fails the mask values here; watched). Every output is the input times 0 or 1/(1 − p),
// the kept share is 1 − p, dx = dy·m with the forward's own mask, another step draws another mask, and central
// differences under one mask (every forward of the check is the same training step) agree with dx.
TEST(GradCheck, DropoutInTraining) {
  for (float p : {0.1f, 0.3f, 0.7f}) {
    const std::string what = "dropout p " + std::to_string(p);
    Network net({1, 4, 10, 10});
    net.add<Dropout>(p);
    net.init(1);
    net.set_need_input_gradient(true);
    const Tensor x = test::random_tensor({8, 4, 10, 10}, 15);
    const Tensor y = net.forward(x, {Mode::train, 3});
    const Tensor dy = test::random_tensor(y.shape(), 16);
    net.backward(dy);
    const float keep = 1.0f / (1.0f - p);
    std::size_t kept = 0, bad_mask = 0, bad_grad = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float m = y[i] / x[i];  // the mask value the forward pass applied
      bad_mask += !(m == 0.0f || std::fabs(m - keep) <= 1e-6f * keep);
      bad_grad += std::fabs(net.input_gradient(0)[i] - dy[i] * m) > 1e-6f * keep;
      kept += m > 0.0f;
    }
    EXPECT_EQ(bad_mask, 0u) << what << ": outputs that are neither 0 nor x/(1 − p)";
    EXPECT_EQ(bad_grad, 0u) << what << ": dx differs from dy times the forward's mask";
    // 3200 draws: the kept share is 1 − p within four standard deviations (at most 0.033)
    const double share = double(kept) / double(x.size());
    EXPECT_NEAR(share, 1.0 - p, 4.0 * std::sqrt(p * (1.0 - p) / double(x.size()))) << what;
    const Tensor& other = net.forward(x, {Mode::train, 4});
    std::size_t differ = 0;
    for (std::size_t i = 0; i < x.size(); ++i) differ += (other[i] == 0.0f) != (y[i] == 0.0f);
    EXPECT_GT(differ, x.size() / 20) << what << ": step 4 drew step 3's mask";
    // eval mode is the identity
    const Tensor& ye = net.forward(x, {Mode::eval, 3});
    for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(ye[i], x[i]) << what;
    expect_check_ok(
        [&](double scale) { return test::check_graph_gradients(net, x, 99, Mode::train, 0.5, nullptr, 400, scale); },
        what + " (one mask)", 4e-7);
  }
}

// The losses' gradients against differences of the loss itself, with and without label smoothing. With smoothing ε
// the loss is also computed here from its definition, −(1/N)·Σ_n Σ_i q_i log softmax(z_n)_i with
// q = (1 − ε)·onehot + ε/K, and its gradient is (softmax(z) − q)/N: differences alone would pass a loss and gradient
// wrong in the same way (ε/(K − 1) for ε/K, say).
TEST(GradCheck, Losses) {
  const int labels[3] = {2, 0, 4};
  struct Case {
    std::string kind;
    float smoothing;
    double tol;
  };
  for (const Case& c : {Case{"softmax_cross_entropy", 0.0f, 1e-6}, Case{"squared_error", 0.0f, 2e-7},
                        Case{"softmax_cross_entropy", 0.1f, 1e-6}, Case{"softmax_cross_entropy", 0.35f, 2e-6}}) {
    const std::string what = c.kind + (c.smoothing > 0 ? " smoothing " + std::to_string(c.smoothing) : "");
    auto loss = make_loss(c.kind);
    loss->set_label_smoothing(c.smoothing);
    Tensor z = test::random_tensor({3, 5, 1, 1}, 17, -2, 2);
    Tensor d;
    const double value = loss->compute(z, labels, &d);
    auto worst_at = [&](double scale) {
      double worst = 0.0;
      for (std::size_t i = 0; i < z.size(); ++i) {
        const float old = z[i];
        z[i] = old + 1e-3f;
        const double fp = loss->compute(z, labels, nullptr);
        z[i] = old - 1e-3f;
        const double fm = loss->compute(z, labels, nullptr);
        z[i] = old;
        const double num = (fp - fm) / (double(old + 1e-3f) - double(old - 1e-3f));
        const double a = scale * d[i];
        worst = std::max(worst, std::fabs(num - a) / std::max({std::fabs(num), std::fabs(a), 1e-2}));
      }
      return worst;
    };
    const double worst = worst_at(1.0);
    std::printf("[gradcheck] %-40s max relative error %.2e (tolerance %.1e)\n", what.c_str(), worst, c.tol);
    EXPECT_LE(worst, c.tol) << what;
    EXPECT_GT(worst_at(1.0 + 10.0 * c.tol), c.tol) << what << ": a gradient scaled by 1 + 10·tolerance passes";
    EXPECT_GT(test::max_abs(d.data(), d.size()), 1e-3);
    if (c.kind != "softmax_cross_entropy") continue;
    double want = 0.0;
    for (int n = 0; n < 3; ++n) {
      double m = -1e300, sum = 0.0;
      for (int i = 0; i < 5; ++i) m = std::max(m, double(z[std::size_t(n) * 5 + i]));
      for (int i = 0; i < 5; ++i) sum += std::exp(double(z[std::size_t(n) * 5 + i]) - m);
      for (int i = 0; i < 5; ++i) {
        const double q = (i == labels[n] ? 1.0 - c.smoothing : 0.0) + c.smoothing / 5.0;
        const double log_p = double(z[std::size_t(n) * 5 + i]) - m - std::log(sum);
        want -= q * log_p / 3.0;
        EXPECT_NEAR(d[std::size_t(n) * 5 + i], (std::exp(log_p) - q) / 3.0, 1e-6) << what;
      }
    }
    EXPECT_NEAR(value, want, 1e-6 * want) << what;
  }
}

// The whole seed5 net: analytic gradient of the cross-entropy loss against finite differences.
TEST(GradCheck, WholeSeed5Net) {
  Network net = load_network("seed5");
  net.init(5);
  const Tensor x = test::random_tensor({2, 1, 28, 28}, 18, 0.0f, 1.0f);
  const int labels[2] = {3, 7};
  net.forward_backward(x, labels, 0);
  const std::vector<float> analytic = net.grads();
  auto loss_at = [&]() { return net.loss().compute(net.forward(x, {Mode::eval, 0}), labels, nullptr); };
  auto relu_pattern = [&]() {
    std::vector<std::uint32_t> p;
    for (std::size_t l : {1u, 4u})
      for (std::size_t i = 0; i < net.activation(l - 1).size(); ++i) p.push_back(net.activation(l - 1)[i] >= 0.0f);
    for (std::size_t l : {2u, 5u}) {
      const auto& a = dynamic_cast<const MaxPool2D&>(net.layer(l)).argmax();
      p.insert(p.end(), a.begin(), a.end());
    }
    return p;
  };
  auto check = [&](double scale) {
    test::GradCheck g;
    // every third parameter
    test::central_differences(g, loss_at, relu_pattern, net.params().data(), net.params().size(), analytic.data(), 2e-3,
                              net.params().size() / 3, scale);
    return g;
  };
  const double tol = 1.5e-3;
  const test::GradCheck g = check(1.0);
  std::printf("[gradcheck] %-40s max relative error %.2e (tolerance %.1e) over %zu parameters (%zu skipped)\n",
              "whole seed5 net", g.max_rel_error, tol, g.checked, g.skipped);
  const std::size_t checked = g.checked, skipped = g.skipped;
  const double biggest = g.max_abs_analytic, worst = g.max_rel_error;
  EXPECT_GT(check(1.0 + 10.0 * tol).max_rel_error, tol) << "a gradient scaled by 1 + 10·tolerance passes";
  EXPECT_GT(checked, 900u);
  EXPECT_LT(skipped, checked / 2);  // near-ties of max pooling over thousands of windows are real kinks
  EXPECT_GT(biggest, 1e-3);
  EXPECT_LE(worst, tol);
}

// The layers of graph networks. Batch normalisation's train-mode output depends on the whole batch, so every
// forward of these checks (analytic and numeric side alike) runs in the mode under test.
void expect_graph_gradients_ok(Network& net, const Tensor& x, Mode mode, const std::string& what, double tol, double h,
                               const int* labels = nullptr, std::size_t max_skipped_per = 10) {
  expect_check_ok([&](double scale) { return test::check_graph_gradients(net, x, 99, mode, h, labels, 1000, scale); },
                  what, tol, max_skipped_per);
}

TEST(GradCheck, BatchNorm2DTrain) {
  Network net({1, 3, 5, 4});
  net.add<BatchNorm2D>();
  net.init(21);
  test::randomize_batchnorms(net, 22);
  expect_graph_gradients_ok(net, test::random_tensor({3, 3, 5, 4}, 23, -1.0f, 2.0f), Mode::train, "batchnorm2d train",
                            2.5e-3, 1e-2);
}
// 1×1 maps: each channel's statistics are over the batch alone (M = 4), so the paths through μ and σ² weigh about as
// much as the direct one.
TEST(GradCheck, BatchNorm2DTrainOneByOneMaps) {
  Network net({1, 5, 1, 1});
  net.add<BatchNorm2D>(0.3f, 1e-3f);
  net.init(21);
  test::randomize_batchnorms(net, 24);
  expect_graph_gradients_ok(net, test::random_tensor({4, 5, 1, 1}, 25, -2.0f, 2.0f), Mode::train,
                            "batchnorm2d train 1x1 maps, N=4", 2.5e-3, 1e-2);
}
TEST(GradCheck, BatchNorm2DEval) {
  Network net({1, 4, 3, 5});
  net.add<BatchNorm2D>();
  net.init(21);
  test::randomize_batchnorms(net, 26);
  expect_graph_gradients_ok(net, test::random_tensor({2, 4, 3, 5}, 27), Mode::eval, "batchnorm2d eval", 6e-5, 1e-2);
}
TEST(GradCheck, GlobalAvgPool2D) {
  Network net({1, 3, 5, 7});
  net.add<GlobalAvgPool2D>();
  expect_graph_gradients_ok(net, test::random_tensor({2, 3, 5, 7}, 28), Mode::eval, "global_avgpool2d", 8e-5, 1e-2);
}
// Three branches from the input (tanh, sigmoid, the input itself) into one add: the input's gradient is the sum
// of three.
TEST(GradCheck, AddThreeBranches) {
  Network net({1, 2, 4, 3});
  net.add<Tanh>();
  net.add(std::make_unique<Sigmoid>(), {Network::kInput});
  net.add(std::make_unique<Add>(), {0, 1, Network::kInput});
  expect_graph_gradients_ok(net, test::random_tensor({2, 2, 4, 3}, 29, -2.0f, 2.0f), Mode::eval,
                            "add (tanh + sigmoid + input)", 6e-5, 1e-2);
}
// y = t + t with t = tanh(x): the add reads one layer twice, so ∂L/∂t = 2·dy.
TEST(GradCheck, AddSameValueTwice) {
  Network net({1, 3, 3, 4});
  net.add<Tanh>();
  net.add(std::make_unique<Add>(), {0, 0});
  expect_graph_gradients_ok(net, test::random_tensor({2, 3, 3, 4}, 30, -2.0f, 2.0f), Mode::eval,
                            "add (one layer twice)", 3e-4, 1e-2);
}
TEST(GradCheck, Concat) {
  Network net({1, 2, 5, 4});
  net.add<Conv2D>(3, 3, 1, Padding::same);
  net.add(std::make_unique<Sigmoid>(), {Network::kInput});
  net.add(std::make_unique<Concat>(), {0, Network::kInput, 1});
  net.init(21);
  expect_graph_gradients_ok(net, test::random_tensor({2, 2, 5, 4}, 31, -2.0f, 2.0f), Mode::eval,
                            "concat (conv, input, sigmoid)", 5e-4, 1e-2);
}

// Concat along rows and along columns: the values land block by block where torch.cat(dim=2 or 3) puts them, and
// each input's gradient is its part of dy.
TEST(GradCheck, ConcatAlongRowsAndColumns) {
  const Tensor x = test::random_tensor({2, 2, 5, 4}, 32, -2.0f, 2.0f);
  for (int axis : {2, 3}) {
    SCOPED_TRACE(axis);
    Network net({1, 2, 5, 4});
    net.add<Conv2D>(2, 3, 1, Padding::same);
    net.add(std::make_unique<Sigmoid>(), {Network::kInput});
    net.add(std::make_unique<Concat>(axis), {0, Network::kInput, 1});
    net.init(21);
    const Tensor& y = net.forward(x);
    ASSERT_EQ(y.shape(), (Shape{2, 2, axis == 2 ? 15 : 5, axis == 3 ? 12 : 4}));
    // the input, the middle of the three, at rows 5…9 (or columns 4…7) of every channel
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 2; ++c)
        for (int h = 0; h < 5; ++h)
          for (int w = 0; w < 4; ++w) {
            const std::size_t at =
                axis == 2 ? (std::size_t(c) * 15 + 5 + h) * 4 + w : (std::size_t(c) * 5 + h) * 12 + 4 + w;
            ASSERT_EQ(y.sample(n)[at], x.sample(n)[(std::size_t(c) * 5 + h) * 4 + w]) << n << c << h << w;
          }
    // float finite differences over three paths are noisier than one layer's; a misplaced run is off by 100%
    expect_graph_gradients_ok(net, x, Mode::eval, "concat along axis " + std::to_string(axis), 2e-3, 1e-2);
  }
}

// A constant joined to the input by a concat: every sample gets the same values, and the input's gradient is its
// own part of dy (the constant's own is none: it does not depend on the input).
TEST(GradCheck, ConstantJoinedByConcat) {
  Network net({1, 2, 3, 3});
  net.add(std::make_unique<Constant>(Shape{1, 1, 3, 3}, 0.5f), {Network::kInput});
  net.add(std::make_unique<Concat>(), {Network::kInput, 0});
  net.add<Tanh>();
  net.init(21);
  const Tensor x = test::random_tensor({2, 2, 3, 3}, 33, -2.0f, 2.0f);
  const Tensor& y = net.forward(x);
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(y.sample(n)[18 + i], std::tanh(0.5f));
  std::vector<float> v(9);
  for (int i = 0; i < 9; ++i) v[std::size_t(i)] = float(i) - 4.0f;
  dynamic_cast<Constant&>(net.layer(0)).set_values(v);
  const Tensor& y2 = net.forward(x);
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(y2.sample(n)[18 + i], std::tanh(float(i) - 4.0f));
  expect_graph_gradients_ok(net, x, Mode::eval, "constant joined by concat", 5e-4, 1e-2);
}

// The input standardisation with a different μ and σ per channel: dx[c] = dy[c]/σ_c (σ of another channel, or
// σ², shows at once).
TEST(GradCheck, Normalize) {
  Network net({1, 3, 4, 5});
  net.add<Normalize>(std::vector<float>{0.5f, -0.25f, 2.0f}, std::vector<float>{0.5f, 2.0f, 0.25f});
  net.init(21);
  expect_graph_gradients_ok(net, test::random_tensor({2, 3, 4, 5}, 35), Mode::eval, "normalize", 4e-7, 0.5);
}

// A residual block as in ResNet: conv → BN → relu → conv → BN, added to the block's input, relu, global average
// pooling, dense, softmax cross-entropy. The block input (layer 2) is read by the block's first conv and by the
// add, so a fan-out whose gradients are not summed shows in every parameter before it and in ∂L/∂x.
Network residual_net() {
  Network net({1, 3, 6, 5});
  net.add<Conv2D>(4, 3, 1, Padding::same);                        // 0
  net.add<BatchNorm2D>();                                         // 1
  net.add<ReLU>();                                                // 2: the block input
  net.add<Conv2D>(4, 3, 1, Padding::same);                        // 3
  net.add<BatchNorm2D>();                                         // 4
  net.add<ReLU>();                                                // 5
  net.add<Conv2D>(4, KernelSize{3, 1}, 1, Padding::same, false);  // 6
  net.add<BatchNorm2D>();                                         // 7
  net.add(std::make_unique<Add>(), {7, 2});                       // 8
  net.add<ReLU>();                                                // 9
  net.add<GlobalAvgPool2D>();                                     // 10
  net.add<Dense>(5);                                              // 11
  net.set_loss(make_loss("softmax_cross_entropy"));
  net.init(21);
  test::randomize_batchnorms(net, 32);
  return net;
}

// Every parameter and input coordinate. In train mode a step moves every ReLU input of the coordinate's channel
// (through the batch statistics), so more steps cross a kink than in eval mode: up to one in five is skipped.
TEST(GradCheck, ResidualNetTrain) {
  Network net = residual_net();
  const int labels[3] = {4, 0, 2};
  expect_graph_gradients_ok(net, test::random_tensor({3, 3, 6, 5}, 33), Mode::train, "residual net, train, loss", 5e-3,
                            2e-3, labels, 5);
}
TEST(GradCheck, ResidualNetEvalWeightedOutputs) {
  Network net = residual_net();
  expect_graph_gradients_ok(net, test::random_tensor({2, 3, 6, 5}, 34), Mode::eval, "residual net, eval, r.logits",
                            5e-3, 2e-3);
}

// Batch statistics are per-channel sums in one fixed order, so 1, 2 and 3 threads give the same bits: the output,
// the running statistics, every gradient. Also for the residual net's training step.
TEST(GradCheck, BatchNorm2DSameBitsForAnyThreadCount) {
  struct Run {
    std::vector<float> y, dx, grads, buffers;
  };
  auto run_bn = [](int threads) {
    test::ThreadCount tc(threads);
    Network net({1, 5, 7, 9});
    net.add<BatchNorm2D>();
    net.init(1);
    test::randomize_batchnorms(net, 2);
    net.set_need_input_gradient(true);
    const Tensor x = test::random_tensor({3, 5, 7, 9}, 3, -1.0f, 3.0f);
    const Tensor& y = net.forward(x, {Mode::train, 0});
    Run r;
    r.y.assign(y.data(), y.data() + y.size());
    net.backward(test::random_tensor(y.shape(), 4));
    r.dx.assign(net.network_input_gradient().data(), net.network_input_gradient().data() + x.size());
    r.grads = net.grads();
    r.buffers = net.buffers();
    return r;
  };
  auto run_resnet = [](int threads) {
    test::ThreadCount tc(threads);
    Network net = residual_net();
    net.set_need_input_gradient(true);
    const Tensor x = test::random_tensor({5, 3, 6, 5}, 5);
    const int labels[5] = {1, 2, 3, 4, 0};
    Run r;
    net.forward_backward(x, labels, 0);
    r.y.assign(net.activation(net.size() - 1).data(),
               net.activation(net.size() - 1).data() + net.activation(net.size() - 1).size());
    r.dx.assign(net.network_input_gradient().data(), net.network_input_gradient().data() + x.size());
    r.grads = net.grads();
    r.buffers = net.buffers();
    return r;
  };
  auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  for (auto run : {std::function<Run(int)>(run_bn), std::function<Run(int)>(run_resnet)}) {
    const Run one = run(1);
    EXPECT_GT(test::max_abs(one.dx.data(), one.dx.size()), 1e-4);
    for (int threads : {2, 3}) {
      const Run t = run(threads);
      EXPECT_TRUE(same_bits(one.y, t.y)) << threads << " threads: output";
      EXPECT_TRUE(same_bits(one.dx, t.dx)) << threads << " threads: input gradient";
      EXPECT_TRUE(same_bits(one.grads, t.grads)) << threads << " threads: parameter gradients";
      EXPECT_TRUE(same_bits(one.buffers, t.buffers)) << threads << " threads: running statistics";
    }
  }
}

}  // namespace
}  // namespace cnn
