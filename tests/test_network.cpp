#include <numeric>

#include "helpers.h"

namespace cnn {
namespace {

TEST(Network, ShapesAreCheckedWhenLayersAreAdded) {
  Network net({1, 1, 28, 28});
  net.add<Conv2D>(6, 5).add<MaxPool2D>(2);
  EXPECT_EQ(net.output_shape(), (Shape{1, 6, 12, 12}));
  try {
    net.add<Conv2D>(3, 13);  // 12×12 input, 13×13 kernel
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("layer 2"), std::string::npos) << m;
    EXPECT_NE(m.find("6x12x12"), std::string::npos) << m;
  }
  EXPECT_EQ(net.size(), 2u);  // the bad layer was not added
  EXPECT_THROW(Network({1, 0, 28, 28}), Error);
  EXPECT_THROW(Conv2D(0, 3), Error);
  EXPECT_THROW(Conv2D(3, 3, 0), Error);
  // a pooling window of no pixels, or a negative stride, is refused when the layer is added
  EXPECT_THROW(Network({1, 1, 4, 4}).add<MaxPool2D>(0, 1), Error);
  EXPECT_THROW(Network({1, 1, 4, 4}).add<AvgPool2D>(2, -1), Error);
}

TEST(Network, ParametersLiveInOneBufferAndLayersViewIt) {
  Network net = load_network("seed5");
  net.init(1);
  auto& c1 = dynamic_cast<Conv2D&>(net.layer(0));
  EXPECT_EQ(c1.weight().data(), net.params().data());
  EXPECT_EQ(c1.bias().data(), net.params().data() + 150);
  auto& c3 = dynamic_cast<Conv2D&>(net.layer(3));
  EXPECT_EQ(c3.weight().data(), net.params().data() + net.param_offset(3));
  auto& o5 = dynamic_cast<Dense&>(net.layer(6));
  EXPECT_EQ(o5.weight().data() + 1920, net.params().data() + net.params().size() - 10);
}

TEST(Network, SameSeedSameRunTwice) {
  auto run = [](std::uint64_t seed) {
    Network net = load_network("seed5");
    net.init(seed);
    Optimizer opt({});
    const Tensor x = test::random_tensor({10, 1, 28, 28}, 3, 0, 1);
    const int labels[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int s = 0; s < 5; ++s) {
      net.forward_backward(x, labels, std::uint64_t(s));
      opt.step(net);
    }
    return net.params();
  };
  EXPECT_EQ(run(4), run(4));
  EXPECT_NE(run(4), run(5));
}

// Seed 003's loop on one fixed batch of 50: the loss must fall steadily for 100 steps.
TEST(Network, Seed5OverfitsOneBatch) {
  Network net = load_network("seed5");
  net.init(2);
  Optimizer opt({.lr = 0.1});
  const Dataset train = load_mnist_folder(default_data_dir()).train;  // real Fashion-MNIST images
  std::vector<std::uint32_t> first(50);
  std::iota(first.begin(), first.end(), 0u);
  Tensor x;
  std::vector<int> labels(50);
  train.batch(first.data(), 50, x, labels.data());
  std::vector<double> losses;
  for (int s = 0; s < 100; ++s) {
    losses.push_back(net.forward_backward(x, labels.data(), std::uint64_t(s)));
    opt.step(net);
  }
  std::printf("[overfit] seed5 loss %.4f -> %.4f after 100 steps\n", losses.front(), losses.back());
  EXPECT_LT(losses.back(), 0.2 * losses.front());
  // steadily: every 20 steps the loss is lower than 20 steps before (plain SGD wobbles from step to step)
  for (std::size_t i = 20; i < losses.size(); i += 20) EXPECT_LT(losses[i], losses[i - 20]) << "at step " << i;
  const Evaluation ev = [&] {
    Dataset d;
    d.sample = {1, 1, 28, 28};
    d.images.resize(50 * 784);
    for (std::size_t i = 0; i < d.images.size(); ++i) d.images[i] = std::uint8_t(std::lround(x[i] * 255));
    d.labels.assign(labels.begin(), labels.end());
    return evaluate(net, d);
  }();
  EXPECT_GE(ev.accuracy, 0.9);
}

TEST(Network, PerLayerLearningRateIsUsed) {
  Network net = load_network("seed5");
  net.init(1);
  net.layer(0).learning_rate = 0.0;  // freeze C1 (seed 003: α, α2, α3 per layer)
  net.layer(6).learning_rate = 0.5;
  Optimizer opt({.lr = 0.1});
  EXPECT_DOUBLE_EQ(opt.layer_lr(net, 0), 0.0);
  EXPECT_DOUBLE_EQ(opt.layer_lr(net, 3), 0.1);
  EXPECT_DOUBLE_EQ(opt.layer_lr(net, 6), 0.5);
  const std::vector<float> before = net.params();
  const Tensor x = test::random_tensor({4, 1, 28, 28}, 3, 0, 1);
  const int labels[4] = {1, 2, 3, 4};
  net.forward_backward(x, labels, 0);
  const std::vector<float> g = net.grads();
  opt.step(net);
  for (std::size_t i = 0; i < net.param_count(0); ++i) EXPECT_EQ(net.params()[i], before[i]);
  const std::size_t o5 = net.param_offset(6);
  for (std::size_t i = o5; i < o5 + 20; ++i) EXPECT_FLOAT_EQ(net.params()[i], before[i] - 0.5f * g[i]);
  const std::size_t c3 = net.param_offset(3);
  EXPECT_FLOAT_EQ(net.params()[c3 + 5], before[c3 + 5] - 0.1f * g[c3 + 5]);
}

TEST(Network, BatchGradientIsTheMeanOfPerImageGradients) {
  // Seed 003: each dk is the mean of the 50 per-image gradients.
  Network net = load_network("seed5");
  net.init(3);
  const Tensor x = test::random_tensor({5, 1, 28, 28}, 4, 0, 1);
  const int labels[5] = {1, 3, 5, 7, 9};
  net.forward_backward(x, labels, 0);
  const std::vector<float> batch = net.grads();
  std::vector<double> mean(batch.size(), 0.0);
  for (int n = 0; n < 5; ++n) {
    net.forward_backward(Tensor::view(x.sample(n), {1, 1, 28, 28}), &labels[n], 0);
    for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += net.grads()[i] / 5.0;
  }
  for (std::size_t i = 0; i < mean.size(); ++i) EXPECT_NEAR(batch[i], mean[i], 1e-5 + 1e-4 * std::fabs(mean[i]));
}

// Each layer checks the shapes it is handed, forward and backward, not only the network before it: a layer run on
// the wrong tensor otherwise reads past it or silently mixes samples, and no numeric test notices the check gone.
TEST(Network, EveryLayerRefusesAnInputOrGradientOfTheWrongShape) {
  struct Case {
    std::function<void(Network&)> add;
    bool backward_reads_x;  // the layers whose backward reads x check it there too
  };
  const std::vector<Case> cases = {
      {[](Network& n) { n.add<Conv2D>(3, 3); }, true},
      {[](Network& n) { n.add<Dense>(3); }, true},
      {[](Network& n) { n.add<MaxPool2D>(2); }, true},
      {[](Network& n) { n.add<AvgPool2D>(2); }, true},
      {[](Network& n) { n.add<L2Pool2D>(2); }, true},
      {[](Network& n) { n.add<Subsampling>(2); }, true},
      {[](Network& n) { n.add<BatchNorm2D>(); }, true},
      {[](Network& n) { n.add<ReLU>(); }, false},
      {[](Network& n) { n.add<LeakyReLU>(); }, false},
      {[](Network& n) { n.add<Sigmoid>(); }, false},
      {[](Network& n) { n.add<Tanh>(); }, false},
      {[](Network& n) { n.add<Softmax>(); }, false},
      {[](Network& n) { n.add<Dropout>(0.5f); }, false},
      {[](Network& n) { n.add<Flatten>(); }, false},
      {[](Network& n) { n.add<GlobalAvgPool2D>(); }, false},
  };
  const Tensor x = test::random_tensor({2, 2, 4, 4}, 1, 0.1f, 1.0f);
  const Tensor bad = test::random_tensor({2, 3, 4, 4}, 2, 0.1f, 1.0f);
  for (const Case& c : cases) {
    Network net({1, 2, 4, 4});
    c.add(net);
    net.init(1);
    Layer& layer = net.layer(0);
    const Context ctx{Mode::train, 1};
    Tensor y, dx;
    layer.forward(x, y, ctx);
    const Tensor dy = test::random_tensor(y.shape(), 3);
    const Shape s = y.shape();
    const Tensor bad_dy = test::random_tensor({s.n, s.c + 1, s.h, s.w}, 4);
    EXPECT_THROW(layer.forward(bad, y, ctx), Error) << layer.kind();
    layer.forward(x, y, ctx);
    EXPECT_THROW(layer.backward(x, y, bad_dy, &dx), Error) << layer.kind();
    if (c.backward_reads_x) {
      EXPECT_THROW(layer.backward(bad, y, dy, &dx), Error) << layer.kind();
    }
    layer.backward(x, y, dy, nullptr);  // the first layer of a net: no input gradient wanted
  }
  // the merge layers: each input against its own shape
  for (const bool concat : {false, true}) {
    std::unique_ptr<Layer> m;
    if (concat)
      m = std::make_unique<Concat>();
    else
      m = std::make_unique<Add>();
    const std::vector<Shape> shapes = {{1, 2, 4, 4}, {1, 2, 4, 4}};
    m->setup(std::span<const Shape>(shapes));
    Tensor y;
    for (const std::vector<const Tensor*>& xs : {std::vector<const Tensor*>{&x, &bad}, {&bad, &x}})
      EXPECT_THROW(m->forward(std::span<const Tensor* const>(xs), y, Context{}), Error) << m->kind();
  }
}

// A label outside 0..K−1 is refused in every sample, the first included.
TEST(Network, LossesRefuseALabelOutsideTheClasses) {
  const Tensor out = test::random_tensor({2, 3, 1, 1}, 5);
  for (const std::string kind : {"softmax_cross_entropy", "squared_error"}) {
    const auto loss = make_loss(kind);
    Tensor d;
    for (const std::array<int, 2> labels : {std::array<int, 2>{3, 0}, {0, 3}, {-1, 0}, {0, -1}})
      EXPECT_THROW(loss->compute(out, labels.data(), &d), Error) << kind << " " << labels[0] << "," << labels[1];
  }
}

// Squared error against given targets: L = ½·Σ (y − t)² / N and dL/dy = (y − t) / N.
TEST(Network, SquaredErrorAgainstTargets) {
  const Tensor out = test::random_tensor({2, 3, 1, 1}, 7), t = test::random_tensor({2, 3, 1, 1}, 8);
  Tensor d;
  const double loss = SquaredError().compute_targets(out, t, &d);
  double want = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double e = double(out[i]) - t[i];
    want += 0.5 * e * e / 2.0;
    EXPECT_FLOAT_EQ(d[i], float(e) / 2.0f) << i;
  }
  EXPECT_NEAR(loss, want, 1e-12);
}

// A ReLU layer over 32768 values or more is cut into one chunk per image: every chunk where its images are.
TEST(Network, ReLUOnALargeBatchChunkByChunk) {
  Network net({1, 1, 100, 100});
  net.add<ReLU>();
  net.set_need_input_gradient(true);
  const Tensor x = test::random_tensor({4, 1, 100, 100}, 9), dz = test::random_tensor({4, 1, 100, 100}, 10);
  const Tensor& y = net.forward(x);
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], std::max(x[i], 0.0f)) << i;
  net.backward(dz);
  const Tensor& dx = net.input_gradient(0);
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(dx[i], x[i] >= 0.0f ? dz[i] : 0.0f) << i;
}

}  // namespace
}  // namespace cnn
