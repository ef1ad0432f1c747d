// Conv2D with explicit (also asymmetric) pads and without a bias, through every kernel its plan can choose, against
// the literal formulas of src/reference/ and against central differences; and the plans that ResNet-like shapes get.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "helpers.h"
#include "kernels/conv_plan.h"
#include "kernels/kernels.h"
#include "reference/reference.h"

namespace cnn {
namespace {

using Settings = test::FastPathSettings;
using kernels::Isa;

struct PadCase {
  int n, c, h, w, o, kh, kw, stride;
  Pads pads;
  bool bias;
};

std::string describe(const PadCase& p) {
  return "n=" + std::to_string(p.n) + " c=" + std::to_string(p.c) + " " + std::to_string(p.h) + "x" +
         std::to_string(p.w) + " o=" + std::to_string(p.o) + " k=" + std::to_string(p.kh) + "x" + std::to_string(p.kw) +
         " s=" + std::to_string(p.stride) + " pads t" + std::to_string(p.pads.top) + " l" +
         std::to_string(p.pads.left) + " b" + std::to_string(p.pads.bottom) + " r" + std::to_string(p.pads.right) +
         (p.bias ? "" : " no bias");
}

// One Conv2D on its own (its parameters in local buffers), so that nothing but the layer and its plan is tested.
struct Layer1 {
  Conv2D conv;
  std::vector<float> params, grads;
  Layer1(const PadCase& p) : conv(p.o, KernelSize{p.kh, p.kw}, p.stride, p.pads, p.bias) {
    conv.setup({1, p.c, p.h, p.w});
    params.resize(conv.param_count());
    grads.resize(conv.param_count());
    conv.bind(params.data(), grads.data());
    Rng rng(7);
    conv.init(rng);
  }
};

// The layer's forward, dW, db and dA (plain and with the ReLU fused) against the reference formulas.
// plans not null: collects the plans seen, and dA must not be all zero (random shapes may have pixels no window reads).
void check_against_reference(const PadCase& p, bool fused_relu, std::set<std::string>* plans) {
  Layer1 l(p);
  Conv2D& conv = l.conv;
  const std::string what = describe(p) + " (" + conv.kernel_name() + (fused_relu ? ", fused relu)" : ")");
  if (plans) plans->insert(conv.kernel_name());
  ASSERT_EQ(conv.has_bias(), p.bias) << what;
  ASSERT_EQ(conv.pad_top(), p.pads.top) << what;
  ASSERT_EQ(conv.pad_right(), p.pads.right) << what;
  const Tensor x = test::random_tensor({p.n, p.c, p.h, p.w}, 11);
  const ref::Pads pads{p.pads.top, p.pads.bottom, p.pads.left, p.pads.right};
  const Tensor z = ref::conv2d_forward(x, conv.weight(), conv.bias(), p.stride, pads);
  Tensor got, relu;
  if (fused_relu)
    conv.forward_relu(x, got, relu);
  else
    conv.forward(x, got, Context{});
  ASSERT_EQ(got.shape(), z.shape()) << what;
  test::expect_close(got, z, 1e-5, what + ": forward");
  if (fused_relu) {
    Tensor want = z;
    for (std::size_t i = 0; i < want.size(); ++i) want[i] = want[i] >= 0.0f ? want[i] : 0.0f;
    test::expect_close(relu, want, 1e-5, what + ": fused relu");
  }

  const Tensor dout = test::random_tensor(got.shape(), 12);
  Tensor dx, dz_fused;
  if (fused_relu)
    conv.backward_relu(x, got, dout, dz_fused, &dx);
  else
    conv.backward(x, got, dout, &dx);
  Tensor dz = dout;
  if (fused_relu)
    for (std::size_t i = 0; i < dz.size(); ++i) dz[i] = z[i] >= 0.0f ? dz[i] : 0.0f;
  const ref::ConvGrads g = ref::conv2d_backward(x, conv.weight(), dz, p.stride, pads);
  test::expect_close(dx, g.dx, 1e-5, what + ": dA");
  test::expect_close(conv.weight_grad(), g.dw, 1e-5, what + ": dW");
  if (plans) {
    EXPECT_GT(test::max_abs(g.dx.data(), g.dx.size()), 0.0) << what << ": a vacuous dA";
  }
  if (p.bias) {
    test::expect_close(conv.bias_grad(), g.db, 1e-5, what + ": db");
  } else {
    EXPECT_EQ(conv.bias_grad().data(), nullptr) << what;
    EXPECT_EQ(conv.bias_grad().size(), 0u) << what;
  }
}

// Stride 1 (the direct kernels where the CPU has them: rows, over channels, the three dA forms) and stride 2
// (im2col); symmetric, asymmetric, zero and wider-than-the-kernel pads; with and without a bias; 1 to 11 images.
const PadCase kCases[] = {
    {5, 16, 8, 8, 16, 3, 3, 1, {1, 1, 1, 1}, false},  // a ResNet block's 3×3
    {3, 16, 8, 8, 16, 3, 3, 1, {1, 1, 1, 1}, true},
    {4, 16, 8, 8, 16, 3, 3, 2, {1, 1, 1, 1}, false},  // ResNet's downsampling 3×3
    {3, 16, 8, 8, 32, 1, 1, 2, {0, 0, 0, 0}, false},  // ResNet's 1×1 stride-2 shortcut
    {2, 8, 7, 9, 8, 1, 1, 2, {0, 0, 0, 0}, true},
    {11, 3, 9, 10, 8, 3, 3, 1, {0, 1, 1, 0}, false},  // asymmetric: TensorFlow's `same` for stride 2, at stride 1
    {3, 3, 9, 10, 5, 3, 3, 2, {0, 1, 1, 0}, true},
    {2, 2, 8, 11, 6, 3, 2, 1, {2, 0, 1, 1}, false},
    {3, 4, 10, 16, 8, 3, 7, 1, {0, 2, 1, 0}, false},  // 16-pixel dA rows against 12 of dZ: dA as forward
    {2, 2, 6, 13, 3, 3, 7, 2, {0, 2, 1, 0}, true},
    {4, 6, 12, 10, 8, 5, 5, 1, {2, 2, 2, 2}, false},  // 10-pixel rows, 8 maps: forward and dW over channels
    {9, 3, 8, 8, 12, 3, 3, 1, {0, 0, 0, 0}, false},   // zero pads: dA over the batch
    {3, 2, 6, 9, 4, 1, 1, 1, {1, 1, 1, 1}, false},    // pads wider than the kernel: rows of zeros only
    {2, 3, 5, 8, 4, 3, 3, 1, {3, 0, 2, 4}, true},
    {1, 32, 16, 16, 32, 3, 3, 1, {1, 1, 1, 1}, false},  // ResNet's second stage
};

class ConvPads : public ::testing::TestWithParam<std::tuple<Isa, int>> {};

TEST_P(ConvPads, ExplicitPadsAndNoBiasMatchTheReference) {
  const auto [isa, threads] = GetParam();
  Settings settings(threads, isa);
  std::set<std::string> plans;
  for (const PadCase& p : kCases)
    for (bool relu : {false, true}) {
      check_against_reference(p, relu, &plans);
      if (HasFatalFailure()) return;
    }
  std::string seen;
  for (const std::string& s : plans) seen += " [" + s + "]";
  std::printf("[conv plan] %s, %d thread(s): plans%s\n", kernels::isa_name(isa), threads, seen.c_str());
  if (!kernels::simd_available()) {
    EXPECT_EQ(plans, std::set<std::string>{"im2col"});
    return;
  }
  // every kernel was reached: im2col, the forward and dW along rows and over channels, the three forms of dA
  auto seen_plan = [&](auto&& pred) { return std::any_of(plans.begin(), plans.end(), pred); };
  auto has = [](const std::string& plan, const char* part) { return plan.find(part) != std::string::npos; };
  EXPECT_TRUE(plans.count("im2col"));
  for (const char* part : {"forward over channels", "dW over channels", "dA as forward", "dA over the batch"})
    EXPECT_TRUE(seen_plan([&](const std::string& s) { return has(s, part); })) << "no case took " << part;
  EXPECT_TRUE(seen_plan([&](const std::string& s) { return has(s, "direct") && !has(s, "forward over"); }))
      << "no case took the forward along rows";
  EXPECT_TRUE(seen_plan([&](const std::string& s) { return has(s, "direct") && !has(s, "dW over"); }))
      << "no case took dW along rows";
  EXPECT_TRUE(seen_plan([&](const std::string& s) { return has(s, "direct") && !has(s, "dA "); }))
      << "no case took dA tap by tap";
}

INSTANTIATE_TEST_SUITE_P(IsaAndThreads, ConvPads,
                         ::testing::Combine(::testing::ValuesIn(test::isas()), ::testing::Values(1, 3)),
                         test::isa_and_threads);

// Random shapes and pads (each pad 0 to 3), with and without a bias.
TEST_P(ConvPads, RandomPadsMatchTheReference) {
  const auto [isa, threads] = GetParam();
  Settings settings(threads, isa);
  Rng rng(505 + 101 * int(isa));
  for (int t = 0; t < 40; ++t) {
    PadCase p;
    const int batches[] = {1, 2, 5, 9, 13};
    p.n = batches[rng.below(5)];
    p.c = 1 + int(rng.below(6));
    p.o = 1 + int(rng.below(17));
    p.kh = 1 + int(rng.below(5));
    p.kw = 1 + int(rng.below(5));
    p.stride = rng.below(3) == 0 ? 2 : 1;
    p.pads = {int(rng.below(4)), int(rng.below(4)), int(rng.below(4)), int(rng.below(4))};
    p.bias = rng.below(2) == 0;
    p.h = std::max(1, p.kh - p.pads.top - p.pads.bottom) + int(rng.below(14));
    p.w = std::max(1, p.kw - p.pads.left - p.pads.right) + int(rng.below(24));
    check_against_reference(p, t % 3 == 0, nullptr);
    if (HasFatalFailure()) return;
  }
}

// Central differences for a convolution with asymmetric pads and no bias, on the direct kernels (stride 1, where the
// CPU has them) and on im2col (stride 2); the gradients must not be all zero.
TEST(ConvPadsGradCheck, AsymmetricPadsNoBias) {
  for (int stride : {1, 2}) {
    Network net({1, 3, 7, 6});
    net.add<Conv2D>(4, KernelSize{3, 3}, stride, Pads{0, 1, 2, 1}, false);
    net.init(21);
    const auto& conv = dynamic_cast<const Conv2D&>(net.layer(0));
    EXPECT_EQ(net.params().size(), 4u * 3 * 3 * 3);  // weights only
    const test::GradCheck g = test::check_gradients(net, test::random_tensor({2, 3, 7, 6}, 3), 99, 1e-2);
    std::printf("[gradcheck] conv2d pad [0,1,2,1] no bias s%d (%s): max relative error %.2e over %zu coordinates\n",
                stride, conv.kernel_name().c_str(), g.max_rel_error, g.checked);
    EXPECT_GT(g.checked, 100u);
    EXPECT_GT(g.max_abs_analytic, 1e-4) << "every gradient is zero, the check would prove nothing";
    EXPECT_LE(g.max_rel_error, 2e-3);
  }
}

// ResNet-like shapes: 3×3 pad 1 on 16, 32 and 64 channels at 32, 16 and 8 pixels, the stride-2 3×3 and the 1×1
// stride-2 shortcut between stages.
TEST(ConvPlanChoice, ResNetShapes) {
  struct Case {
    int c, px, o, k, stride, pad;
  };
  for (const Case& s :
       {Case{16, 32, 16, 3, 1, 1}, Case{32, 16, 32, 3, 1, 1}, Case{64, 8, 64, 3, 1, 1}, Case{16, 32, 32, 3, 2, 1},
        Case{32, 16, 64, 3, 2, 1}, Case{16, 32, 32, 1, 2, 0}, Case{32, 16, 64, 1, 2, 0}, Case{3, 32, 16, 3, 1, 1}}) {
    Conv2D conv(s.o, s.k, s.stride, Pads{s.pad, s.pad, s.pad, s.pad}, false);
    conv.setup({1, s.c, s.px, s.px});
    const std::string what = std::to_string(s.c) + "->" + std::to_string(s.o) + " " + std::to_string(s.k) + "x" +
                             std::to_string(s.k) + " s" + std::to_string(s.stride) + " pad " + std::to_string(s.pad) +
                             " at " + std::to_string(s.px) + "x" + std::to_string(s.px);
    std::printf("[conv plan] %-28s -> %s\n", what.c_str(), conv.kernel_name().c_str());
    EXPECT_EQ(conv.output_shape().h, (s.px + 2 * s.pad - s.k) / s.stride + 1) << what;
    if (!kernels::simd_available()) {
      EXPECT_EQ(conv.kernel_name(), "im2col") << what;
      continue;
    }
    const bool wide = kernels::isa() == kernels::Isa::avx512_16;  // 16-float forwards
    if (s.stride != 1) {  // the channel-vector kernels space their broadcast pixels; dA by im2col
      EXPECT_EQ(conv.kernel_name(),
                std::string("direct, forward over ") + (wide ? "16 " : "") + "channels, dW over channels, dA by im2col")
          << what;
      continue;
    }
    // stride 1 with full 8-pixel rows and dot products of at most 64·9: the direct kernels, along rows of 16 pixels
    // where 16-float vectors are chosen and 16 divides the rows, dW over channels where O fills whole vectors, and
    // dA as a forward convolution of the same shape
    const bool rows16 = wide && s.px % 16 == 0, cv16 = wide && !rows16 && s.o % 16 == 0;
    EXPECT_EQ(conv.kernel_name(), std::string("direct") + (rows16 ? ", rows of 16" : "") +
                                      (cv16 ? ", forward over 16 channels" : "") +
                                      (s.o % 8 == 0 ? ", dW over channels" : "") + ", dA as forward")
        << what;
  }
}

// A plan made while the kernels use AVX2 calls the AVX2 kernels (and one made for AVX-512 the AVX-512 ones), whatever
// the set is later: what each set computes is checked against the reference by ConvPads and FastConv.
TEST(ConvPlanChoice, APlanKeepsTheInstructionSetItWasMadeFor) {
  const kernels::ConvShape shape{.C = 6, .H = 12, .W = 12, .O = 12, .kh = 5, .kw = 5, .Ho = 8, .Wo = 8};
  for (Isa isa : test::isas()) {
    Settings settings(1, isa);
    const kernels::ConvPlan plan(shape);
    kernels::set_isa(Isa::portable);
    EXPECT_EQ(plan.isa(), isa) << kernels::isa_name(isa);
    EXPECT_EQ(plan.describe() == "im2col", isa == Isa::portable) << plan.describe();
  }
}

TEST(ConvPlanChoice, WithoutSimdEveryShapeTakesIm2col) {
  Settings settings(1, Isa::portable);
  const kernels::ConvPlan plan({.C = 6, .H = 12, .W = 12, .O = 12, .kh = 5, .kw = 5, .Ho = 8, .Wo = 8});
  EXPECT_EQ(plan.describe(), "im2col");
  EXPECT_EQ(plan.forward_kernel(), kernels::ForwardKernel::im2col);
  EXPECT_EQ(plan.input_grad_kernel(), kernels::InputGradKernel::im2col);
}

TEST(ConvPlanChoice, DAAsForwardOnlyWhereEveryDZPixelLandsInItsPlane) {
  const bool simd = kernels::simd_available();  // without AVX-512 every shape takes im2col
  // 3×7 kernel, 16-pixel dA rows against 12 of dZ: as a forward convolution while no pad exceeds the kernel less one
  const kernels::ConvShape fits{.C = 4,
                                .H = 10,
                                .W = 16,
                                .O = 8,
                                .kh = 3,
                                .kw = 7,
                                .pad_top = 2,
                                .pad_left = 1,
                                .pad_bottom = 0,
                                .pad_right = 0,
                                .Ho = 10,
                                .Wo = 11};
  EXPECT_EQ(kernels::ConvPlan(fits).input_grad_kernel(),
            simd ? kernels::InputGradKernel::as_forward : kernels::InputGradKernel::im2col);
  kernels::ConvShape wide = fits;
  wide.pad_top = 3, wide.Ho = 11;
  EXPECT_EQ(kernels::ConvPlan(wide).input_grad_kernel(),
            simd ? kernels::InputGradKernel::taps : kernels::InputGradKernel::im2col);
}

TEST(Conv2DPads, DescriptionSummaryAndParameters) {
  Conv2D plain(4, 3);
  plain.setup({1, 2, 8, 8});
  EXPECT_EQ(plain.spec().dump(), R"({"filters":4,"kernel":3,"padding":"valid","stride":1,"type":"conv2d"})");
  EXPECT_EQ(plain.summary(), "conv2d 4@3x3 stride 1 valid");
  EXPECT_TRUE(plain.has_bias());
  EXPECT_EQ(plain.param_count(), 4u * 2 * 9 + 4);

  Conv2D same(4, KernelSize{3, 2}, 2, Padding::same, false);
  same.setup({1, 2, 8, 8});
  EXPECT_EQ(same.spec()["padding"], "same");
  EXPECT_EQ(same.spec()["bias"], false);
  EXPECT_EQ(same.summary(), "conv2d 4@3x2 stride 2 same, no bias");

  Conv2D sym(4, 3, 1, Pads{1, 1, 1, 1});
  sym.setup({1, 2, 8, 8});
  EXPECT_EQ(sym.padding(), Padding::explicit_pads);
  EXPECT_EQ(sym.spec()["padding"], 1);
  EXPECT_FALSE(sym.spec().contains("bias"));
  EXPECT_EQ(sym.summary(), "conv2d 4@3x3 stride 1 pad 1");
  EXPECT_EQ(sym.output_shape(), (Shape{1, 4, 8, 8}));

  Conv2D asym(4, 3, 2, Pads{0, 1, 1, 0}, false);
  asym.setup({1, 2, 8, 8});
  EXPECT_EQ(asym.spec()["padding"], nlohmann::json::array({0, 1, 1, 0}));
  EXPECT_EQ(asym.spec()["bias"], false);
  EXPECT_EQ(asym.summary(), "conv2d 4@3x3 stride 2 pad [0,1,1,0], no bias");
  EXPECT_EQ(asym.output_shape(), (Shape{1, 4, 4, 4}));  // (8 + 0 + 1 − 3)/2 + 1
  EXPECT_EQ(asym.param_count(), 4u * 2 * 9);
  std::vector<float> params(asym.param_count()), grads(asym.param_count());
  asym.bind(params.data(), grads.data());
  const auto views = asym.params();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].name, "weight");
  EXPECT_EQ(asym.bias().shape(), (Shape{0, 0, 0, 0}));
  EXPECT_EQ(asym.bias().data(), nullptr);
}

TEST(Conv2DPads, BadPadsAreOneClearLine) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message([] {
              Conv2D(4, 3, 1, Pads{0, -1, 0, 0});
            }),
            "conv2d layer: padding must not be negative, got [0,-1,0,0]");
  EXPECT_NE(message([] { Conv2D(4, 5, 1, Padding::explicit_pads); }).find("explicit padding needs its four pads"),
            std::string::npos);
  EXPECT_EQ(message([] {
              Conv2D(4, 5, 1, Pads{1, 1, 0, 1}).setup({1, 2, 3, 8});
            }),
            "conv2d layer: input 2x3x8 with padding [1,1,0,1] is smaller than the 5x5 kernel");
  EXPECT_EQ(message([] { Conv2D(4, 5, 1, Pads{1, 1, 1, 1}).setup({1, 2, 3, 3}); }), "no error");  // 5x5 padded
}

}  // namespace
}  // namespace cnn
