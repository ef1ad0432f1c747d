// Every layer's input, weight and bias gradients against central finite differences (objective accumulated in
// double), on shapes with stride 2, `same` padding, non-square kernels and several channels. Each check also
// asserts that the gradients it compares are not all zero, and prints the largest relative error it saw.
#include <cstring>
#include <functional>

#include "helpers.h"

namespace cnn {
namespace {

void expect_gradients_ok(Network& net, const Tensor& x, const std::string& what, double tol = 2e-3, double h = 1e-3) {
  net.init(21);
  const test::GradCheck g = test::check_gradients(net, x, 99, h);
  std::printf("[gradcheck] %-34s max relative error %.2e over %zu coordinates (%zu skipped at kinks)\n", what.c_str(),
              g.max_rel_error, g.checked, g.skipped);
  EXPECT_GT(g.checked, 0u) << what;
  EXPECT_GT(g.max_abs_analytic, 1e-4) << what << ": every gradient is zero, the check would prove nothing";
  EXPECT_LE(g.skipped, g.checked / 10) << what << ": too many coordinates sat on a kink";
  EXPECT_LE(g.max_rel_error, tol) << what;
}

TEST(GradCheck, Conv2DValidStride1) {
  Network net({1, 3, 7, 7});
  net.add<Conv2D>(4, KernelSize{3, 3}, 1, Padding::valid);
  expect_gradients_ok(net, test::random_tensor({2, 3, 7, 7}, 1), "conv2d valid 3x3 s1", 2e-3, 1e-2);
}
TEST(GradCheck, Conv2DSameStride2NonSquare) {
  Network net({1, 2, 9, 8});
  net.add<Conv2D>(3, KernelSize{3, 2}, 2, Padding::same);
  expect_gradients_ok(net, test::random_tensor({2, 2, 9, 8}, 2), "conv2d same 3x2 s2", 2e-3, 1e-2);
}
TEST(GradCheck, Conv2DValidStride2EvenKernel) {
  Network net({1, 2, 10, 9});
  net.add<Conv2D>(2, KernelSize{4, 4}, 2, Padding::valid);
  expect_gradients_ok(net, test::random_tensor({3, 2, 10, 9}, 3), "conv2d valid 4x4 s2", 2e-3, 1e-2);
}
TEST(GradCheck, Dense) {
  Network net({1, 3, 4, 2});
  net.add<Dense>(5);
  expect_gradients_ok(net, test::random_tensor({4, 3, 4, 2}, 4), "dense 24->5", 2e-3, 1e-2);
}
TEST(GradCheck, MaxPool2D) {
  Network net({1, 2, 6, 7});
  net.add<MaxPool2D>(2, 2);
  expect_gradients_ok(net, test::spaced_tensor({2, 2, 6, 7}, 5), "maxpool2d 2x2 s2");
}
TEST(GradCheck, MaxPool2DOverlapping) {
  Network net({1, 2, 7, 7});
  net.add<MaxPool2D>(3, 2);
  expect_gradients_ok(net, test::spaced_tensor({2, 2, 7, 7}, 6), "maxpool2d 3x3 s2 (overlap)");
}
TEST(GradCheck, AvgPool2D) {
  Network net({1, 3, 6, 6});
  net.add<AvgPool2D>(2, 2);
  expect_gradients_ok(net, test::random_tensor({2, 3, 6, 6}, 7), "avgpool2d 2x2 s2", 2e-3, 1e-2);
}
TEST(GradCheck, L2Pool2D) {
  Network net({1, 2, 6, 6});
  net.add<L2Pool2D>(3, 3);
  expect_gradients_ok(net, test::random_tensor({2, 2, 6, 6}, 8, 0.2f, 1.0f), "l2pool2d 3x3 s3");
}
TEST(GradCheck, ReLU) {
  Network net({1, 2, 5, 5});
  net.add<ReLU>();
  expect_gradients_ok(net, test::spaced_tensor({2, 2, 5, 5}, 9), "relu");
}
TEST(GradCheck, LeakyReLU) {
  Network net({1, 2, 5, 5});
  net.add<LeakyReLU>(0.1f);
  expect_gradients_ok(net, test::spaced_tensor({2, 2, 5, 5}, 10), "leaky_relu 0.1");
}
TEST(GradCheck, Sigmoid) {
  Network net({1, 2, 4, 4});
  net.add<Sigmoid>();
  expect_gradients_ok(net, test::random_tensor({2, 2, 4, 4}, 11, -3, 3), "sigmoid");
}
TEST(GradCheck, Tanh) {
  Network net({1, 2, 4, 4});
  net.add<Tanh>();
  expect_gradients_ok(net, test::random_tensor({2, 2, 4, 4}, 12, -2, 2), "tanh");
}
TEST(GradCheck, Softmax) {
  Network net({1, 7, 1, 1});
  net.add<Softmax>();
  expect_gradients_ok(net, test::random_tensor({3, 7, 1, 1}, 13, -2, 2), "softmax");
}
TEST(GradCheck, Flatten) {
  Network net({1, 2, 3, 3});
  net.add<Flatten>().add<Dense>(3);
  expect_gradients_ok(net, test::random_tensor({2, 2, 3, 3}, 14), "flatten + dense", 2e-3, 1e-2);
}
TEST(GradCheck, DropoutInTraining) {
  // Dropout's gradient with a fixed mask: compare dx = dy·m/(1−p) with differences taken under the same mask.
  Network net({1, 4, 3, 3});
  net.add<Dropout>(0.5f);
  net.init(1);
  net.set_need_input_gradient(true);
  const Tensor x = test::random_tensor({2, 4, 3, 3}, 15);
  const Tensor& y = net.forward(x, {Mode::train, 3});
  const Tensor ycopy = y;
  const Tensor dy = test::random_tensor(y.shape(), 16);
  net.backward(dy);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float m = ycopy[i] / x[i];  // the mask value the forward pass applied
    EXPECT_TRUE(std::fabs(m) < 1e-6 || std::fabs(m - 2.0f) < 1e-5) << m;
    EXPECT_NEAR(net.input_gradient(0)[i], dy[i] * m, 1e-6);
    kept += m > 1.0f;
  }
  EXPECT_GT(kept, x.size() / 4);
  EXPECT_LT(kept, 3 * x.size() / 4);
  // eval mode is the identity
  const Tensor& ye = net.forward(x, {Mode::eval, 3});
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(ye[i], x[i]);
}

// The losses' gradients against differences of the loss itself.
TEST(GradCheck, Losses) {
  const int labels[3] = {2, 0, 4};
  for (const std::string kind : {"softmax_cross_entropy", "squared_error"}) {
    auto loss = make_loss(kind);
    Tensor z = test::random_tensor({3, 5, 1, 1}, 17, -2, 2);
    Tensor d;
    loss->compute(z, labels, &d);
    double worst = 0.0;
    for (std::size_t i = 0; i < z.size(); ++i) {
      const float old = z[i];
      z[i] = old + 1e-3f;
      const double fp = loss->compute(z, labels, nullptr);
      z[i] = old - 1e-3f;
      const double fm = loss->compute(z, labels, nullptr);
      z[i] = old;
      const double num = (fp - fm) / 2e-3;
      worst = std::max(worst, std::fabs(num - d[i]) / std::max({std::fabs(num), double(std::fabs(d[i])), 1e-2}));
    }
    std::printf("[gradcheck] %-34s max relative error %.2e\n", kind.c_str(), worst);
    EXPECT_LE(worst, 2e-3) << kind;
    EXPECT_GT(test::max_abs(d.data(), d.size()), 1e-3);
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
  double worst = 0.0, biggest = 0.0;
  std::size_t checked = 0, skipped = 0;
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
  for (std::size_t i = 0; i < net.params().size(); i += 3) {
    const float old = net.params()[i];
    const double h = 2e-3;
    net.params()[i] = float(old + h);
    const double fp = loss_at();
    const auto pp = relu_pattern();
    net.params()[i] = float(old - h);
    const double fm = loss_at();
    const auto pm = relu_pattern();
    net.params()[i] = old;
    if (pp != pm) {
      ++skipped;
      continue;
    }
    const double num = (fp - fm) / (2 * h);
    worst = std::max(worst,
                     std::fabs(num - analytic[i]) / std::max({std::fabs(num), double(std::fabs(analytic[i])), 1e-2}));
    biggest = std::max(biggest, double(std::fabs(analytic[i])));
    ++checked;
  }
  std::printf("[gradcheck] %-34s max relative error %.2e over %zu parameters (%zu skipped at kinks)\n",
              "whole seed5 net", worst, checked, skipped);
  EXPECT_GT(checked, 900u);
  EXPECT_LT(skipped, checked / 2);  // near-ties of max pooling over thousands of windows are real kinks
  EXPECT_GT(biggest, 1e-3);
  EXPECT_LE(worst, 5e-3);
}

// The layers of graph networks. Batch normalisation's train-mode output depends on the whole batch, so every
// forward of these checks (analytic and numeric side alike) runs in the mode under test.
void expect_graph_gradients_ok(Network& net, const Tensor& x, Mode mode, const std::string& what, double tol, double h,
                               const int* labels = nullptr, std::size_t max_skipped_per = 10) {
  const test::GradCheck g = test::check_graph_gradients(net, x, 99, mode, h, labels);
  std::printf("[gradcheck] %-34s max relative error %.2e over %zu coordinates (%zu skipped at kinks)\n", what.c_str(),
              g.max_rel_error, g.checked, g.skipped);
  EXPECT_GT(g.checked, 0u) << what;
  EXPECT_GT(g.max_abs_analytic, 1e-4) << what << ": every gradient is zero, the check would prove nothing";
  EXPECT_LE(g.skipped, g.checked / max_skipped_per) << what << ": too many coordinates sat on a kink";
  EXPECT_LE(g.max_rel_error, tol) << what;
}

TEST(GradCheck, BatchNorm2DTrain) {
  Network net({1, 3, 5, 4});
  net.add<BatchNorm2D>();
  net.init(21);
  test::randomize_batchnorms(net, 22);
  expect_graph_gradients_ok(net, test::random_tensor({3, 3, 5, 4}, 23, -1.0f, 2.0f), Mode::train, "batchnorm2d train",
                            2e-3, 1e-2);
}
// 1×1 maps: each channel's statistics are over the batch alone (M = 4), so the paths through μ and σ² weigh about as
// much as the direct one.
TEST(GradCheck, BatchNorm2DTrainOneByOneMaps) {
  Network net({1, 5, 1, 1});
  net.add<BatchNorm2D>(0.3f, 1e-3f);
  net.init(21);
  test::randomize_batchnorms(net, 24);
  expect_graph_gradients_ok(net, test::random_tensor({4, 5, 1, 1}, 25, -2.0f, 2.0f), Mode::train,
                            "batchnorm2d train 1x1 maps, N=4", 2e-3, 1e-2);
}
TEST(GradCheck, BatchNorm2DEval) {
  Network net({1, 4, 3, 5});
  net.add<BatchNorm2D>();
  net.init(21);
  test::randomize_batchnorms(net, 26);
  expect_graph_gradients_ok(net, test::random_tensor({2, 4, 3, 5}, 27), Mode::eval, "batchnorm2d eval", 2e-3, 1e-2);
}
TEST(GradCheck, GlobalAvgPool2D) {
  Network net({1, 3, 5, 7});
  net.add<GlobalAvgPool2D>();
  expect_graph_gradients_ok(net, test::random_tensor({2, 3, 5, 7}, 28), Mode::eval, "global_avgpool2d", 2e-3, 1e-2);
}
// Three branches from the input (tanh, sigmoid, the input itself) into one add: the input's gradient is the sum
// of three.
TEST(GradCheck, AddThreeBranches) {
  Network net({1, 2, 4, 3});
  net.add<Tanh>();
  net.add(std::make_unique<Sigmoid>(), {Network::kInput});
  net.add(std::make_unique<Add>(), {0, 1, Network::kInput});
  expect_graph_gradients_ok(net, test::random_tensor({2, 2, 4, 3}, 29, -2.0f, 2.0f), Mode::eval,
                            "add (tanh + sigmoid + input)", 2e-3, 1e-2);
}
// y = t + t with t = tanh(x): the add reads one layer twice, so ∂L/∂t = 2·dy.
TEST(GradCheck, AddSameValueTwice) {
  Network net({1, 3, 3, 4});
  net.add<Tanh>();
  net.add(std::make_unique<Add>(), {0, 0});
  expect_graph_gradients_ok(net, test::random_tensor({2, 3, 3, 4}, 30, -2.0f, 2.0f), Mode::eval,
                            "add (one layer twice)", 2e-3, 1e-2);
}
TEST(GradCheck, Concat) {
  Network net({1, 2, 5, 4});
  net.add<Conv2D>(3, 3, 1, Padding::same);
  net.add(std::make_unique<Sigmoid>(), {Network::kInput});
  net.add(std::make_unique<Concat>(), {0, Network::kInput, 1});
  net.init(21);
  expect_graph_gradients_ok(net, test::random_tensor({2, 2, 5, 4}, 31, -2.0f, 2.0f), Mode::eval,
                            "concat (conv, input, sigmoid)", 2e-3, 1e-2);
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
