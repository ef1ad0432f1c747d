// Optimizers on a tiny problem, against updates computed by hand.
#include "helpers.h"

namespace cnn {
namespace {

// One Dense 2→1 with weights [w0, w1] and bias b; we set the gradients directly and check the update.
struct Tiny {
  Network net{Shape{1, 2, 1, 1}};
  Tiny() {
    net.add<Dense>(1);
    net.params() = {0.5f, -1.0f, 0.25f};
  }
  void step(Optimizer& opt, std::vector<float> g) {
    net.grads() = g;
    opt.step(net);
  }
};

TEST(Optimizer, PlainSgdIsWMinusAlphaDw) {
  Tiny t;
  Optimizer opt({.lr = 0.1});
  t.step(opt, {1.0f, 2.0f, -4.0f});
  EXPECT_FLOAT_EQ(t.net.params()[0], 0.5f - 0.1f);
  EXPECT_FLOAT_EQ(t.net.params()[1], -1.0f - 0.2f);
  EXPECT_FLOAT_EQ(t.net.params()[2], 0.25f + 0.4f);
}

TEST(Optimizer, MomentumAndNesterovMatchHandComputation) {
  for (bool nesterov : {false, true}) {
    Tiny t;
    Optimizer opt({.lr = 0.1, .momentum = 0.9, .nesterov = nesterov});
    t.step(opt, {1.0f, 0.0f, 0.0f});  // v = 1
    t.step(opt, {2.0f, 0.0f, 0.0f});  // v = 0.9·1 + 2 = 2.9
    // plain: w = 0.5 − 0.1·1 − 0.1·2.9;  nesterov: steps g + μv: 1 + 0.9 = 1.9, then 2 + 0.9·2.9 = 4.61
    const float want = nesterov ? 0.5f - 0.1f * 1.9f - 0.1f * 4.61f : 0.5f - 0.1f - 0.29f;
    EXPECT_NEAR(t.net.params()[0], want, 1e-6) << (nesterov ? "nesterov" : "momentum");
  }
}

TEST(Optimizer, WeightDecayAddsLambdaW) {
  Tiny t;
  Optimizer opt({.lr = 0.1, .weight_decay = 0.01});
  t.step(opt, {0.0f, 0.0f, 0.0f});
  EXPECT_FLOAT_EQ(t.net.params()[0], 0.5f - 0.1f * 0.01f * 0.5f);
}

TEST(Optimizer, AdamMatchesHandComputation) {
  Tiny t;
  Optimizer opt({.kind = "adam", .lr = 0.01});
  t.step(opt, {0.5f, 0.0f, 0.0f});
  // t=1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25 → step 0.01·0.5/(0.5 + 1e-8)
  EXPECT_NEAR(t.net.params()[0], 0.5 - 0.01 * 0.5 / (0.5 + 1e-8), 1e-6);
  t.step(opt, {-1.0f, 0.0f, 0.0f});
  const double m = 0.9 * 0.05 + 0.1 * -1.0, v = 0.999 * 0.00025 + 0.001 * 1.0;
  const double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
  EXPECT_NEAR(t.net.params()[0], 0.5 - 0.01 * 0.5 / (0.5 + 1e-8) - 0.01 * mh / (std::sqrt(vh) + 1e-8), 1e-5);
  EXPECT_FLOAT_EQ(t.net.params()[1], -1.0f);  // zero gradient, zero moments: no move
}

TEST(Optimizer, DecaySchedules) {
  const LrSchedule step = parse_schedule("step:3:0.5");
  EXPECT_DOUBLE_EQ(step.factor(0), 1.0);
  EXPECT_DOUBLE_EQ(step.factor(2), 1.0);
  EXPECT_DOUBLE_EQ(step.factor(3), 0.5);
  EXPECT_DOUBLE_EQ(step.factor(7), 0.25);
  const LrSchedule exp = parse_schedule("exp:0.9");
  EXPECT_NEAR(exp.factor(2), 0.81, 1e-12);
  EXPECT_DOUBLE_EQ(parse_schedule("none").factor(5), 1.0);
  for (const char* bad : {"step", "step:0:0.5", "step:2", "exp:", "exp:-1", "cosine", "exp:0.9x"})
    EXPECT_THROW(parse_schedule(bad), Error) << bad;
  Tiny t;
  Optimizer opt({.lr = 0.1, .schedule = step});
  opt.set_epoch(3);
  EXPECT_DOUBLE_EQ(opt.layer_lr(t.net, 0), 0.05);
  t.step(opt, {1.0f, 0.0f, 0.0f});
  EXPECT_FLOAT_EQ(t.net.params()[0], 0.5f - 0.05f);
}

TEST(Optimizer, BadOptionsAreRefused) {
  EXPECT_THROW(Optimizer({.kind = "rmsprop"}), Error);
  EXPECT_THROW(Optimizer({.lr = -1}), Error);
  EXPECT_THROW(Optimizer({.lr = 0.1, .momentum = 1.5}), Error);
}

}  // namespace
}  // namespace cnn
