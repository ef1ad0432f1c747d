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
  EXPECT_EQ(files.size(), 2 + 2 * net.size());
  for (const auto& f : files) EXPECT_FALSE(cv::imread(f).empty()) << f;
  EXPECT_TRUE(fs::exists(t / "maps/maps-layer0-conv2d.png"));
  EXPECT_TRUE(fs::exists(t / "maps/grad-layer6-dense.png"));
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

}  // namespace
}  // namespace cnn
