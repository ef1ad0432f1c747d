#include "helpers.h"

namespace cnn {
namespace {

TEST(Tensor, OwningCopiesAreDeepViewsAreShallow) {
  Tensor a({2, 3, 4, 5}, 1.0f);
  EXPECT_EQ(a.size(), 120u);
  EXPECT_TRUE(a.owns());
  Tensor b = a;
  b[0] = 7.0f;
  EXPECT_EQ(a[0], 1.0f);
  Tensor v = Tensor::view(a.data(), {1, 1, 10, 12});
  EXPECT_FALSE(v.owns());
  v[3] = 9.0f;
  EXPECT_EQ(a[3], 9.0f);
  Tensor v2 = v;
  EXPECT_EQ(v2.data(), a.data());
  EXPECT_EQ(a.at(1, 2, 3, 4), a[119]);
}

TEST(Tensor, ResizeKeepsStorageWhenItFits) {
  Tensor t({50, 6, 24, 24});
  const float* p = t.data();
  t.resize({7, 6, 24, 24});
  EXPECT_EQ(t.data(), p);
  t.resize({50, 6, 24, 24});
  EXPECT_EQ(t.data(), p);
  Tensor v = Tensor::view(t.data(), {1, 1, 1, 4});
  EXPECT_THROW(v.resize({1, 1, 1, 8}), Error);
  EXPECT_THROW(t.reshape({1, 1, 1, 3}), Error);
}

TEST(Tensor, ShapeErrorsNameTheLayerAndBothShapes) {
  Network net({1, 1, 28, 28});
  net.add<Conv2D>(6, 5);
  const Tensor wrong({2, 1, 32, 32});
  try {
    net.forward(wrong);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("1x28x28"), std::string::npos) << m;
    EXPECT_NE(m.find("1x32x32"), std::string::npos) << m;
  }
  try {
    net.layer(0).forward(wrong, *const_cast<Tensor*>(&wrong), {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv2d"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cnn
