// What a classic kernel sees (seed 004): every kernel `cnn kernels` applies, run through this project's Conv2D,
// equals OpenCV's filter2D (correlation, like our ⊗) on a photograph-like picture, with zero padding on both sides.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cnn/show.h"
#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

// A picture with what photographs have: smooth shading, hard-edged shapes at every angle, fine texture and sensor
// noise — so every kernel (edges, lines, diagonals, blur, spots) has something to respond to.
cv::Mat photo_like(int h, int w) {
  cv::Mat img(h, w, CV_64F);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      img.at<double>(y, x) = 0.15 + 0.5 * x / w + 0.2 * y / h + 0.05 * std::sin(x * 0.7) * std::cos(y * 0.5);
  cv::circle(img, {w / 3, h / 2}, h / 4, cv::Scalar(0.95), cv::FILLED, cv::LINE_AA);
  cv::rectangle(img, cv::Rect(w / 2, h / 6, w / 4, h / 3), cv::Scalar(0.05), cv::FILLED);
  cv::line(img, {5, h - 6}, {w - 6, 8}, cv::Scalar(0.8), 2, cv::LINE_AA);
  cv::line(img, {w - 10, 0}, {w - 10, h - 1}, cv::Scalar(1.0), 1);
  cv::putText(img, "9", {w * 3 / 4, h - 10}, cv::FONT_HERSHEY_SIMPLEX, 1.2, cv::Scalar(0.9), 3);
  cv::Mat noise(h, w, CV_64F);
  cv::RNG rng(4);
  rng.fill(noise, cv::RNG::NORMAL, 0.0, 0.03);
  img += noise;
  cv::min(cv::max(img, 0.0), 1.0, img);
  return img;
}

Tensor to_tensor(const cv::Mat& m) {
  Tensor t({1, 1, m.rows, m.cols});
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) t.at(0, 0, y, x) = float(m.at<double>(y, x));
  return t;
}

// OpenCV's answer for the float picture our Conv2D saw. Conv2D `same` pads (k−1)/2 rows/columns at the top/left
// (the odd one, for even kernels, at the bottom/right), so the anchor is ((kw−1)/2, (kh−1)/2): for odd kernels
// filter2D's default centre, for even ones one less than its default k/2.
cv::Mat opencv_response(const Tensor& img, const std::vector<float>& weights, int kh, int kw) {
  cv::Mat src(img.shape().h, img.shape().w, CV_64F), kernel(kh, kw, CV_64F), dst;
  for (int y = 0; y < src.rows; ++y)
    for (int x = 0; x < src.cols; ++x) src.at<double>(y, x) = img.at(0, 0, y, x);
  for (int i = 0; i < kh * kw; ++i) kernel.at<double>(i / kw, i % kw) = weights[std::size_t(i)];
  cv::filter2D(src, dst, CV_64F, kernel, cv::Point((kw - 1) / 2, (kh - 1) / 2), 0.0, cv::BORDER_CONSTANT);
  return dst;
}

double max_abs_diff(const Tensor& ours, const cv::Mat& theirs) {
  double m = 0;
  for (int y = 0; y < theirs.rows; ++y)
    for (int x = 0; x < theirs.cols; ++x)
      m = std::max(m, std::fabs(double(ours.at(0, 0, y, x)) - theirs.at<double>(y, x)));
  return m;
}

TEST(ClassicKernels, AreTheOnesSeed004Lists) {
  const auto kernels = show::classic_kernels();
  std::vector<std::string> names;
  for (const auto& k : kernels) {
    names.push_back(k.name);
    EXPECT_EQ(k.weights.size(), std::size_t(k.h) * k.w) << k.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"sobel-x", "sobel-y", "scharr-x", "scharr-y", "laplacian", "gaussian",
                                             "edge-1", "edge-2", "line", "diagonal", "nine-upper-stroke"}));
  // The seed's numbers, as printed on its slides.
  EXPECT_EQ(kernels[0].weights, (std::vector<float>{-1, 0, 1, -2, 0, 2, -1, 0, 1}));
  EXPECT_EQ(kernels[4].weights, (std::vector<float>{1, 1, 1, 1, -8, 1, 1, 1, 1}));
  EXPECT_EQ(kernels[10].weights, (std::vector<float>{1, 1, 1, 1, -1, 1, 1, 1, 1}));
  const auto& g = kernels[5];
  EXPECT_EQ(g.h, 5);
  double sum = 0;
  for (float v : g.weights) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-6);
  EXPECT_GT(g.weights[12], g.weights[0]);  // peak in the middle
}

TEST(ClassicKernels, OurConv2DEqualsOpenCVFilter2D) {
  const Tensor img = to_tensor(photo_like(120, 160));
  for (const auto& k : show::classic_kernels()) {
    const Tensor ours = show::apply_kernel(img, k);
    ASSERT_EQ(ours.shape(), img.shape()) << k.name;  // `same` padding keeps the size
    const cv::Mat theirs = opencv_response(img, k.weights, k.h, k.w);
    EXPECT_LE(max_abs_diff(ours, theirs), 1e-4) << k.name;
    // And it is not trivially zero: every kernel sees something in this picture.
    double energy = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) energy += std::fabs(ours[i]);
    EXPECT_GT(energy / double(ours.size()), 1e-3) << k.name;
  }
}

