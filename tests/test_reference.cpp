// Every fast path against the literal formulas of src/reference/, on random shapes.
#include <sstream>

#include "helpers.h"
#include "reference/graph_ref.h"
#include "reference/reference.h"

namespace cnn {
namespace {

struct ConvCase {
  int n, c, h, w, o, kh, kw, stride;
  Padding pad;
};

// gtest names each case after its shape: n2_c3_9x11_o4_k3x2_s2_valid
std::string case_name(const ::testing::TestParamInfo<ConvCase>& info) {
  const ConvCase& p = info.param;
  std::ostringstream name;
  name << "n" << p.n << "_c" << p.c << "_" << p.h << "x" << p.w << "_o" << p.o << "_k" << p.kh << "x" << p.kw << "_s"
       << p.stride << "_" << to_string(p.pad);
  return name.str();
}

class ConvVsReference : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvVsReference, ForwardAndBackwardMatch) {
  const ConvCase p = GetParam();
  Network net({1, p.c, p.h, p.w});
  net.add<Conv2D>(p.o, KernelSize{p.kh, p.kw}, p.stride, p.pad);
  net.init(7);
  net.set_need_input_gradient(true);
  auto& conv = dynamic_cast<Conv2D&>(net.layer(0));
  const Tensor x = test::random_tensor({p.n, p.c, p.h, p.w}, 11);
  const ref::Pads pads{conv.pad_top(), conv.pad_bottom(), conv.pad_left(), conv.pad_right()};
  const Tensor want = ref::conv2d_forward(x, conv.weight(), conv.bias(), p.stride, pads);
  const Tensor& got = net.forward(x);
  ASSERT_EQ(got.shape(), want.shape());
  test::expect_close(got, want, 1e-5, "forward");

