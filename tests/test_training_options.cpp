// The training options beside the seeds' recipe: the cosine learning-rate schedule, label smoothing and
// training-image augmentation.
#include <cmath>
#include <cstring>

#include "helpers.h"
#include "kernels/kernels.h"

namespace cnn {
namespace {

TEST(CosineSchedule, HalfACosineOverItsEpochsThenZero) {
  const LrSchedule s = parse_schedule("cos:10");
  EXPECT_EQ(s.str(), "cos:10");
  EXPECT_DOUBLE_EQ(s.factor(0), 1.0);
  EXPECT_NEAR(s.factor(5), 0.5, 1e-12);
  EXPECT_NEAR(s.factor(2), 0.5 * (1 + std::cos(3.14159265358979323846 * 0.2)), 1e-12);
  EXPECT_NEAR(s.factor(10), 0.0, 1e-12);
  EXPECT_NEAR(s.factor(12), 0.0, 1e-12);
  for (const char* bad : {"cos:", "cos:x", "cos:0", "cos:-3", "cos:4:2"})
    EXPECT_THROW(parse_schedule(bad), Error) << bad;
}

// K = 3, logits (1, 2, 4), label 0, ε = 0.3: q = (0.8, 0.1, 0.1); L = −Σ q_i log O_i; dL/dz = (O − q)/N.
TEST(LabelSmoothing, LossAndGradientAgainstTheFormula) {
  const float z[3] = {1, 2, 4};
  const int label = 0;
  float dz[3];
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e4 = std::exp(4.0), S = e1 + e2 + e4;
  const double O[3] = {e1 / S, e2 / S, e4 / S}, q[3] = {0.8, 0.1, 0.1};
  const double want = -(q[0] * std::log(O[0]) + q[1] * std::log(O[1]) + q[2] * std::log(O[2]));
  EXPECT_NEAR(kernels::softmax_cross_entropy(z, &label, 1, 3, dz, 0.3f), want, 1e-6);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(dz[i], O[i] - q[i], 1e-6) << i;
  // ε = 0 is the seeds' loss: −log O_t and O − onehot
  EXPECT_NEAR(kernels::softmax_cross_entropy(z, &label, 1, 3, dz, 0.0f), -std::log(O[0]), 1e-6);
  EXPECT_NEAR(dz[0], O[0] - 1.0, 1e-6);
  Network net = load_network("book6x6");
  EXPECT_THROW(net.set_label_smoothing(1.0f), Error);
  EXPECT_THROW(net.set_label_smoothing(-0.1f), Error);
}

TEST(Augment, ParsesAndNamesItself) {
  EXPECT_FALSE(parse_augment("none").any());
  const Augment a = parse_augment("flip,shift:2");
  EXPECT_TRUE(a.flip);
  EXPECT_EQ(a.shift, 2);
  EXPECT_EQ(a.str(), "flip,shift:2");
  EXPECT_EQ(parse_augment(a.str()).str(), a.str());
  for (const char* bad : {"flop", "shift:9", "shift:", "flip,flip", "shift:1,shift:2", "flip,"})
    EXPECT_THROW(parse_augment(bad), Error) << bad;
}

TEST(Augment, FlipMirrorsSomeImagesAndIsReproducible) {
  const Tensor x0 = test::random_tensor({64, 2, 5, 7}, 3);
  Tensor a = x0, b = x0;
  augment_batch(parse_augment("flip"), a, 9, 4);
  augment_batch(parse_augment("flip"), b, 9, 4);
  int mirrored = 0;
  for (int n = 0; n < 64; ++n) {
    bool same = true, mirror = true;
    for (int c = 0; c < 2; ++c)
      for (int y = 0; y < 5; ++y)
        for (int x = 0; x < 7; ++x) {
          const std::size_t at = ((std::size_t(n) * 2 + c) * 5 + y) * 7;
          same = same && a[at + x] == x0[at + x];
          mirror = mirror && a[at + x] == x0[at + 6 - x];
        }
    EXPECT_TRUE(same || mirror) << "image " << n;
    mirrored += mirror && !same;
  }
  EXPECT_GT(mirrored, 16);  // about half of 64
  EXPECT_LT(mirrored, 48);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]);  // same (seed, step): same draws
  Tensor c = x0;
  augment_batch(parse_augment("flip"), c, 9, 5);  // another step: other draws
  bool differs = false;
  for (std::size_t i = 0; i < c.size(); ++i) differs = differs || c[i] != a[i];
  EXPECT_TRUE(differs);
}

