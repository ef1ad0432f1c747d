// Seed 002's subsampling layer: Z_j = β_j·down(A_j) + b_j with trainable β and b per feature map, its gradients
// dβ = Σ dZ∘down(A), db = Σ dZ, and the residual map β·up(dZ) (Kronecker product with a k×k matrix of ones),
// checked by hand on a worked example, against the literal reference, and by finite differences.
#include <cmath>

#include "helpers.h"
// The literal reference lives in src/reference/subsampling_ref.cpp; the cnn_reference target only compiles
// reference.cpp, so the definitions are compiled into this test. (Should cnn_reference also compile the file one
// day, the linker keeps these and never pulls the archive's copy: no clash.)
#include "reference/subsampling_ref.cpp"  // NOLINT(bugprone-suspicious-include)
#include "reference/subsampling_ref.h"

namespace cnn {
namespace {

Tensor matrix(int h, int w, std::initializer_list<float> v) {
  Tensor t({1, 1, h, w});
  std::size_t i = 0;
  for (float f : v) t[i++] = f;
  return t;
}

void set_beta_bias(Subsampling& s, std::initializer_list<float> beta, std::initializer_list<float> bias) {
  Tensor b = s.beta(), c = s.bias();
  std::size_t i = 0;
  for (float f : beta) b[i++] = f;
  i = 0;
  for (float f : bias) c[i++] = f;
}

TEST(Subsampling, UpIsTheKroneckerProductWithOnes) {
  // up([[1, 2], [3, 4]]) with n = 2: each element copied twice across and twice down.
  const Tensor u = ref::up(matrix(2, 2, {1, 2, 3, 4}), 2);
  const Tensor want = matrix(4, 4,
                             {1, 1, 2, 2,  //
                              1, 1, 2, 2,  //
                              3, 3, 4, 4,  //
                              3, 3, 4, 4});
  ASSERT_EQ(u.shape(), want.shape());
  for (std::size_t i = 0; i < u.size(); ++i) EXPECT_EQ(u[i], want[i]) << i;
  // The general product [a_ij·B] on a non-trivial B.
  const Tensor k = ref::kronecker(matrix(1, 2, {2, -1}), matrix(2, 2, {1, 2, 3, 4}));
  const Tensor kw = matrix(2, 4, {2, 4, -1, -2, 6, 8, -3, -4});
  for (std::size_t i = 0; i < k.size(); ++i) EXPECT_EQ(k[i], kw[i]) << i;
}

// A 4×4 map, 2×2 blocks, β = 0.5, b = 0.1, by hand:
//   down(A) = [[1+2+5+6, 3+4+7+8], [9+10+13+14, 11+12+15+16]] = [[14, 22], [46, 54]]
//   Z = 0.5·down(A) + 0.1 = [[7.1, 11.1], [23.1, 27.1]]
//   with dZ = [[1, −1], [2, 0.5]]:  db = 2.5,  dβ = 14 − 22 + 92 + 27 = 111,  dA = 0.5·up(dZ)
TEST(Subsampling, WorkedExample) {
  Network net({1, 1, 4, 4});
  net.add<Subsampling>(2);
  auto& s = dynamic_cast<Subsampling&>(net.layer(0));
  set_beta_bias(s, {0.5f}, {0.1f});
  net.set_need_input_gradient(true);
  Tensor a({1, 1, 4, 4});
  for (int i = 0; i < 16; ++i) a[i] = float(i + 1);
  const Tensor z = net.forward(a);
  const float zw[4] = {7.1f, 11.1f, 23.1f, 27.1f};
  ASSERT_EQ(z.shape(), (Shape{1, 1, 2, 2}));
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(z[i], zw[i]) << i;

  net.backward(matrix(2, 2, {1, -1, 2, 0.5f}));
  EXPECT_FLOAT_EQ(s.bias_grad()[0], 2.5f);
  EXPECT_FLOAT_EQ(s.beta_grad()[0], 111.0f);
  const Tensor& da = net.input_gradient(0);
  const float daw[16] = {0.5f, 0.5f, -0.5f, -0.5f, 0.5f, 0.5f, -0.5f, -0.5f,
                         1.0f, 1.0f, 0.25f, 0.25f, 1.0f, 1.0f, 0.25f, 0.25f};
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(da[i], daw[i]) << i;
}

// The layer's forward and backward against the literal formulas, with a size k does not divide (the last row and
// columns belong to no block: zero residual).
TEST(Subsampling, MatchesTheReference) {
  for (const int k : {2, 3}) {
    const Shape in{3, 4, 8, 11};
    Network net({1, in.c, in.h, in.w});
    net.add<Subsampling>(k);
    auto& s = dynamic_cast<Subsampling&>(net.layer(0));
    set_beta_bias(s, {0.7f, -1.3f, 0.2f, 2.0f}, {0.1f, -0.4f, 0.0f, 1.5f});
    net.set_need_input_gradient(true);
    const Tensor x = test::random_tensor(in, 31 + k);
    const Tensor z = net.forward(x);
    const Tensor zr = ref::subsampling_forward(x, s.beta(), s.bias(), k);
    ASSERT_EQ(z.shape(), zr.shape()) << "k=" << k;
    test::expect_close(z, zr, 1e-5, "forward k=" + std::to_string(k));

    const Tensor dz = test::random_tensor(z.shape(), 41 + k);
    net.backward(dz);
    const ref::SubsamplingGrads g = ref::subsampling_backward(x, s.beta(), dz, k);
    test::expect_close(net.input_gradient(0), g.dx, 1e-6, "dA k=" + std::to_string(k));
    test::expect_close(s.beta_grad(), g.dbeta, 1e-5, "dβ k=" + std::to_string(k));
    test::expect_close(s.bias_grad(), g.db, 1e-5, "db k=" + std::to_string(k));
    // The uncovered last column (11 = 3·3 + 2 for k = 3, 11 = 5·2 + 1 for k = 2) gets no residual.
    for (int n = 0; n < in.n; ++n)
      for (int c = 0; c < in.c; ++c)
        for (int y = 0; y < in.h; ++y) EXPECT_EQ(net.input_gradient(0).at(n, c, y, in.w - 1), 0.0f);
  }
}

// Seed 002's convolution-layer residual through a subsampling layer: δ^l = β·(f'(u^l) ∘ up(δ^{l+1})), here with
// f = sigmoid in front of the subsampling layer.
TEST(Subsampling, ResidualOfThePrecedingLayerIsBetaTimesFPrimeTimesUp) {
  const int k = 2;
  Network net({1, 2, 6, 6});
  net.add<Sigmoid>().add<Subsampling>(k);
  auto& s = dynamic_cast<Subsampling&>(net.layer(1));
  set_beta_bias(s, {1.5f, -0.75f}, {0.2f, 0.3f});
  net.set_need_input_gradient(true);
  const Tensor u = test::random_tensor({2, 2, 6, 6}, 51, -2, 2);
  const Tensor z = net.forward(u);
  const Tensor delta = test::random_tensor(z.shape(), 52);
  net.backward(delta);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c) {
      const Tensor up = ref::up(ref::map_of(delta, n, c), k);
      for (int y = 0; y < 6; ++y)
        for (int x = 0; x < 6; ++x) {
          const double sg = 1.0 / (1.0 + std::exp(-double(u.at(n, c, y, x))));
          const double want = s.beta()[c] * sg * (1.0 - sg) * up.at(0, 0, y, x);
          EXPECT_NEAR(net.input_gradient(0).at(n, c, y, x), want, 1e-6) << n << c << y << x;
        }
    }
}

void expect_gradients_ok(Network& net, const Tensor& x, const std::string& what) {
  const test::GradCheck g = test::check_gradients(net, x, 77, 1e-2);
  std::printf("[gradcheck] %-34s max relative error %.2e over %zu coordinates (%zu skipped at kinks)\n", what.c_str(),
              g.max_rel_error, g.checked, g.skipped);
  EXPECT_GT(g.checked, 0u) << what;
  EXPECT_GT(g.max_abs_analytic, 1e-4) << what;
  EXPECT_EQ(g.skipped, 0u) << what;
  EXPECT_LE(g.max_rel_error, 2e-3) << what;
}

TEST(Subsampling, GradientCheck) {
  Network net({1, 3, 6, 7});
  net.add<Subsampling>(2);
  net.init(3);
  set_beta_bias(dynamic_cast<Subsampling&>(net.layer(0)), {0.6f, -1.1f, 0.3f}, {0.5f, -0.2f, 0.1f});
  expect_gradients_ok(net, test::random_tensor({2, 3, 6, 7}, 61), "subsampling 2x2 s2");
}

TEST(Subsampling, GradientCheckOverlappingBlocks) {
  Network net({1, 2, 7, 7});
  net.add<Subsampling>(3, 2);
  net.init(4);
  set_beta_bias(dynamic_cast<Subsampling&>(net.layer(0)), {0.8f, -0.4f}, {0.0f, 0.3f});
  expect_gradients_ok(net, test::random_tensor({2, 2, 7, 7}, 62), "subsampling 3x3 s2 (overlap)");
}

// LeNet-1989 style: C → sigmoid → S (trainable β, b) → sigmoid → dense, every parameter checked.
TEST(Subsampling, GradientCheckInsideAConvNet) {
  Network net = network_from_text(R"({"input": [1, 10, 10], "loss": "squared_error", "layers": [
      {"type": "conv2d", "filters": 3, "kernel": 3}, {"type": "sigmoid"},
      {"type": "subsampling", "kernel": 2}, {"type": "sigmoid"}, {"type": "dense", "units": 4}]})",
                                  "conv-subsampling");
  net.init(5);
  expect_gradients_ok(net, test::random_tensor({2, 1, 10, 10}, 63), "conv+sigmoid+subsampling+dense");
}

