// Every fast path against the literal formulas of src/reference/, on random shapes.
#include <sstream>

#include "helpers.h"
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
  for (auto [n, c, h, w, k] : std::vector<std::array<int, 5>>{{1, 192, 1, 1, 10}, {7, 3, 4, 4, 5}, {50, 12, 4, 4, 10}}) {
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

TEST(PoolVsReference, MaxAvgL2ForwardAndBackwardMatch) {
  for (auto [n, c, h, w, k, s] : std::vector<std::array<int, 6>>{{2, 3, 8, 8, 2, 2}, {1, 2, 7, 9, 3, 2}, {3, 1, 6, 6, 3, 3}, {1, 2, 5, 5, 2, 1}}) {
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
      const Tensor want = kind == "max" ? ref::maxpool_forward(in, k, s)
                          : kind == "avg" ? ref::avgpool_forward(in, k, s)
                                          : ref::l2pool_forward(in, k, s);
      test::expect_close(got, want, 1e-6, kind + " forward");
      const Tensor dz = test::random_tensor(got.shape(), 4);
      net.backward(dz);
      const Tensor wantd = kind == "max" ? ref::maxpool_backward(in, dz, k, s)
                           : kind == "avg" ? ref::avgpool_backward(in, dz, k, s)
                                           : ref::l2pool_backward(in, dz, k, s);
      test::expect_close(net.input_gradient(0), wantd, 1e-6, kind + " backward");
    }
  }
}

}  // namespace
}  // namespace cnn
