// The worked numbers of the seed documents, as test cases.
#include "helpers.h"
#include "reference/reference.h"

namespace cnn {
namespace {

Tensor matrix(int h, int w, std::vector<float> v) {
  Tensor t({1, 1, h, w});
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

// Seed 004: the 5×5 image ⊗ the 3×3 kernel [[1,0,1],[0,1,0],[1,0,1]] gives a 3×3 feature map starting with 4.
TEST(Seed004, FiveByFiveImageConvolvedWithXKernel) {
  const Tensor image = matrix(5, 5, {1, 1, 1, 0, 0,  //
                                     0, 1, 1, 1, 0,  //
                                     0, 0, 1, 1, 1,  //
                                     0, 0, 1, 1, 0,  //
                                     0, 1, 1, 0, 0});
  const Tensor kernel = matrix(3, 3, {1, 0, 1, 0, 1, 0, 1, 0, 1});
  const std::vector<float> expected{4, 3, 4, 2, 4, 3, 2, 3, 4};

  const Tensor ref = ref::correlate_valid(image, kernel);
  ASSERT_EQ(ref.shape(), (Shape{1, 1, 3, 3}));
  for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(ref[std::size_t(i)], expected[std::size_t(i)]) << "reference at " << i;

  // The same through the library's Conv2D layer, weights set by hand and zero bias.
  Network net({1, 1, 5, 5});
  net.add<Conv2D>(1, 3);
  auto& conv = dynamic_cast<Conv2D&>(net.layer(0));
  std::copy(kernel.data(), kernel.data() + 9, conv.weight().data());
  conv.bias()[0] = 0.0f;
  const Tensor& out = net.forward(image);
  ASSERT_EQ(out.shape(), (Shape{1, 1, 3, 3}));
  for (int i = 0; i < 9; ++i) EXPECT_FLOAT_EQ(out[std::size_t(i)], expected[std::size_t(i)]) << "Conv2D at " << i;
  EXPECT_FLOAT_EQ(out[0], 4.0f);
}

// Seed 004: softmax of (1, 2, 4) = (0.04201, 0.114195, 0.84379).
TEST(Seed004, SoftmaxOfOneTwoFour) {
  const float z[3] = {1, 2, 4};
  float o[3];
  softmax(z, o, 3);
  EXPECT_NEAR(o[0], 0.04201, 5e-6);
  EXPECT_NEAR(o[1], 0.114195, 5e-6);
  EXPECT_NEAR(o[2], 0.84379, 5e-6);
  // and through the Softmax layer
  Network net({1, 3, 1, 1});
  net.add<Softmax>();
  const Tensor& out = net.forward(Tensor::view(z, {1, 3, 1, 1}));
  EXPECT_NEAR(out[0], 0.04201, 5e-6);
  EXPECT_NEAR(out[2], 0.84379, 5e-6);
}

// Seed 004: L = −log O_t: −log(0.9503) = 0.0509, −log(0.9) = 0.1054, −log(0.8) = 0.2231 (to the seed's four
// decimals; it truncates 0.050976 to 0.0509).
TEST(Seed004, CrossEntropyValues) {
  SoftmaxCrossEntropy ce;
  for (auto [p, want] : std::vector<std::pair<double, double>>{{0.9503, 0.0509}, {0.9, 0.1054}, {0.8, 0.2231}}) {
    // logits whose softmax puts probability p on class 0 and splits the rest over classes 1 and 2
    const float rest = float((1.0 - p) / 2.0);
    const float logits[3] = {float(std::log(p)), std::log(rest), std::log(rest)};
    const int label = 0;
    EXPECT_NEAR(ce.compute(Tensor::view(logits, {1, 3, 1, 1}), &label, nullptr), want, 1e-4) << "p = " << p;
  }
  // The seed's three-class example: probabilities 0.9503, 0.0473, 0.0024 and true class 0.
  const float logits[3] = {std::log(0.9503f), std::log(0.0473f), std::log(0.0024f)};
  const int label = 0;
  EXPECT_NEAR(ce.compute(Tensor::view(logits, {1, 3, 1, 1}), &label, nullptr), 0.0509, 1e-4);
}

// Seed 004: dL/dz_t = O_t − 1 and dL/dz_i = O_i for i ≠ t.
TEST(Seed004, CrossEntropyGradientIsOMinusOneHot) {
  const float logits[3] = {1, 2, 4};
  float o[3];
  softmax(logits, o, 3);
  for (int t = 0; t < 3; ++t) {
    Tensor d;
    SoftmaxCrossEntropy().compute(Tensor::view(logits, {1, 3, 1, 1}), &t, &d);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(d[std::size_t(i)], i == t ? o[i] - 1.0f : o[i], 1e-7);
  }
  // batch of two: each sample's gradient is divided by the batch size (the seeds' batch mean)
  const float two[6] = {1, 2, 4, 1, 2, 4};
  const int labels[2] = {2, 0};
  Tensor d;
  SoftmaxCrossEntropy().compute(Tensor::view(two, {2, 3, 1, 1}), labels, &d);
  EXPECT_NEAR(d[2], (o[2] - 1.0f) / 2.0f, 1e-7);
  EXPECT_NEAR(d[3], (o[0] - 1.0f) / 2.0f, 1e-7);
}

// Seed 004: the 4×4 ⊗ 3×3 → 2×2 example, term by term.
TEST(Seed004, ConvolutionBackwardTermByTerm) {
  const Tensor A = matrix(
      4, 4, {0.3f, -1.2f, 0.5f, 0.8f, 1.1f, 0.4f, -0.7f, 0.2f, -0.6f, 0.9f, 1.3f, -0.1f, 0.7f, -0.4f, 0.6f, 1.5f});
  const Tensor W = matrix(3, 3, {0.2f, -0.5f, 0.1f, 0.4f, 0.3f, -0.2f, -0.3f, 0.6f, 0.5f});
  const Tensor DZ = matrix(2, 2, {0.7f, -0.3f, 0.2f, 0.9f});
  auto a = [&](int i, int j) { return A.at(0, 0, i - 1, j - 1); };  // the seed's 1-based names
  auto dz = [&](int i, int j) { return DZ.at(0, 0, i - 1, j - 1); };

  const ref::ConvGrads g = ref::conv2d_backward(A, W, DZ, 1, {});
  // DW11 = A11·DZ11 + A12·DZ12 + A21·DZ21 + A22·DZ22, DW12 and DW22 likewise
  EXPECT_NEAR(g.dw.at(0, 0, 0, 0), a(1, 1) * dz(1, 1) + a(1, 2) * dz(1, 2) + a(2, 1) * dz(2, 1) + a(2, 2) * dz(2, 2),
              1e-6);
  EXPECT_NEAR(g.dw.at(0, 0, 0, 1), a(1, 2) * dz(1, 1) + a(1, 3) * dz(1, 2) + a(2, 2) * dz(2, 1) + a(2, 3) * dz(2, 2),
              1e-6);
  EXPECT_NEAR(g.dw.at(0, 0, 1, 1), a(2, 2) * dz(1, 1) + a(2, 3) * dz(1, 2) + a(3, 2) * dz(2, 1) + a(3, 3) * dz(2, 2),
              1e-6);
  // dW = A ⊗ dZ as a whole
  test::expect_close(g.dw, ref::correlate_valid(A, DZ), 1e-6, "dW = A ⊗ dZ");
  // dA = pad(dZ, 2) ⊗ rot180(W)
  test::expect_close(g.dx, ref::correlate_valid(ref::zero_pad(DZ, 2, 2, 2, 2), ref::rot180(W)), 1e-6, "dA");
  // dA11 touches only Z11 through W11; dA22 touches all four outputs
  EXPECT_NEAR(g.dx.at(0, 0, 0, 0), dz(1, 1) * W.at(0, 0, 0, 0), 1e-6);
  EXPECT_NEAR(g.dx.at(0, 0, 1, 1),
              dz(1, 1) * W.at(0, 0, 1, 1) + dz(1, 2) * W.at(0, 0, 1, 0) + dz(2, 1) * W.at(0, 0, 0, 1) +
                  dz(2, 2) * W.at(0, 0, 0, 0),
              1e-6);
  // db = ΣDZ
  EXPECT_NEAR(g.db[0], 0.7f - 0.3f + 0.2f + 0.9f, 1e-6);

  // The Conv2D layer gives the same three gradients.
  Network net({1, 1, 4, 4});
  net.add<Conv2D>(1, 3);
  net.set_need_input_gradient(true);
  auto& conv = dynamic_cast<Conv2D&>(net.layer(0));
  std::copy(W.data(), W.data() + 9, conv.weight().data());
  net.forward(A);
  net.backward(DZ);
  test::expect_close(conv.weight_grad(), g.dw, 1e-6, "Conv2D dW");
  test::expect_close(net.input_gradient(0), g.dx, 1e-6, "Conv2D dA");
  EXPECT_NEAR(conv.bias_grad()[0], g.db[0], 1e-6);
}

// Seeds 001 and 004: max pooling routes the gradient to the argmax; average pooling spreads dZ/4 over a 2×2 window.
TEST(Seed004, PoolingRoutes) {
  const Tensor A = matrix(4, 4,
                          {1, 3, 2, 0,  //
                           4, 2, 1, 5,  //
                           0, 1, 7, 2,  //
                           6, 2, 3, 3});
  const Tensor DZ = matrix(2, 2, {10, 20, 30, 40});
  Network mp({1, 1, 4, 4});
  mp.add<MaxPool2D>(2);
  mp.set_need_input_gradient(true);
  const Tensor& z = mp.forward(A);
  EXPECT_EQ(std::vector<float>(z.data(), z.data() + 4), (std::vector<float>{4, 5, 6, 7}));
  mp.backward(DZ);
  const std::vector<float> want_max{0, 0, 0, 0, 10, 0, 0, 20, 0, 0, 40, 0, 30, 0, 0, 0};
  const Tensor& dmax = mp.input_gradient(0);
  EXPECT_EQ(std::vector<float>(dmax.data(), dmax.data() + 16), want_max);

  // Tie (3, 3 in the last window's bottom row is not the max, 7 is); a true tie goes to the first maximum:
  const Tensor T = matrix(2, 2, {5, 5, 5, 5});
  Network tie({1, 1, 2, 2});
  tie.add<MaxPool2D>(2);
  tie.set_need_input_gradient(true);
  tie.forward(T);
  tie.backward(matrix(1, 1, {1}));
  EXPECT_EQ(std::vector<float>(tie.input_gradient(0).data(), tie.input_gradient(0).data() + 4),
            (std::vector<float>{1, 0, 0, 0}));

  Network ap({1, 1, 4, 4});
  ap.add<AvgPool2D>(2);
  ap.set_need_input_gradient(true);
  const Tensor& za = ap.forward(A);
  EXPECT_FLOAT_EQ(za[0], (1 + 3 + 4 + 2) / 4.0f);
  ap.backward(DZ);
  const Tensor& davg = ap.input_gradient(0);
  EXPECT_FLOAT_EQ(davg.at(0, 0, 0, 0), 10.0f / 4);
  EXPECT_FLOAT_EQ(davg.at(0, 0, 1, 1), 10.0f / 4);
  EXPECT_FLOAT_EQ(davg.at(0, 0, 3, 3), 40.0f / 4);
  test::expect_close(davg, ref::avgpool_backward(A, DZ, 2, 2), 1e-7, "avgpool vs reference");
}

// Seed 004: ReLU's derivative is 1 where z ≥ 0 (z = 0 included) and 0 where z < 0.
TEST(Seed004, ReluPassesGradientWhereZIsAtLeastZero) {
  const float z[4] = {-1.0f, 0.0f, 2.0f, -0.0f};
  Network net({1, 4, 1, 1});
  net.add<ReLU>();
  net.set_need_input_gradient(true);
  net.forward(Tensor::view(z, {1, 4, 1, 1}));
  const float da[4] = {5, 6, 7, 8};
  net.backward(Tensor::view(da, {1, 4, 1, 1}));
  const Tensor& dz = net.input_gradient(0);
  EXPECT_EQ(std::vector<float>(dz.data(), dz.data() + 4), (std::vector<float>{0, 6, 7, 8}));
}

// Seed 004: Leaky ReLU is max(0.1x, x).
TEST(Seed004, LeakyReluDefaultsToAlphaPointOne) {
  const float z[2] = {-2.0f, 3.0f};
  Network net({1, 2, 1, 1});
  net.add<LeakyReLU>();
  const Tensor& a = net.forward(Tensor::view(z, {1, 2, 1, 1}));
  EXPECT_FLOAT_EQ(a[0], -0.2f);
  EXPECT_FLOAT_EQ(a[1], 3.0f);
}

// Seed 004: valid w_o = ceil((W − w + 1)/stride), same w_o = ceil(W/stride).
TEST(Seed004, OutputSizeFormulas) {
  for (int W : {5, 6, 7, 28, 31, 224})
    for (int k : {1, 3, 5, 11})
      for (int s : {1, 2, 3, 4}) {
        if (k > W) continue;
        Network valid({1, 1, W, W}), same({1, 1, W, W});
        valid.add<Conv2D>(1, k, s, Padding::valid);
        same.add<Conv2D>(1, k, s, Padding::same);
        EXPECT_EQ(valid.output_shape().w, (W - k + 1 + s - 1) / s) << W << " " << k << " " << s;
        EXPECT_EQ(same.output_shape().w, (W + s - 1) / s) << W << " " << k << " " << s;
      }
}

// Seed 003: seed5 has 6 filters of 5×5 + 6 biases, 12 filters of 6×5×5 + 12 biases, 1920 weights + 10 biases.
TEST(Seed003, Seed5ParameterCounts) {
  Network net = load_network("seed5");
  ASSERT_EQ(net.size(), 7u);
  EXPECT_EQ(net.param_count(0), 6u * 5 * 5 + 6);
  EXPECT_EQ(net.param_count(3), 12u * 6 * 5 * 5 + 12);
  EXPECT_EQ(net.param_count(6), 1920u + 10);
  EXPECT_EQ(net.params().size(), 156u + 1812 + 1930);
  EXPECT_EQ(net.activation(5).size(), 0u);  // nothing has flowed yet
  EXPECT_EQ(net.layer(2).output_shape(), (Shape{1, 6, 12, 12}));
  EXPECT_EQ(net.layer(5).output_shape(), (Shape{1, 12, 4, 4}));  // 12·4·4 = 192 inputs to O5
  EXPECT_EQ(dynamic_cast<const Dense&>(net.layer(6)).inputs(), 192);
}

// Seed 002: E = 1/(2N) Σ_n Σ_k (t − y)² over N samples; its gradient (y − t)/N.
TEST(Seed002, MeanSquaredErrorOverNSamples) {
  const float y[6] = {0.2f, 0.7f, 0.1f, 0.9f, 0.3f, 0.4f};
  const int labels[2] = {1, 0};
  Tensor d;
  const double E = SquaredError().compute(Tensor::view(y, {2, 3, 1, 1}), labels, &d);
  const double want = (0.2 * 0.2 + 0.3 * 0.3 + 0.1 * 0.1 + 0.1 * 0.1 + 0.3 * 0.3 + 0.4 * 0.4) / (2.0 * 2.0);
  EXPECT_NEAR(E, want, 1e-7);
  EXPECT_NEAR(d[1], (0.7f - 1.0f) / 2.0f, 1e-7);
  EXPECT_NEAR(d[5], 0.4f / 2.0f, 1e-7);
}

}  // namespace
}  // namespace cnn