TEST(Subsampling, DescriptionFileAndParameters) {
  Network net = network_from_text(
      R"({"input": [6, 28, 28], "layers": [{"type": "subsampling", "kernel": 2, "stride": 2}]})", "s.json");
  EXPECT_EQ(net.output_shape(), (Shape{1, 6, 14, 14}));
  EXPECT_EQ(net.params().size(), 12u);  // β and b for each of the 6 maps
  net.init(1);
  auto& s = dynamic_cast<Subsampling&>(net.layer(0));
  EXPECT_EQ(s.params().size(), 2u);
  EXPECT_EQ(s.params()[0].name, "beta");
  EXPECT_FLOAT_EQ(s.beta()[0], 0.25f);  // a fresh layer is average pooling
  EXPECT_FLOAT_EQ(s.bias()[5], 0.0f);
  const std::string text = network_to_text(net);
  EXPECT_NE(text.find("\"subsampling\""), std::string::npos);
  EXPECT_EQ(network_to_text(network_from_text(text, "again")), text);
  // Defaults: kernel 2, stride = kernel.
  Network d = network_from_text(R"({"input": [1, 9, 9], "layers": [{"type": "subsampling", "kernel": 3}]})", "d");
  EXPECT_EQ(d.output_shape(), (Shape{1, 1, 3, 3}));
  EXPECT_THROW(network_from_text(R"({"input": [1, 9, 9], "layers": [{"type": "subsampling", "beta": 1}]})", "b"),
               Error);
  EXPECT_THROW(network_from_text(R"({"input": [1, 1, 1], "layers": [{"type": "subsampling"}]})", "small"), Error);
  EXPECT_THROW(Subsampling(0), Error);
}

}  // namespace
}  // namespace cnn
