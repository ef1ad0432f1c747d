// Pictures (cnn/show.h and `cnn show`): the colour maps, the files each picture writes, the gradients the maps
// show (the last layer's is the seed's O − onehot), the metrics reader, and the command as a user runs it.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "cnn/show.h"
#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;
using test::random_tensor;

struct TempDir {
  fs::path dir;
  TempDir() {
    dir = fs::temp_directory_path() / ("cnn_show_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string operator/(const std::string& n) const { return (dir / n).string(); }
};

std::string run_cnn(const std::string& args, int* code) {
  FILE* p = popen((std::string(CNN_BINARY_DIR) + "/cnn " + args + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

Network seed5() {
  Network net = load_network("seed5");
  net.init(3);
  return net;
}

TEST(ShowColours, DivergingIsWhiteAtZeroBlueBelowRedAbove) {
  const show::Rgb zero = show::diverging(0), lo = show::diverging(-1), hi = show::diverging(1);
  EXPECT_EQ(zero.r, zero.g);
  EXPECT_EQ(zero.g, zero.b);
  EXPECT_GT(zero.r, 240);
  EXPECT_GT(lo.b, lo.r);
  EXPECT_GT(hi.r, hi.b);
  // Clamped beyond ±1, and a NaN draws as zero rather than as garbage.
  EXPECT_EQ(show::diverging(5).r, hi.r);
  EXPECT_EQ(show::diverging(std::nan("")).r, zero.r);
  EXPECT_GT(show::sequential(0).r, show::sequential(1).r);
}

TEST(ShowKernels, OnePictureForEveryConvLayer) {
  TempDir t;
  const Network net = seed5();
  const auto files = show::write_kernels(net, t / "k");
  ASSERT_EQ(files.size(), 2u);  // seed5: conv layers 0 and 3
  EXPECT_EQ(fs::path(files[0]).filename(), "kernels-layer0.png");
  EXPECT_EQ(fs::path(files[1]).filename(), "kernels-layer3.png");
  for (const auto& f : files) {
    const cv::Mat img = cv::imread(f);
    ASSERT_FALSE(img.empty()) << f;
    EXPECT_GT(img.cols, 100);
  }
  Network dense_only({1, 4, 4});
  dense_only.add<Dense>(3);
  EXPECT_THROW(show::write_kernels(dense_only, t / "none"), Error);
}

// Pixels of `img` (BGR, as imread gives) whose colour is exactly `c`.
int count_colour(const cv::Mat& img, show::Rgb c) {
  int n = 0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      const cv::Vec3b p = img.at<cv::Vec3b>(y, x);
      n += p[2] == c.r && p[1] == c.g && p[0] == c.b;
    }
  return n;
}

bool operator==(show::Rgb a, show::Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

TEST(ShowColours, AKernelsColourIsMidGreyAtZeroAndKeepsItsSlicesProportions) {
  EXPECT_TRUE(show::kernel_colour(0, 0, 0, 1) == (show::Rgb{128, 128, 128}));
  EXPECT_TRUE(show::kernel_colour(1, -1, 0.5, 1) == (show::Rgb{255, 0, 191}));
  EXPECT_TRUE(show::kernel_colour(0.2, 0.1, 0, 0.2) == (show::Rgb{255, 191, 128}));  // orange, not yellow
  EXPECT_TRUE(show::kernel_colour(9, -9, std::nan(""), 1) == (show::Rgb{255, 0, 128}));
}

// A colour net's first layer: kernel 0 looks only at red, kernel 1 weakly at blue, kernel 2 against red and half as
// much for green. Each is scaled by its own max|W|, so the weak one is as saturated as the strong ones.
TEST(ShowKernels, AColourFirstLayerIsOneColourPatchPerKernel) {
  TempDir t;
  Network net({1, 3, 8, 8});
  net.add<Conv2D>(3, 3).add<ReLU>().add<Conv2D>(2, 3);
  net.init(1);
  EXPECT_EQ(show::colour_kernel_layer(net), 0);
  EXPECT_EQ(show::colour_kernel_layer(seed5()), -1);
  Tensor w = dynamic_cast<Conv2D&>(net.layer(0)).weight();  // a view: [3, 3, 3, 3]
  for (int o = 0; o < 3; ++o)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x)
          w.at(o, c, y, x) = o == 0   ? (c == 0 ? 1.0f : 0.0f)
                             : o == 1 ? (c == 2 ? 0.01f : 0.0f)
                                      : (c == 0   ? -0.4f
                                         : c == 1 ? 0.2f
                                                  : 0.0f);
  const auto files = show::write_kernels(net, t / "k");
  ASSERT_EQ(files.size(), 2u);
  const cv::Mat colour = cv::imread(files[0]), grey = cv::imread(files[1]);
  ASSERT_FALSE(colour.empty());
  const int patch = 3 * 16 * 3 * 16;                        // 3×3 weights of 16×16 pixels
  EXPECT_GE(count_colour(colour, {255, 128, 128}), patch);  // +R
  EXPECT_GE(count_colour(colour, {128, 128, 255}), patch);  // +B, though 100 times weaker
  EXPECT_EQ(count_colour(colour, {0, 191, 128}), patch);    // −R with G at half its weight
  // The second conv layer reads feature maps, not colours: the diverging grid, one tile per input channel.
  ASSERT_FALSE(grey.empty());
  EXPECT_EQ(count_colour(grey, {0, 191, 128}), 0);
  EXPECT_GT(count_colour(grey, show::diverging(1.0)) + count_colour(grey, show::diverging(-1.0)), 0);
}

TEST(ShowMaps, AColourInputIsDrawnInColourAndItsGradientAsAColourMap) {
  TempDir t;
  Network net({1, 3, 4, 4});
  net.add<Flatten>().add<Dense>(3);
  net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  net.init(2);
  Tensor x({1, 3, 4, 4});
  for (int y = 0; y < 4; ++y)
    for (int c = 0; c < 4; ++c) x.at(0, c < 2 ? 0 : 2, y, c) = 1.0f;  // red left half, blue right half
  const show::MapsReport r = show::compute_maps(net, x, 1);
  const auto files = show::write_maps(r, t / "m");
  ASSERT_EQ(files.size(), 3 + 2 * net.size());
  const cv::Mat input = cv::imread(t / "m/input.png"), grad = cv::imread(t / "m/input-gradient.png");
  ASSERT_FALSE(input.empty());
  ASSERT_FALSE(grad.empty());
  const int half = 4 * 2 * 8 * 8;  // 4×2 pixels drawn 8×8 each
  EXPECT_EQ(count_colour(input, {255, 0, 0}), half);
  EXPECT_EQ(count_colour(input, {0, 0, 255}), half);
  // Every pixel of ∂L/∂input drawn with its three channels together on the one scale max|∂L/∂input|.
  const Tensor& g = r.input_gradient;
  double scale = 0;
  for (std::size_t i = 0; i < g.size(); ++i) scale = std::max(scale, double(std::fabs(g[i])));
  ASSERT_GT(scale, 0.0);
  for (int y = 0; y < 4; ++y)
    for (int c = 0; c < 4; ++c)
      EXPECT_GE(count_colour(grad, show::kernel_colour(g.at(0, 0, y, c), g.at(0, 1, y, c), g.at(0, 2, y, c), scale)),
                64)
          << "pixel " << y << ", " << c;
}

TEST(ShowMaps, GradientsAreTheBackwardPassOfTheChosenClass) {
  Network net = seed5();
  const Tensor x = random_tensor({1, 1, 28, 28}, 5, 0.0f, 1.0f);
  const show::MapsReport r = show::compute_maps(net, x, 3);
  ASSERT_EQ(r.layers.size(), net.size());
  EXPECT_EQ(r.target, 3);
  EXPECT_TRUE(r.target_is_label);
  for (const auto& m : r.layers) {
    EXPECT_TRUE(m.activation.shape().same_sample(net.layer(m.layer).output_shape())) << m.layer;
    EXPECT_EQ(m.gradient.shape(), m.activation.shape()) << m.layer;
  }
  // Seed 004: for softmax cross-entropy, dL/dz_i = O_i − [i = t].
  const Tensor& last = r.layers.back().gradient;
  for (int i = 0; i < 10; ++i)
    EXPECT_NEAR(last[std::size_t(i)], r.probabilities[std::size_t(i)] - (i == 3 ? 1.0f : 0.0f), 1e-6);
  // ReLU's backward: no gradient flows back through a unit that was off (seed 004: Z < 0 → dZ = 0).
  const auto& conv = r.layers[0];  // conv2d; its output feeds layer 1, a ReLU
  const Tensor& relu_grad = r.layers[1].gradient;
  for (std::size_t i = 0; i < conv.activation.size(); ++i)
    if (conv.activation[i] < 0) {
      EXPECT_EQ(conv.gradient[i], 0.0f);
    }
  double g = 0;
  for (std::size_t i = 0; i < relu_grad.size(); ++i) g += std::fabs(relu_grad[i]);
  EXPECT_GT(g, 0.0);
  EXPECT_EQ(r.input_gradient.shape(), x.shape());

  // Without a label, the gradients are for the predicted class.
  const show::MapsReport p = show::compute_maps(net, x);
  EXPECT_FALSE(p.target_is_label);
  EXPECT_EQ(p.target, int(std::max_element(p.probabilities.begin(), p.probabilities.end()) - p.probabilities.begin()));
  EXPECT_THROW(show::compute_maps(net, x, 10), Error);
  EXPECT_THROW(show::compute_maps(net, Tensor({1, 1, 27, 28})), Error);
}

TEST(ShowMaps, WritesInputGradientAndTwoPicturesPerLayer) {
  TempDir t;
  Network net = seed5();
  const auto files =
      show::write_maps(show::compute_maps(net, random_tensor({1, 1, 28, 28}, 6, 0.0f, 1.0f)), t / "maps");
  EXPECT_EQ(files.size(), 3 + 2 * net.size());
  for (const auto& f : files) EXPECT_FALSE(cv::imread(f).empty()) << f;
  EXPECT_TRUE(fs::exists(t / "maps/maps-layer0-conv2d.png"));
  EXPECT_TRUE(fs::exists(t / "maps/grad-layer6-dense.png"));
}

// A grey net's first layer reads one channel: its 6 kernels as a grid of 3 by 2, not a 6-tall column of one.
TEST(ShowKernels, AOneChannelLayerIsANearSquareGrid) {
  TempDir t;
  const Network net = seed5();
  const auto files = show::write_kernels(net, t / "k");
  const cv::Mat img = cv::imread(files.at(0));
  ASSERT_FALSE(img.empty());
  EXPECT_LT(img.rows, img.cols) << img.cols << "x" << img.rows << ": a strip, not a grid";
  // Every weight drawn: the extreme of the layer's scale appears in one 5×5 tile of 19×19-pixel cells.
  EXPECT_GE(count_colour(img, show::diverging(1.0)) + count_colour(img, show::diverging(-1.0)), 19 * 19);
}

// The input of a grey net is a picture: black where it is 0, white where it is 1, not the diverging colours (in
// which 0 is white); and one sheet holds every layer.
TEST(ShowMaps, AGreyInputIsDrawnInGreyAndOneSheetHoldsEveryLayer) {
  TempDir t;
  Network net = seed5();
  Tensor x({1, 1, 28, 28});
  for (int y = 0; y < 28; ++y)
    for (int c = 14; c < 28; ++c) x.at(0, 0, y, c) = 1.0f;  // black left half, white right half
  const auto files = show::write_maps(show::compute_maps(net, x, 2), t / "m");
  ASSERT_EQ(files.size(), 3 + 2 * net.size());
  EXPECT_EQ(fs::path(files[0]).filename(), "overview.png");
  const cv::Mat input = cv::imread(t / "m/input.png");
  ASSERT_FALSE(input.empty());
  const int half = 28 * 14 * 8 * 8;  // 28×14 pixels drawn 8×8 each
  EXPECT_GE(count_colour(input, {0, 0, 0}), half);
  EXPECT_GE(count_colour(input, {255, 255, 255}), half);
  EXPECT_EQ(count_colour(input, show::diverging(1.0)), 0);
  const cv::Mat sheet = cv::imread(files[0]);
  ASSERT_FALSE(sheet.empty());
  // A row per layer and the input's, each at least a label and a strip of units tall.
  EXPECT_GT(sheet.rows, int(net.size() + 1) * 40);
  EXPECT_GE(count_colour(sheet, {0, 0, 0}), 28 * 14 * 2 * 2);  // the input, in grey, two pixels a value
}

TEST(ShowCurves, ReadsCsvAndJsonLinesAlike) {
  TempDir t;
  {
    std::ofstream(t / "m.csv") << "epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second\n"
                                  "1,0.9,0.8,0.7,1.5,2000\n2,0.5,0.6,0.8,1.4,2100\n";
    std::ofstream(t / "m.jsonl") << "{\"epoch\":1,\"train_loss\":0.9,\"test_loss\":0.8,\"test_accuracy\":0.7,"
                                    "\"seconds\":1.5,\"images_per_second\":2000}\n"
                                    "{\"epoch\":2,\"train_loss\":0.5,\"test_loss\":0.6,\"test_accuracy\":0.8,"
                                    "\"seconds\":1.4,\"images_per_second\":2100}\n";
  }
  for (const char* name : {"m.csv", "m.jsonl"}) {
    const auto m = show::read_metrics(t / name);
    ASSERT_EQ(m.size(), 2u) << name;
    EXPECT_EQ(m[1].epoch, 2);
    EXPECT_DOUBLE_EQ(m[1].train_loss, 0.5);
    EXPECT_DOUBLE_EQ(m[1].test_loss, 0.6);
    EXPECT_DOUBLE_EQ(m[1].test_accuracy, 0.8);
  }
  const std::string svg = show::curves_svg(show::read_metrics(t / "m.csv"), "run");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("train loss"), std::string::npos);
  EXPECT_NE(svg.find("test loss"), std::string::npos);
  EXPECT_NE(svg.find("test accuracy"), std::string::npos);
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = svg.find("<polyline", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 3u);
}

TEST(ShowCurves, BadMetricsFilesNameTheFileAndLine) {
  TempDir t;
  std::ofstream(t / "bad.csv") << "epoch,loss\n1,2\n";
  std::ofstream(t / "bad2.csv") << "epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second\n1,x,0,0,0,0\n";
  std::ofstream(t / "empty.csv") << "";
  for (const char* name : {"bad.csv", "bad2.csv", "empty.csv", "missing.csv"}) {
    try {
      show::read_metrics(t / name);
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(ShowConfusion, WritesAPicture) {
  TempDir t;
  show::write_confusion({{5, 1, 0}, {2, 7, 1}, {0, 0, 9}}, {"a", "b", "c"}, t / "c.png");
  EXPECT_FALSE(cv::imread(t / "c.png").empty());
  EXPECT_THROW(show::write_confusion({{1, 2}}, {}, t / "d.png"), Error);
}

TEST(ShowCommand, WritesWhereItSaysForAModelFile) {
  TempDir t;
  const Network net = seed5();
  save_model(t / "m.cnn", net, "seed5", {}, nullptr);
  save_grey_png(t / "img.png", random_tensor({1, 1, 28, 28}, 9, 0.0f, 1.0f).data(), 28, 28);
  std::ofstream(t / "m.csv")
      << "epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second\n1,0.9,0.8,0.7,1.5,2000\n";
  int code = 0;
  std::string out = run_cnn("show kernels --model " + t / "m.cnn" + " --out " + t / "pics", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("wrote " + t / "pics/kernels-layer0.png"), std::string::npos) << out;
  out = run_cnn("show maps --model " + t / "m.cnn" + " " + t / "img.png" + " --label 2 --out " + t / "maps", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("wrote " + t / "maps/grad-layer3-conv2d.png"), std::string::npos) << out;
  EXPECT_NE(out.find("wrote " + t / "maps/overview.png"), std::string::npos) << out;
  const auto said = out.find("gradients for class 2");
  ASSERT_NE(said, std::string::npos) << out;
  EXPECT_EQ(out.find("gradients for class", said + 1), std::string::npos) << "said more than once:\n" << out;
  EXPECT_TRUE(fs::exists(t / "maps/input-gradient.png"));
  out = run_cnn("show curves " + t / "m.csv" + " --out " + t / "curves.svg", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("wrote " + t / "curves.svg"), std::string::npos) << out;
  out = run_cnn("show curves " + t / "m.csv" + " --out " + t / "no/such/folder/c.svg", &code);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("cnn: error:"), std::string::npos) << out;
  out = run_cnn("show maps --model " + t / "m.cnn" + " " + t / "img.png" + " --label 10 --out " + t / "maps", &code);
  EXPECT_EQ(code, 2) << out;
  out = run_cnn("kernels " + t / "img.png" + " --out " + t / "classic", &code);
  EXPECT_EQ(code, 0) << out;
  for (const auto& k : show::classic_kernels()) EXPECT_TRUE(fs::exists(t / ("classic/" + k.name + ".png"))) << k.name;
}

// `cnn kernels` on a small dark-on-light picture: inverted by predict's rule (and said so), drawn large enough to
// see, each picture with its title and its colour bar.
TEST(ShowCommand, ClassicKernelsInvertDarkOnLightAndDrawTitledLargePictures) {
  TempDir t;
  Tensor page({1, 1, 28, 28});
  page.fill(1.0f);
  for (int y = 6; y < 22; ++y) page.at(0, 0, y, 13) = page.at(0, 0, y, 14) = 0.0f;  // a dark stroke on white
  save_grey_png(t / "ink.png", page.data(), 28, 28);
  int code = 0;
  std::string out = run_cnn("kernels " + t / "ink.png" + " --out " + t / "k", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("(inverted: dark on light)"), std::string::npos) << out;
  const cv::Mat input = cv::imread(t / "k/input.png"), line = cv::imread(t / "k/line.png");
  ASSERT_FALSE(input.empty());
  ASSERT_FALSE(line.empty());
  EXPECT_GE(input.cols, 280) << "a 28x28 picture drawn at its own size is a speck";
  // Inverted: the paper is black and the stroke white, each value an 11×11 block or more.
  EXPECT_GE(count_colour(input, {0, 0, 0}), 28 * 20 * 11 * 11);
  EXPECT_GE(count_colour(input, {255, 255, 255}), 2 * 16 * 11 * 11);
  // The title: dark text on the white band above the map.
  int title_pixels = 0;
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < line.cols; ++x) title_pixels += line.at<cv::Vec3b>(y, x)[0] < 100;
  EXPECT_GT(title_pixels, 50);
  // The colour bar, right of the map: deep red at its top, deep blue at its bottom.
  int reds = 0, blues = 0;
  for (int y = 0; y < line.rows; ++y)
    for (int x = 10 + 28 * 11 + 2; x < line.cols; ++x) {
      const cv::Vec3b p = line.at<cv::Vec3b>(y, x);
      reds += p[2] > p[0] + 100;
      blues += p[0] > p[2] + 100;
    }
  EXPECT_GE(reds, 14 * 20);
  EXPECT_GE(blues, 14 * 20);
  out = run_cnn("kernels " + t / "ink.png" + " --invert no --out " + t / "raw", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(out.find("inverted"), std::string::npos) << out;
  EXPECT_GE(count_colour(cv::imread(t / "raw/input.png"), {255, 255, 255}), 28 * 20 * 11 * 11);
}

TEST(ShowCommand, AColourModelsPictureAndKernelsInColour) {
  TempDir t;
  Network net({1, 3, 16, 16});
  net.add<Conv2D>(4, 3).add<ReLU>().add<Flatten>().add<Dense>(3);
  net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  net.init(4);
  save_model(t / "m.cnn", net, "colour", {"sky", "sea", "sand"}, nullptr);
  cv::Mat photo(24, 24, CV_8UC3, cv::Scalar(0, 0, 255));  // BGR: all red, square, so any fit keeps it red
  ASSERT_TRUE(cv::imwrite(t / "red.png", photo));
  int code = 0;
  std::string out = run_cnn("show maps --model " + t / "m.cnn" + " " + t / "red.png" + " --out " + t / "maps", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("wrote " + t / "maps/input-gradient.png"), std::string::npos) << out;
  EXPECT_GE(count_colour(cv::imread(t / "maps/input.png"), {255, 0, 0}), 16 * 16 * 8 * 8);
  out = run_cnn("show kernels --model " + t / "m.cnn" + " --out " + t / "k", &code);
  ASSERT_EQ(code, 0) << out;
  const cv::Mat k = cv::imread(t / "k/kernels-layer0.png");
  ASSERT_FALSE(k.empty());
  // Each weight position of each kernel, its three slices as one colour on the kernel's own scale.
  const Tensor w = dynamic_cast<const Conv2D&>(net.layer(0)).weight();
  for (int o = 0; o < 4; ++o) {
    double scale = 0;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x) scale = std::max(scale, double(std::fabs(w.at(o, c, y, x))));
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x)
        EXPECT_GE(count_colour(k, show::kernel_colour(w.at(o, 0, y, x), w.at(o, 1, y, x), w.at(o, 2, y, x), scale)),
                  16 * 16)
            << "kernel " << o << " (" << y << ", " << x << ")";
  }
}

}  // namespace
}  // namespace cnn
