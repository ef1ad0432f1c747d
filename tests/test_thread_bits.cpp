// Training gives the same bits on 1, 2 and 3 threads for every layer type at once, the im2col convolution (stride 2)
// beside the direct one (stride 1): the outputs, the loss, every gradient (also ∂L/∂x), the running statistics and
// the parameters after two SGD-with-momentum steps. The first convolution's output is large enough (24 images of
// 8×16×16) for the element-wise layers to split the batch too.
#include <cstring>

#include "helpers.h"
#include "kernels/kernels.h"

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

TEST(ThreadBits, EveryLayerTypeTrainsToTheSameBitsOnAnyThreadCount) {
  const Bits one = train_two_steps(1);
  std::printf("[thread bits] every layer type, convolutions %s\n", one.kernels.c_str());
  EXPECT_NE(one.kernels.find("im2col"), std::string::npos) << one.kernels;
  if (kernels::simd_available()) {
    EXPECT_NE(one.kernels.find("direct"), std::string::npos) << one.kernels;
  }
  EXPECT_GT(test::max_abs(one.dx.data(), one.dx.size()), 0.0);
  EXPECT_GT(test::max_abs(one.grads.data(), one.grads.size()), 0.0);
  for (int threads : {2, 3}) {
    const Bits t = train_two_steps(threads);
    EXPECT_EQ(std::memcmp(&one.loss, &t.loss, sizeof(double)), 0) << threads << " threads: loss";
    EXPECT_TRUE(same_bits(one.out, t.out)) << threads << " threads: output";
    EXPECT_TRUE(same_bits(one.dx, t.dx)) << threads << " threads: input gradient";
    EXPECT_TRUE(same_bits(one.grads, t.grads)) << threads << " threads: parameter gradients";
    EXPECT_TRUE(same_bits(one.params, t.params)) << threads << " threads: parameters after two steps";
    EXPECT_TRUE(same_bits(one.buffers, t.buffers)) << threads << " threads: running statistics";
  }
}

}  // namespace
}  // namespace cnn