  const Tensor dz = test::random_tensor(got.shape(), 12);
  net.backward(dz);
  const ref::ConvGrads g = ref::conv2d_backward(x, conv.weight(), dz, p.stride, pads);
  test::expect_close(net.input_gradient(0), g.dx, 1e-5, "dA");
  test::expect_close(conv.weight_grad(), g.dw, 1e-5, "dW");
  test::expect_close(conv.bias_grad(), g.db, 1e-5, "db");
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvVsReference,
                         ::testing::Values(ConvCase{1, 1, 28, 28, 6, 5, 5, 1, Padding::valid},   // seed5 C1
                                           ConvCase{3, 6, 12, 12, 12, 5, 5, 1, Padding::valid},  // seed5 C3
                                           ConvCase{2, 3, 9, 11, 4, 3, 2, 2, Padding::valid},    // non-square, stride 2
                                           ConvCase{1, 2, 7, 7, 3, 3, 3, 2, Padding::same},
                                           ConvCase{5, 1, 8, 6, 2, 5, 3, 1, Padding::same},
                                           ConvCase{1, 3, 13, 13, 2, 4, 4, 3, Padding::same},   // even kernel, odd pad
                                           ConvCase{2, 2, 10, 10, 3, 3, 3, 3, Padding::valid},  // rows never reached
                                           ConvCase{1, 1, 32, 32, 2, 5, 5, 1, Padding::same}),
                         case_name);

TEST(DenseVsReference, ForwardAndBackwardMatch) {
  for (auto [n, c, h, w, k] :
       std::vector<std::array<int, 5>>{{1, 192, 1, 1, 10}, {7, 3, 4, 4, 5}, {50, 12, 4, 4, 10}}) {
    Network net({1, c, h, w});
    net.add<Dense>(k);
    net.init(3);
    net.set_need_input_gradient(true);
    auto& d = dynamic_cast<Dense&>(net.layer(0));
    const Tensor x = test::random_tensor({n, c, h, w}, 5);
    test::expect_close(net.forward(x), ref::dense_forward(x, d.weight(), d.bias()), 1e-5, "dense forward");
    const Tensor dz = test::random_tensor({n, k, 1, 1}, 6);
    net.backward(dz);
    const ref::DenseGrads g = ref::dense_backward(x, d.weight(), dz);
    test::expect_close(net.input_gradient(0), g.dx, 1e-5, "dense dA");
    test::expect_close(d.params()[0].grad, g.dw, 1e-5, "dense dW");
    test::expect_close(d.params()[1].grad, g.db, 1e-5, "dense dB");
  }
}

// A dense layer set up while the vector kernels run keeps its small-matrix plan; run after a switch to the portable
// set, its products take the portable loops of that plan (the same formulas, element by element).
TEST(DenseVsReference, SetUpWithVectorsRunOnThePortableSet) {
  if (!kernels::simd_available()) GTEST_SKIP() << "no vector set on this CPU";
  Network net({1, 12, 2, 2});
  net.add<Dense>(5);
  net.init(3);
  net.set_need_input_gradient(true);
  auto& d = dynamic_cast<Dense&>(net.layer(0));
  const test::FastPathSettings portable(1, kernels::Isa::portable);
  const Tensor x = test::random_tensor({6, 12, 2, 2}, 5), dz = test::random_tensor({6, 5, 1, 1}, 6);
  test::expect_close(net.forward(x), ref::dense_forward(x, d.weight(), d.bias()), 1e-5, "dense forward");
  net.backward(dz);
  const ref::DenseGrads g = ref::dense_backward(x, d.weight(), dz);
  test::expect_close(net.input_gradient(0), g.dx, 1e-5, "dense dA");
  test::expect_close(d.params()[0].grad, g.dw, 1e-5, "dense dW");
}

TEST(PoolVsReference, MaxAvgL2ForwardAndBackwardMatch) {
  for (auto [n, c, h, w, k, s] : std::vector<std::array<int, 6>>{
           {2, 3, 8, 8, 2, 2}, {1, 2, 7, 9, 3, 2}, {3, 1, 6, 6, 3, 3}, {1, 2, 5, 5, 2, 1}}) {
    const Tensor x = test::spaced_tensor({n, c, h, w}, 9);
    const Tensor pos = test::random_tensor({n, c, h, w}, 8, 0.1f, 1.0f);
    for (const std::string kind : {"max", "avg", "l2"}) {
      Network net({1, c, h, w});
      if (kind == "max") net.add<MaxPool2D>(k, s);
      if (kind == "avg") net.add<AvgPool2D>(k, s);
      if (kind == "l2") net.add<L2Pool2D>(k, s);
      net.set_need_input_gradient(true);
      const Tensor& in = kind == "l2" ? pos : x;
      const Tensor& got = net.forward(in);
      const Tensor want = kind == "max"   ? ref::maxpool_forward(in, k, s)
                          : kind == "avg" ? ref::avgpool_forward(in, k, s)
                                          : ref::l2pool_forward(in, k, s);
      test::expect_close(got, want, 1e-6, kind + " forward");
      const Tensor dz = test::random_tensor(got.shape(), 4);
      net.backward(dz);
      const Tensor wantd = kind == "max"   ? ref::maxpool_backward(in, dz, k, s)
                           : kind == "avg" ? ref::avgpool_backward(in, dz, k, s)
                                           : ref::l2pool_backward(in, dz, k, s);
      test::expect_close(net.input_gradient(0), wantd, 1e-6, kind + " backward");
    }
  }
}

// "2x3x5x7 on 3 threads" (ostringstream: GCC 12 at -O3 sees a false overlap in chains of std::string +)
std::string case_label(Shape s, int threads, const std::string& prefix = "") {
  std::ostringstream o;
  o << prefix << s.n << "x" << s.c << "x" << s.h << "x" << s.w << " on " << threads << " threads";
  return o.str();
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double m = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

// An owning copy (copying a view gives a view).
Tensor owned(const Tensor& t) {
  Tensor c(t.shape());
  std::copy(t.data(), t.data() + t.size(), c.data());
  return c;
}

// Batch normalisation on odd shapes, N = 1..5, 1×1 maps and M = 2, on 1 and 3 threads: the train-mode output and
// gradients through the batch statistics, the running statistics that forward leaves, then eval mode with them.
TEST(BatchNormVsReference, TrainRunningStatisticsAndEval) {
  for (const auto [n, c, h, w] : std::vector<std::array<int, 4>>{
           {1, 3, 5, 7}, {2, 1, 3, 3}, {3, 4, 1, 1}, {5, 2, 7, 5}, {4, 6, 9, 11}, {1, 2, 1, 2}, {2, 3, 16, 16}})
    for (int threads : {1, 3}) {
      const test::ThreadCount tc(threads);
      SCOPED_TRACE(case_label({n, c, h, w}, threads));
      const float momentum = n % 2 ? 0.1f : 0.3f, eps = n % 2 ? 1e-5f : 1e-3f;
      Network net({1, c, h, w});
      net.add<BatchNorm2D>(momentum, eps);
      net.init(3);
      test::randomize_batchnorms(net, std::uint64_t(n * 100 + c));
      net.set_need_input_gradient(true);
      auto& bn = dynamic_cast<BatchNorm2D&>(net.layer(0));
      const Tensor gamma = owned(bn.gamma()), beta = owned(bn.beta());
      Tensor running_mean = owned(bn.running_mean()), running_var = owned(bn.running_var());
      const Tensor x = test::random_tensor({n, c, h, w}, 40 + std::uint64_t(n), -1.0f, 3.0f);

      const ref::BatchNormTrain want = ref::batchnorm2d_forward_train(x, gamma, beta, eps);
      test::expect_close(net.forward(x, {Mode::train, 0}), want.y, 1e-5, "train forward");
      ref::batchnorm2d_update_running(x, momentum, running_mean, running_var);
      test::expect_close(bn.running_mean(), running_mean, 1e-6, "running mean");
      test::expect_close(bn.running_var(), running_var, 1e-6, "running variance");

      const Tensor dy = test::random_tensor(want.y.shape(), 50 + std::uint64_t(n));
      net.backward(dy);
      const ref::BatchNormGrads g = ref::batchnorm2d_backward_train(x, gamma, dy, eps);
      // dx = γ/σ·(dy − mean dy − x̂·mean(dy·x̂)) cancels terms of size γ/σ·|dy| down to almost nothing when M is
      // small (M = 2: x̂ = ±1 whatever x is), so float's error is measured on the scale of those terms; x − μ with
      // μ in float also loses digits when a channel's spread is small beside its mean (M = 3 here).
      double scale = 0.0;
      for (int k = 0; k < c; ++k)
        scale = std::max(scale, gamma[std::size_t(k)] / std::sqrt(double(want.var[std::size_t(k)]) + eps));
      scale *= test::max_abs(dy.data(), dy.size());
      EXPECT_LE(max_abs_diff(net.network_input_gradient(), g.dx), 1e-5 * scale) << "train dx";
      EXPECT_GT(test::max_abs(g.dx.data(), g.dx.size()), 0.0);
      test::expect_close(bn.params()[0].grad, g.dgamma, 1e-5, "train dgamma");
      test::expect_close(bn.params()[1].grad, g.dbeta, 1e-5, "train dbeta");

      const Tensor xe = test::random_tensor({n, c, h, w}, 60 + std::uint64_t(n), -2.0f, 2.0f);
      const Tensor want_eval = ref::batchnorm2d_forward_eval(xe, gamma, beta, running_mean, running_var, eps);
      const Tensor mean_before = owned(bn.running_mean()), var_before = owned(bn.running_var());
      test::expect_close(net.forward(xe, {Mode::eval, 0}), want_eval, 1e-5, "eval forward");
      test::expect_close(bn.running_mean(), mean_before, 0.0, "eval leaves the running mean");
      test::expect_close(bn.running_var(), var_before, 0.0, "eval leaves the running variance");
      net.backward(dy);
      const ref::BatchNormGrads ge = ref::batchnorm2d_backward_eval(xe, gamma, running_mean, running_var, dy, eps);
      test::expect_close(net.network_input_gradient(), ge.dx, 1e-5, "eval dx");
      test::expect_close(bn.params()[0].grad, ge.dgamma, 1e-5, "eval dgamma");
      test::expect_close(bn.params()[1].grad, ge.dbeta, 1e-5, "eval dbeta");
    }
}

TEST(GlobalAvgPoolVsReference, ForwardAndBackwardMatch) {
  for (const auto [n, c, h, w] : std::vector<std::array<int, 4>>{
           {1, 1, 1, 1}, {2, 3, 5, 7}, {5, 4, 8, 8}, {3, 16, 13, 11}, {4, 2, 1, 9}, {1, 64, 8, 8}})
    for (int threads : {1, 3}) {
      const test::ThreadCount tc(threads);
      SCOPED_TRACE(case_label({n, c, h, w}, threads));
      Network net({1, c, h, w});
      net.add<GlobalAvgPool2D>();
      net.set_need_input_gradient(true);
      const Tensor x = test::random_tensor({n, c, h, w}, 70 + std::uint64_t(c));
      const Tensor& y = net.forward(x);
      ASSERT_EQ(y.shape(), (Shape{n, c, 1, 1}));
      test::expect_close(y, ref::global_avgpool_forward(x), 1e-6, "forward");
      const Tensor dy = test::random_tensor({n, c, 1, 1}, 71);
      net.backward(dy);
      test::expect_close(net.network_input_gradient(), ref::global_avgpool_backward(x, dy), 1e-6, "backward");
    }
}

// The merge layers called directly through their graph forms, with two and three inputs; a null dx (an input
// whose gradient is not needed) is left alone and the others still get theirs.
TEST(MergeVsReference, AddForwardAndBackwardMatch) {
  for (const auto [n, c, h, w, k] :
       std::vector<std::array<int, 5>>{{1, 1, 1, 1, 2}, {2, 3, 5, 7, 3}, {5, 4, 9, 3, 2}, {3, 2, 6, 6, 4}})
    for (int threads : {1, 3}) {
      const test::ThreadCount tc(threads);
      SCOPED_TRACE(case_label({n, c, h, w}, threads, std::to_string(k) + " inputs of "));
      std::vector<Tensor> xs;
      for (int i = 0; i < k; ++i) xs.push_back(test::random_tensor({n, c, h, w}, 80 + std::uint64_t(i)));
      std::vector<const Tensor*> ptrs;
      for (const Tensor& x : xs) ptrs.push_back(&x);
      Add add;
      const std::vector<Shape> shapes(std::size_t(k), Shape{1, c, h, w});
      ASSERT_EQ(add.setup(std::span<const Shape>(shapes)), (Shape{1, c, h, w}));
      Tensor y;
      add.forward(std::span<const Tensor* const>(ptrs), y, {});
      test::expect_close(y, ref::add_forward(ptrs), 1e-6, "forward");
      const Tensor dy = test::random_tensor(y.shape(), 89);
      std::vector<Tensor> dxs(static_cast<std::size_t>(k));
      std::vector<Tensor*> dptrs;
      for (Tensor& d : dxs) dptrs.push_back(&d);
      dptrs[1] = nullptr;
      add.backward(std::span<const Tensor* const>(ptrs), y, dy, std::span<Tensor* const>(dptrs));
      const std::vector<Tensor> want = ref::add_backward(ptrs, dy);
      for (std::size_t i = 0; i < dxs.size(); ++i)
        if (i != 1) test::expect_close(dxs[i], want[i], 0.0, "dx of input " + std::to_string(i));
      EXPECT_TRUE(dxs[1].empty());
    }
}

TEST(MergeVsReference, ConcatForwardAndBackwardMatch) {
  struct Case {
    int n, h, w;
    std::vector<int> channels;
  };
  for (const Case& p :
       std::vector<Case>{{1, 1, 1, {1, 1}}, {2, 5, 7, {3, 1, 2}}, {5, 4, 3, {2, 5}}, {3, 9, 9, {1, 4, 2, 3}}})
    for (int threads : {1, 3}) {
      const test::ThreadCount tc(threads);
      SCOPED_TRACE(case_label({p.n, 0, p.h, p.w}, threads, std::to_string(p.channels.size()) + " inputs of "));
      std::vector<Tensor> xs;
      std::vector<Shape> shapes;
      int total = 0;
      for (std::size_t i = 0; i < p.channels.size(); ++i) {
        xs.push_back(test::random_tensor({p.n, p.channels[i], p.h, p.w}, 90 + i));
        shapes.push_back({1, p.channels[i], p.h, p.w});
        total += p.channels[i];
      }
      std::vector<const Tensor*> ptrs;
      for (const Tensor& x : xs) ptrs.push_back(&x);
      Concat concat;
      ASSERT_EQ(concat.setup(std::span<const Shape>(shapes)), (Shape{1, total, p.h, p.w}));
      Tensor y;
      concat.forward(std::span<const Tensor* const>(ptrs), y, {});
      test::expect_close(y, ref::concat_forward(ptrs), 0.0, "forward");
      const Tensor dy = test::random_tensor(y.shape(), 99);
      std::vector<Tensor> dxs(xs.size());
      std::vector<Tensor*> dptrs;
      for (Tensor& d : dxs) dptrs.push_back(&d);
      dptrs[0] = nullptr;
      concat.backward(std::span<const Tensor* const>(ptrs), y, dy, std::span<Tensor* const>(dptrs));
      const std::vector<Tensor> want = ref::concat_backward(ptrs, dy);
      for (std::size_t i = 1; i < xs.size(); ++i)
        test::expect_close(dxs[i], want[i], 0.0, "dx of input " + std::to_string(i));
      EXPECT_TRUE(dxs[0].empty());
    }
}

}  // namespace
}  // namespace cnn
