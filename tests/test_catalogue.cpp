// The seeds' catalogue of networks, as shipped description files: AlexNet (shapes, parameter count, a training
// step, a gradient check on a slice of it), seed 001's 6×6 book example learning its digits, LeNet-5 (classic and
// modern), the width-reduced AlexNet and seed 002's subsampling net training on real Fashion-MNIST.
#include <chrono>
#include <cmath>
#include <filesystem>

#include "helpers.h"

namespace cnn {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void print_shapes(const std::string& name, const Network& net) {
  std::printf("[catalogue] %s: input %s\n", name.c_str(), net.input_shape().sample_str().c_str());
  for (std::size_t i = 0; i < net.size(); ++i)
    std::printf("[catalogue]   %2zu %-44s -> %-12s %10zu params\n", i, net.layer(i).summary().c_str(),
                net.layer(i).output_shape().sample_str().c_str(), net.param_count(i));
  std::printf("[catalogue]   total %zu parameters, %.1f M multiply-adds per image\n", net.params().size(),
              double(net.macs_per_sample()) / 1e6);
}

TEST(Catalogue, EveryPresetOfTheSeedsIsShipped) {
  const auto names = preset_names();
  for (const std::string want : {"seed5", "book6x6", "lenet5", "lenet5-classic", "alexnet", "alexnet-small", "seed002"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
}

// Seed 004's output sizes, layer by layer: 224 →(11×11/4, same: ceil(224/4))→ 56 →(pool 3/2)→ 27 → 27 →(pool)→ 13
// → 13 → 13 → 13 →(pool)→ 6; 256·6·6 = 9216 features into the first fully connected layer.
TEST(Catalogue, AlexNetShapesAndParameterCount) {
  const Network net = load_network("alexnet");
  print_shapes("alexnet", net);
  const std::vector<Shape> want = {{1, 96, 56, 56},  {1, 96, 56, 56},  {1, 96, 27, 27},  {1, 256, 27, 27},
                                   {1, 256, 27, 27}, {1, 256, 13, 13}, {1, 384, 13, 13}, {1, 384, 13, 13},
                                   {1, 384, 13, 13}, {1, 384, 13, 13}, {1, 256, 13, 13}, {1, 256, 13, 13},
                                   {1, 256, 6, 6},   {1, 4096, 1, 1},  {1, 4096, 1, 1},  {1, 4096, 1, 1},
                                   {1, 4096, 1, 1},  {1, 4096, 1, 1},  {1, 4096, 1, 1},  {1, 1000, 1, 1}};
  ASSERT_EQ(net.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(net.layer(i).output_shape(), want[i]) << "layer " << i;
  // One tower: 34,944 + 614,656 + 885,120 + 1,327,488 + 884,992 (convolutions)
  //          + 37,752,832 + 16,781,312 + 4,097,000 (fully connected) = 62,378,344.
  // The paper's ~61M (60,965,224) splits convolutions 2, 4 and 5 over two GPUs, each half seeing half the maps.
  EXPECT_EQ(net.params().size(), 62378344u);
  EXPECT_EQ(net.param_count(0), 34944u);
  EXPECT_EQ(net.param_count(13), 37752832u);
  EXPECT_EQ(net.loss().kind(), "softmax_cross_entropy");
}

TEST(Catalogue, AlexNetOneTrainingStepOnARandomBatch) {
  Network net = load_network("alexnet");
  net.init(1);
  const Tensor x = test::random_tensor({2, 3, 224, 224}, 7, 0.0f, 1.0f);
  const int labels[2] = {3, 999};
  const std::vector<float> before = net.params();
  Optimizer sgd({.lr = 0.01, .momentum = 0.9});
  const auto t0 = std::chrono::steady_clock::now();
  const double loss = net.forward_backward(x, labels, 0);
  sgd.step(net);
  std::printf("[catalogue] alexnet: one SGD step on a batch of 2 in %.2f s, loss %.4f (log 1000 = %.4f)\n",
              seconds_since(t0), loss, std::log(1000.0));
  ASSERT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, std::log(1000.0), 0.5);  // a fresh net guesses about uniformly
  std::size_t changed_first = 0, changed_last = 0;
  const std::size_t o0 = net.param_offset(0), oL = net.param_offset(net.size() - 1);
  for (std::size_t i = 0; i < net.param_count(0); ++i) changed_first += net.params()[o0 + i] != before[o0 + i];
  for (std::size_t i = 0; i < net.param_count(net.size() - 1); ++i)
    changed_last += net.params()[oL + i] != before[oL + i];
  // Every conv1 weight sees the input; a weight of the last layer moves only when its input (after ReLU and
  // dropout) was non-zero for one of the two images, about 1 − 0.75² of them.
  EXPECT_GT(changed_first, net.param_count(0) * 9 / 10);
  EXPECT_GT(changed_last, net.param_count(net.size() - 1) / 4);
  // The same batch again, after the step: the loss went down.
  const double again = net.loss().compute(net.forward(x, {Mode::eval, 0}), labels, nullptr);
  EXPECT_LT(again, loss);
}

// A slice of AlexNet's gradient against central differences: hundreds of weights and biases of the last fully
// connected layer, dozens of the first fully connected layer and of the first convolution.
// Objective Σ r ⊙ logits in eval mode (dropout is the identity) with the analytic gradient from backward(r).
// Perturbing layer L's parameters leaves layers < L unchanged, so the difference is taken by running the net from
// layer L on: the numbers the whole forward pass gives, in a fraction of the time.
// In eval mode the net is piecewise linear in any one parameter (linear layers, ReLU, max pooling), so a central
// difference that crosses no kink is exact but for float32 rounding, and a larger step only shrinks that rounding.
// Two kinds of check:
//   layer-local: Σ g ⊙ layer(x; θ) with g = ∂objective/∂(layer output) from the same backward pass; linear in θ,
//   so exact, and held to 1e-3: the weight and bias gradients at AlexNet's own sizes (fc8 is always local);
//   end to end, through every layer after it, where a step of any size flips a few of the ReLU and max-pool
//   decisions downstream (a few at fc6 with h = 0.01, ~100–200 of the ~1.2M after conv1 with h = 1e-3; smaller
//   steps drown in float32 rounding over the whole net): the agreement is a few per cent of max(|gradient|, 0.1)
//   for fc6 (held to 5%) and of max(|gradient|, 1) for conv1 (held to 20%): loose, but enough to catch a wrong sign,
//   scale or offset anywhere along the chain. The exhaustive per-layer checks are in test_gradcheck.cpp.
// The weights are scaled to He's U(±√6/√fan_in) first: with the default U(±1/√fan_in) eight ReLU layers shrink the
// signal ~2.4× each, and the first layers' gradients would vanish below float resolution.
TEST(Catalogue, AlexNetGradientCheckOnASlice) {
  Network net = load_network("alexnet");
  net.init(3);
  for (std::size_t l = 0; l < net.size(); ++l)
    for (ParamView& p : net.layer(l).params())
      if (p.name == "weight")
        for (std::size_t i = 0; i < p.value.size(); ++i) p.value[i] *= std::sqrt(6.0f);
  const Tensor x = test::random_tensor({1, 3, 224, 224}, 11, 0.0f, 1.0f);
  const Context ctx{Mode::eval, 0};
  const Tensor out0 = net.forward(x, ctx);
  const Tensor r = test::random_tensor(out0.shape(), 12);
  net.backward(r);
  const std::vector<float> analytic = net.grads();
  const Tensor g_conv1 = net.input_gradient(1), g_fc6 = net.input_gradient(14);  // ∂objective/∂(layer output)

  // Σ weight ⊙ (output of layer `last`), running layers first..last, and the kink pattern the run went through
  // (ReLU input signs, max-pool argmaxes).
  std::vector<Tensor> work(net.size());
  std::vector<std::uint32_t> pattern;
  auto objective = [&](std::size_t first, std::size_t last, const Tensor& weight) {
    pattern.clear();
    const Tensor* in = first == 0 ? &x : &net.activation(first - 1);
    for (std::size_t i = first; i <= last; ++i) {
      const Layer& l = net.layer(i);
      net.layer(i).forward(*in, work[i], ctx);
      if (l.kind() == "relu")
        for (std::size_t k = 0; k < in->size(); ++k) pattern.push_back((*in)[k] >= 0.0f);
      else if (const auto* mp = dynamic_cast<const MaxPool2D*>(&l))
        pattern.insert(pattern.end(), mp->argmax().begin(), mp->argmax().end());
      in = &work[i];
    }
    double s = 0.0;
    for (std::size_t i = 0; i < in->size(); ++i) s += double((*in)[i]) * weight[i];
    return s;
  };

  struct Slice {
    std::string what;
    std::size_t layer, last;          // perturb layer `layer`'s parameters, run up to layer `last`
    std::vector<std::size_t> coords;  // parameter indices within the layer
    double h, tolerance, floor;
    bool skip_kinks;
  };
  auto spread = [](std::size_t begin, std::size_t count, std::size_t stride) {
    std::vector<std::size_t> c;
    for (std::size_t k = 0; k < count; ++k) c.push_back(begin + k * stride);
    return c;
  };
  // fc6 weights W[j][k] (input j, output k) whose input j is not a dead ReLU: the others have zero gradient.
  auto live_fc6_weights = [&](std::size_t count, std::size_t salt) {
    const Tensor& a = net.activation(12);
    std::vector<std::size_t> live, c;
    for (std::size_t j = 0; j < a.size(); ++j)
      if (a[j] > 0.1f) live.push_back(j);
    for (std::size_t t = 0; t < count; ++t)
      c.push_back(live[(t * live.size()) / count] * 4096 + (t * 997 + salt) % 4096);
    return c;
  };
  const std::size_t L = net.size() - 1, fc6 = 13;
  const std::size_t fc8_weights = 4096u * 1000u, fc6_weights = 9216u * 4096u, conv1_weights = 96u * 3u * 121u;
  const std::vector<Slice> slices = {
      {"fc8 weights", L, L, spread(0, 300, fc8_weights / 300 + 7), 1.0, 1e-4, 1e-2, true},
      {"fc8 biases", L, L, spread(fc8_weights, 100, 10), 1.0, 1e-4, 1e-2, true},
      {"fc6 weights (local)", fc6, fc6, live_fc6_weights(30, 3), 0.05, 1e-3, 1e-2, true},
      {"fc6 biases (local)", fc6, fc6, spread(fc6_weights, 10, 401), 0.05, 1e-3, 1e-2, true},
      {"fc6 weights", fc6, L, live_fc6_weights(30, 11), 0.01, 5e-2, 0.1, false},
      {"fc6 biases", fc6, L, spread(fc6_weights + 7, 15, 271), 0.01, 5e-2, 0.1, false},
      // conv1 alone is linear in its parameters, so the central difference has no truncation error and a wider step
      // only shrinks the float32 rounding of the 290,400 summed outputs (h 0.01: 1.3e-3 with an AVX-512 OpenBLAS)
      {"conv1 weights (local)", 0, 0, spread(0, 60, conv1_weights / 60 + 1), 5e-2, 1e-3, 1e-2, true},
      {"conv1 biases (local)", 0, 0, spread(conv1_weights, 16, 6), 5e-2, 1e-3, 1e-2, true},
      {"conv1 weights", 0, L, spread(7, 6, conv1_weights / 6), 1e-3, 0.2, 1.0, false},
      {"conv1 biases", 0, L, spread(conv1_weights + 3, 3, 31), 1e-3, 0.2, 1.0, false},
  };
  const auto t0 = std::chrono::steady_clock::now();
  for (const Slice& s : slices) {
    const Tensor& weight = s.last == L ? r : s.last == fc6 ? g_fc6 : g_conv1;
    double worst = 0.0, biggest = 0.0;
    std::size_t checked = 0, skipped = 0, flips = 0;
    objective(s.layer, s.last, weight);
    const std::vector<std::uint32_t> base = pattern;
    for (const std::size_t local : s.coords) {
      ASSERT_LT(local, net.param_count(s.layer)) << s.what;
      const std::size_t i = net.param_offset(s.layer) + local;
      float& v = net.params()[i];
      const float old = v;
      v = float(old + s.h);
      const double fp = objective(s.layer, s.last, weight);
      std::size_t flipped = 0;
      for (std::size_t u = 0; u < base.size(); ++u) flipped += pattern[u] != base[u];
      v = float(old - s.h);
      const double fm = objective(s.layer, s.last, weight);
      for (std::size_t u = 0; u < base.size(); ++u) flipped += pattern[u] != base[u];
      v = old;
      if (flipped && s.skip_kinks) {
        ++skipped;
        continue;
      }
      flips += flipped;
      const double numeric = (fp - fm) / (2.0 * s.h), a = analytic[i];
      biggest = std::max(biggest, std::fabs(a));
      worst = std::max(worst, std::fabs(a - numeric) / std::max({std::fabs(a), std::fabs(numeric), s.floor}));
      ++checked;
    }
    std::printf(
        "[gradcheck] alexnet %-21s h %-6g max relative error %.2e over %3zu coordinates (%zu skipped at "
        "kinks, %zu kink flips inside), largest |gradient| %.3g\n",
        s.what.c_str(), s.h, worst, checked, skipped, flips, biggest);
    EXPECT_GE(checked, s.coords.size() / 2) << s.what;
    EXPECT_GT(biggest, 0.05) << s.what << ": gradients this small prove nothing";
    EXPECT_LE(worst, s.tolerance) << s.what;
  }
  std::printf("[catalogue] alexnet gradient check took %.1f s\n", seconds_since(t0));
}

// Seed 001's book example (6×6 images of the digits 1, 2 and 3; 3 filters 3×3, 2×2 max pooling, 3 sigmoid outputs,
// squared error): trained on noisy variants of three 6×6 patterns, it recognises variants it never saw.
Dataset book_digits(std::size_t per_class, std::uint64_t seed) {
  static const char* const digits[3][6] = {
      {"..#...", ".##...", "..#...", "..#...", "..#...", ".###.."},
      {".###..", "#...#.", "...#..", "..#...", ".#....", "#####."},
      {"####..", "....#.", ".###..", "....#.", "....#.", "####.."},
  };
  Dataset d;
  d.name = "book 6x6 digits";
  d.sample = {1, 1, 6, 6};
  d.classes = 3;
  d.class_names = {"1", "2", "3"};
  Rng rng(seed);
  for (std::size_t n = 0; n < per_class; ++n)
    for (int c = 0; c < 3; ++c) {
      const int shift = int(rng.below(2));  // the patterns leave the right column free: move one pixel right
      std::uint8_t img[36] = {};
      for (int y = 0; y < 6; ++y)
        for (int x = 0; x < 6; ++x)
          if (digits[c][y][x] == '#') img[y * 6 + std::min(5, x + shift)] = 255;
      const int flips = int(rng.below(3));  // and 0–2 pixels of noise
      for (int f = 0; f < flips; ++f) img[rng.below(36)] ^= 255;
      d.images.insert(d.images.end(), img, img + 36);
      d.labels.push_back(std::uint8_t(c));
    }
  return d;
}

TEST(Catalogue, Book6x6LearnsTheDigitPatterns) {
  Network net = load_network("book6x6");
  net.init(1);
  const Dataset train = book_digits(32, 1), test = book_digits(40, 2);  // 96 images, as in the book; 120 unseen
  const double before = evaluate(net, test).accuracy;
  Optimizer sgd({.lr = 0.5});
  Trainer trainer(net, sgd, {.epochs = 150, .batch = 4, .seed = 1});
  const auto t0 = std::chrono::steady_clock::now();
  trainer.fit(train, nullptr);
  const Evaluation tr = evaluate(net, train), te = evaluate(net, test);
  std::printf(
      "[catalogue] book6x6: %.1f%% -> train %.1f%%, unseen %.1f%% (squared error %.4f) after 150 epochs in "
      "%.2f s\n",
      100 * before, 100 * tr.accuracy, 100 * te.accuracy, te.loss, seconds_since(t0));
  EXPECT_GE(tr.accuracy, 0.97);
  EXPECT_GE(te.accuracy, 0.9);
}

// Real Fashion-MNIST, a slice: the first `n_train` training and `n_test` test images.
struct Fashion {
  bool found = false;
  Dataset train, test;
};
const Fashion& fashion() {
  static const Fashion f = [] {
    Fashion r;
    const std::string dir = default_data_dir();
    if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz") &&
        !std::filesystem::exists(dir + "/train-images-idx3-ubyte"))
      return r;
    DataSplit s = load_mnist_folder(dir);
    r.train = std::move(s.train);
    r.test = std::move(s.test);
    r.found = true;
    return r;
  }();
  return f;
}

double train_on_fashion(const std::string& preset, const OptimizerOptions& opt, std::size_t n_train, int epochs,
                        int batch) {
  const Fashion& f = fashion();
  Network net = load_network(preset);
  net.init(1);
  Optimizer o(opt);
  Trainer trainer(net, o, {.epochs = epochs, .batch = batch, .seed = 1});
  const Dataset train = f.train.slice(0, n_train), test = f.test.slice(0, 2000);
  const auto t0 = std::chrono::steady_clock::now();
  trainer.fit(train, nullptr);
  const double train_s = seconds_since(t0);
  const Evaluation ev = evaluate(net, test);
  std::printf(
      "[catalogue] %s on Fashion-MNIST: %zu images x %d epoch(s), %s lr %g batch %d: test accuracy %.2f%% "
      "(2000 test images), training %.1f s\n",
      preset.c_str(), n_train, epochs, opt.kind.c_str(), opt.lr, batch, 100 * ev.accuracy, train_s);
  return ev.accuracy;
}

// A missing data set fails the test (scripts/setup.sh installs it); it is not a reason to skip.
#define REQUIRE_FASHION() \
  ASSERT_TRUE(fashion().found) << "Fashion-MNIST not found in " << default_data_dir() << ": run scripts/setup.sh"

TEST(Catalogue, LeNet5TrainsOnFashionMnist) {
  REQUIRE_FASHION();
  const Network net = load_network("lenet5");
  print_shapes("lenet5", net);
  EXPECT_EQ(net.layer(0).output_shape(), (Shape{1, 6, 28, 28}));  // 28×28 padded by 2: LeNet's 32×32
  EXPECT_EQ(net.layer(5).output_shape(), (Shape{1, 16, 5, 5}));
  EXPECT_EQ(net.params().size(), 61706u);
  // The seeds' recipe: plain SGD, lr 0.1, batch 50.
  EXPECT_GE(train_on_fashion("lenet5", {.lr = 0.1}, 20000, 2, 50), 0.75);
}

TEST(Catalogue, LeNet5ClassicTrainsOnFashionMnist) {
  REQUIRE_FASHION();
  const Network net = load_network("lenet5-classic");
  print_shapes("lenet5-classic", net);
  EXPECT_EQ(net.params().size(), 61706u);
  EXPECT_EQ(net.layer(2).kind(), "avgpool2d");
  EXPECT_EQ(net.layer(1).kind(), "sigmoid");
  // Five sigmoid layers start on a plateau that plain SGD takes epochs to leave; Adam leaves it at once.
  EXPECT_GE(train_on_fashion("lenet5-classic", {.kind = "adam", .lr = 5e-3}, 10000, 2, 32), 0.65);
}

TEST(Catalogue, AlexNetSmallTrainsOnFashionMnist) {
  REQUIRE_FASHION();
  const Network net = load_network("alexnet-small");
  print_shapes("alexnet-small", net);
  std::size_t convs = 0, pools = 0, dropouts = 0;
  for (std::size_t i = 0; i < net.size(); ++i) {
    convs += net.layer(i).kind() == "conv2d";
    pools += net.layer(i).kind() == "maxpool2d";
    dropouts += net.layer(i).kind() == "dropout";
  }
  EXPECT_EQ(convs, 5u);  // AlexNet's pattern: five convolutions, three max poolings, dropout between the dense layers
  EXPECT_EQ(pools, 3u);
  EXPECT_EQ(dropouts, 2u);
  EXPECT_EQ(net.layer(12).output_shape(), (Shape{1, 32, 2, 2}));
  EXPECT_GE(train_on_fashion("alexnet-small", {.kind = "adam", .lr = 1e-3}, 5000, 2, 16), 0.65);
}

TEST(Catalogue, Seed002SubsamplingNetTrainsOnFashionMnist) {
  REQUIRE_FASHION();
  const Network net = load_network("seed002");
  print_shapes("seed002", net);
  EXPECT_EQ(net.layer(2).kind(), "subsampling");
  EXPECT_EQ(net.layer(6).kind(), "subsampling");
  EXPECT_EQ(net.loss().kind(), "squared_error");
  EXPECT_GE(train_on_fashion("seed002", {.kind = "adam", .lr = 3e-3}, 10000, 1, 50), 0.65);
}

}  // namespace
}  // namespace cnn