TEST(Augment, ShiftMovesPixelsAndFillsTheBorderWithZero) {
  Tensor x({32, 1, 6, 6});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.0f + float(i % 36);
  const Tensor x0 = x;
  augment_batch(parse_augment("shift:2"), x, 1, 0);
  int moved = 0;
  for (int n = 0; n < 32; ++n) {
    // find the (dy, dx) this image moved by, and check every pixel against it
    bool found = false;
    for (int dy = -2; dy <= 2 && !found; ++dy)
      for (int dx = -2; dx <= 2 && !found; ++dx) {
        bool ok = true;
        for (int y = 0; y < 6; ++y)
          for (int xx = 0; xx < 6; ++xx) {
            const int ys = y - dy, xs = xx - dx;
            const float want = (ys >= 0 && ys < 6 && xs >= 0 && xs < 6)
                                   ? x0[std::size_t(n) * 36 + std::size_t(ys) * 6 + std::size_t(xs)]
                                   : 0.0f;
            ok = ok && x[std::size_t(n) * 36 + std::size_t(y) * 6 + std::size_t(xx)] == want;
          }
        if (ok) found = true, moved += dy != 0 || dx != 0;
      }
    EXPECT_TRUE(found) << "image " << n << " is not a shift of the original by at most 2 pixels";
  }
  EXPECT_GT(moved, 20);  // 24 of 25 shifts move the image
}

}  // namespace
}  // namespace cnn

namespace cnn {
namespace {

// The CIFAR recipe's random crop: pad by 4 zeros, cut a 32×32 window at a random offset; the same window for the
// three colour planes of an image, and the same draws as shift:4.
TEST(Augment, CropPadsWithZerosAndCutsOneWindowForEveryColourPlane) {
  EXPECT_EQ(parse_augment("flip,crop:4").shift, 4);
  EXPECT_THROW(parse_augment("crop:9"), Error);
  EXPECT_THROW(parse_augment("crop:2,shift:2"), Error);
  Tensor x({16, 3, 32, 32});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.0f + float(i % 997);
  const Tensor x0 = x;
  Tensor same = x;
  augment_batch(parse_augment("crop:4"), x, 5, 3);
  augment_batch(parse_augment("shift:4"), same, 5, 3);
  ASSERT_EQ(0, std::memcmp(x.data(), same.data(), x.size() * sizeof(float)));
  int moved = 0;
  for (int n = 0; n < 16; ++n) {
    // the window's offset (oy, ox) in the zero-padded 40×40 image, found from plane 0 and checked on all three
    bool found = false;
    for (int oy = 0; oy <= 8 && !found; ++oy)
      for (int ox = 0; ox <= 8 && !found; ++ox) {
        bool ok = true;
        for (int c = 0; c < 3 && ok; ++c)
          for (int y = 0; y < 32 && ok; ++y)
            for (int xx = 0; xx < 32 && ok; ++xx) {
              const int ys = y + oy - 4, xs = xx + ox - 4;
              const float want = ys >= 0 && ys < 32 && xs >= 0 && xs < 32 ? x0.at(n, c, ys, xs) : 0.0f;
              ok = x.at(n, c, y, xx) == want;
            }
        if (ok) found = true, moved += oy != 4 || ox != 4;
      }
    EXPECT_TRUE(found) << "image " << n << " is not a 32x32 window of its zero-padded 40x40 self";
  }
  EXPECT_GT(moved, 10);
}

}  // namespace
}  // namespace cnn