TEST(ClassicKernels, EvenKernelsMatchFilter2DWithTheSamePaddingSplit) {
  const Tensor img = to_tensor(photo_like(37, 53));
  Rng rng(7);
  for (auto [kh, kw] : {std::pair{2, 2}, {4, 4}, {2, 3}, {4, 1}}) {
    show::ClassicKernel k{"random", "", kh, kw, {}};
    for (int i = 0; i < kh * kw; ++i) k.weights.push_back(rng.uniform(-1.0f, 1.0f));
    EXPECT_LE(max_abs_diff(show::apply_kernel(img, k), opencv_response(img, k.weights, kh, kw)), 1e-4)
        << kh << "x" << kw;
  }
}

TEST(ClassicKernels, RespondWhereTheSeedSaysTheyShould) {
  // A bright vertical bar on black: Sobel X is positive on its left edge (dark → bright), negative on its right;
  // the line kernel peaks on the bar; Sobel Y sees nothing inside the picture.
  Tensor img({1, 1, 9, 9}, 0.0f);
  for (int y = 0; y < 9; ++y) img.at(0, 0, y, 4) = 1.0f;
  const auto kernels = show::classic_kernels();
  const Tensor sx = show::apply_kernel(img, kernels[0]), sy = show::apply_kernel(img, kernels[1]);
  const Tensor line = show::apply_kernel(img, kernels[8]);
  EXPECT_FLOAT_EQ(sx.at(0, 0, 4, 3), 4.0f);
  EXPECT_FLOAT_EQ(sx.at(0, 0, 4, 5), -4.0f);
  EXPECT_FLOAT_EQ(sy.at(0, 0, 4, 4), 0.0f);
  EXPECT_FLOAT_EQ(line.at(0, 0, 4, 4), 15.0f);  // 3 × 5 on the bar
  EXPECT_FLOAT_EQ(line.at(0, 0, 4, 3), -3.0f);  // the bar under a −1 column
}

// Zero padding gives a light picture a bright frame that says nothing about the picture: the colour scale is the
// inside's, so a faint spot in grey paper reaches the end of the scale instead of fading beside the frame.
TEST(ClassicKernels, TheZeroPaddingFrameStaysOutOfTheColourScale) {
  Tensor img({1, 1, 16, 16});
  img.fill(0.5f);
  img.at(0, 0, 8, 8) = 0.6f;
  const auto kernels = show::classic_kernels();
  const auto& laplacian =
      *std::find_if(kernels.begin(), kernels.end(), [](const auto& k) { return k.name == "laplacian"; });
  const Tensor r = show::apply_kernel(img, laplacian);
  const Pads f = show::padding_frame(laplacian);
  EXPECT_EQ(f.top + f.bottom + f.left + f.right, 4);
  const auto [lo, hi] = show::inner_range(r, f);
  EXPECT_NEAR(lo, -0.8f, 1e-5);        // −8 × 0.1 at the spot
  EXPECT_NEAR(hi, 0.1f, 1e-5);         // its neighbours
  EXPECT_LT(r.at(0, 0, 0, 0), -2.0f);  // the frame: the corner sees five zeros
  const std::string path = (fs::temp_directory_path() / ("cnn_frame_" + std::to_string(::getpid()) + ".png")).string();
  show::write_map_picture(path, r, "laplacian", "", false, f);
  const cv::Mat png = cv::imread(path);
  fs::remove(path);
  ASSERT_FALSE(png.empty());
  const int cell = 320 / 16;  // the map drawn 20 pixels a value, at (10, 48)
  const cv::Vec3b spot = png.at<cv::Vec3b>(48 + 8 * cell + cell / 2, 10 + 8 * cell + cell / 2);
  const show::Rgb end = show::diverging(-1.0);
  EXPECT_EQ(spot, cv::Vec3b(end.b, end.g, end.r)) << "the spot is not the darkest blue of the scale";
}

// A page of dark ink is inverted by predict's rule (a light border), a picture of light strokes on black is not.
TEST(ClassicKernels, LoadGreyInvertsDarkInkOnLightPaper) {
  const fs::path dir = fs::temp_directory_path() / ("cnn_grey_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Tensor page({1, 1, 20, 20});
  page.fill(0.9f);
  for (int y = 4; y < 16; ++y) page.at(0, 0, y, 10) = 0.1f;
  save_grey_png((dir / "page.png").string(), page.data(), 20, 20);
  Tensor strokes({1, 1, 20, 20});
  for (int y = 4; y < 16; ++y) strokes.at(0, 0, y, 10) = 1.0f;
  save_grey_png((dir / "strokes.png").string(), strokes.data(), 20, 20);
  bool inverted = false;
  const Tensor a = show::load_grey((dir / "page.png").string(), 0, Invert::automatic, &inverted);
  EXPECT_TRUE(inverted);
  EXPECT_NEAR(a.at(0, 0, 0, 0), 0.1f, 0.01f);
  EXPECT_NEAR(a.at(0, 0, 8, 10), 0.9f, 0.01f);
  const Tensor b = show::load_grey((dir / "strokes.png").string(), 0, Invert::automatic, &inverted);
  EXPECT_FALSE(inverted);
  EXPECT_EQ(b.at(0, 0, 8, 10), 1.0f);
  show::load_grey((dir / "page.png").string(), 0, Invert::never, &inverted);
  EXPECT_FALSE(inverted);
  show::load_grey((dir / "strokes.png").string(), 0, Invert::always, &inverted);
  EXPECT_TRUE(inverted);
  fs::remove_all(dir);
}

TEST(ClassicKernels, RejectsWhatIsNotOneGreyImage) {
  EXPECT_THROW(show::apply_kernel(Tensor({1, 3, 8, 8}), show::classic_kernels()[0]), Error);
  show::ClassicKernel bad{"bad", "", 3, 3, {1, 2}};
  EXPECT_THROW(show::apply_kernel(Tensor({1, 1, 8, 8}), bad), Error);
}

}  // namespace
}  // namespace cnn
