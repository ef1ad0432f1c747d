// The input's per-channel standardisation: the layer's formula, the training set's statistics, the model file, the
// tool (cnn train sets them, cnn eval uses them) and the ONNX export read by OpenCV.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "helpers.h"
#include "onnx_helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

const char* const kNet = R"({"input": [3, 6, 6], "layers": [
    {"type": "normalize", "mean": [0.5, 0.25, -1], "std": [2, 0.5, 4]},
    {"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1}, {"type": "tanh"}, {"type": "dense", "units": 3}]})";

TEST(Normalize, SubtractsTheMeanAndDividesByTheDeviationPerChannel) {
  Network net = network_from_text(kNet, "n.json");
  net.init(1);
  const Tensor x = test::random_tensor({2, 3, 6, 6}, 4);
  net.forward(x);
  const Tensor& y = net.activation(0);
  const float mean[3] = {0.5f, 0.25f, -1.0f}, dev[3] = {2.0f, 0.5f, 4.0f};
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 36; ++i) ASSERT_EQ(y.at(n, c, i / 6, i % 6), (x.at(n, c, i / 6, i % 6) - mean[c]) / dev[c]);
  const test::GradCheck g = test::check_gradients(net, x, 3);
  std::printf("[gradcheck] normalize + conv + tanh + dense: max relative error %.3g over %zu coordinates\n",
              g.max_rel_error, g.checked);
  EXPECT_LE(g.max_rel_error, 2e-2);
  EXPECT_GT(g.max_abs_analytic, 0.0);
  // the statistics are part of the description, so they round-trip
  Network back = network_from_text(network_to_text(net), "again");
  back.init(2);
  EXPECT_EQ(back.buffers(), net.buffers());
}

TEST(Normalize, BadStatisticsAreOneLine) {
  auto error_of = [](const std::string& layer) {
    try {
      network_from_text(R"({"input": [2, 4, 4], "layers": [)" + layer + R"(, {"type": "dense", "units": 2}]})",
                        "b.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error_of(R"({"type": "normalize", "mean": [0, 0]})").find("field \"std\" must be an array of numbers"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "normalize", "mean": [0, 0], "std": [1, 0]})").find("must be positive"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "normalize", "mean": [0], "std": [1]})").find("for an input of 2 channels"),
            std::string::npos);
}

TEST(Normalize, TrainingSetStatisticsAreExactPerChannel) {
  Dataset d;
  d.sample = {1, 2, 1, 2};
  d.images = {0, 255, 10, 10, 255, 255, 20, 30};  // two images: channel 0 {0, 255, 255, 255}, 1 {10, 10, 20, 30}
  d.labels = {0, 1};
  const ChannelStatistics st = channel_statistics(d);
  EXPECT_FLOAT_EQ(st.mean[0], 0.75f);
  EXPECT_NEAR(st.std[0], std::sqrt(0.1875), 1e-7);
  EXPECT_FLOAT_EQ(st.mean[1], 17.5f / 255.0f);
  EXPECT_NEAR(st.std[1], std::sqrt(68.75) / 255.0, 1e-7);
}

TEST(Normalize, OpenCvRunsTheExportedNormalisation) {
  Network net = network_from_text(kNet, "n.json");
  net.init(5);
  const Tensor x = test::random_tensor({4, 3, 6, 6}, 6, 0.0f, 1.0f);
  const Tensor ours = net.forward(x);
  const cv::Mat theirs = test::run_opencv(export_onnx_bytes(net), x);
  ASSERT_EQ(theirs.total(), ours.size());
  EXPECT_LE(test::max_rel_diff(theirs.ptr<float>(), ours.data(), ours.size(), 1.0), 1e-5);
}

// cnn train fills an unfixed normalize from the training images; the model file keeps it; cnn eval applies it.
TEST(Normalize, TrainSetsTheTrainingSetsStatisticsAndTheModelKeepsThem) {
  ASSERT_TRUE(fs::exists(default_data_dir())) << "Fashion-MNIST is not installed: run scripts/setup.sh";
  const fs::path dir = fs::temp_directory_path() / ("cnn_normalize_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string desc = (dir / "n.json").string(), model = (dir / "n.cnn").string();
  std::ofstream(desc) << R"({"input": [1, 28, 28], "layers": [{"type": "normalize"},
      {"type": "conv2d", "filters": 4, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
      {"type": "dense", "units": 10}]})";
  const std::string cmd = std::string(CNN_BINARY_DIR) + "/cnn train --net " + desc + " --out " + model +
                          " --epochs 1 --train-limit 2000 --test-limit 500 --threads 1 --quiet 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  const Model m = load_model(model);
  const auto& norm = dynamic_cast<const Normalize&>(m.net.layer(0));
  const ChannelStatistics st = channel_statistics(load_mnist_folder(default_data_dir()).train.slice(0, 2000));
  EXPECT_EQ(norm.mean(0), st.mean[0]);
  EXPECT_EQ(norm.std_dev(0), st.std[0]);
  EXPECT_NEAR(norm.mean(0), 0.286, 0.01);  // Fashion-MNIST's, as commonly quoted (0.2860, 0.3530)
  EXPECT_NEAR(norm.std_dev(0), 0.353, 0.01);
  fs::remove_all(dir);
}

// A layer without fixed statistics takes the ones set_statistics gives it (what training sets from the data).
TEST(Normalize, SetStatisticsIsWhatForwardUses) {
  Network net =
      network_from_text(R"({"input": [2, 3, 3], "layers": [{"type": "normalize"}, {"type": "flatten"}]})", "s.json");
  net.init(1);
  auto& norm = dynamic_cast<Normalize&>(net.layer(0));
  norm.set_statistics({0.5f, -2.0f}, {4.0f, 0.25f});
  const Tensor x = test::random_tensor({2, 2, 3, 3}, 6);
  net.forward(x);
  const Tensor& y = net.activation(0);
  const float mean[2] = {0.5f, -2.0f}, dev[2] = {4.0f, 0.25f};
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 9; ++i) ASSERT_EQ(y.at(n, c, i / 3, i % 3), (x.at(n, c, i / 3, i % 3) - mean[c]) / dev[c]);
  EXPECT_THROW(norm.set_statistics({0.0f, 0.0f}, {1.0f, 0.0f}), Error);
  EXPECT_THROW(norm.set_statistics({0.0f}, {1.0f}), Error);
}

}  // namespace
}  // namespace cnn
