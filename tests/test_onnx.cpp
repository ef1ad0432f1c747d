// ONNX export and import, checked against a reader nobody here wrote: OpenCV's dnn module loads every exported
// preset and must give this project's outputs on real Fashion-MNIST test images within 1e-5; export → import →
// export gives the same bytes; `cnn run` reads and writes TensorProto files; unsupported layers and operators are
// refused by name.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/dnn.hpp>
#include <sstream>

#include "cnn/cnn.h"
#include "cnn/onnx.h"
#include "onnx_helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;
using test::run_opencv;

const Dataset& fashion_test() {
  static const Dataset d = [] {
    const DataSplit s = load_mnist_folder(default_data_dir());
    return s.test.slice(0, 64);
  }();
  return d;
}

// A batch of real images fitted to the network's input: the Fashion-MNIST test images for 1×28×28 nets, their
// centre crops for smaller inputs (book6x6's 6×6), repeated over the channels.
Tensor real_batch(const Network& net, int n) {
  const Dataset& d = fashion_test();
  Tensor full;
  std::vector<std::uint32_t> idx(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) idx[std::size_t(i)] = std::uint32_t(i);
  std::vector<int> labels(static_cast<std::size_t>(n));
  d.batch(idx.data(), n, full, labels.data());
  const Shape in = net.input_shape();
  Tensor x(in.with_batch(n));
  const int oy = std::max(0, (28 - in.h) / 2), ox = std::max(0, (28 - in.w) / 2);
  for (int b = 0; b < n; ++b)
    for (int c = 0; c < in.c; ++c)
      for (int y = 0; y < in.h; ++y)
        for (int xx = 0; xx < in.w; ++xx) x.at(b, c, y, xx) = full.at(b, 0, (oy + y) % 28, (ox + xx) % 28);
  return x;
}

// A preset with its initial weights moved by a few SGD steps on real images (so the weights are not the
// initialisation's symmetric draws) when it takes 28×28 images.
Network trained_preset(const std::string& name) {
  Network net = load_network(name);
  net.init(7);
  if (net.input_shape().same_sample(Shape{1, 1, 28, 28}) && net.loss().kind() == "softmax_cross_entropy") {
    const DataSplit s = load_mnist_folder(default_data_dir());
    Optimizer sgd({.lr = 0.05});
    Tensor x;
    std::vector<int> y(32);
    std::vector<std::uint32_t> idx(32);
    for (int step = 0; step < 3; ++step) {
      for (int i = 0; i < 32; ++i) idx[std::size_t(i)] = std::uint32_t(step * 32 + i);
      s.train.batch(idx.data(), 32, x, y.data());
      net.forward_backward(x, y.data(), std::uint64_t(step));
      sgd.step(net);
    }
  }
  return net;
}

Tensor random_input(const Network& net, int n, std::uint64_t seed = 5) {
  Tensor x(net.input_shape().with_batch(n));
  Rng rng(seed);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(0.0f, 1.0f);
  return x;
}

double max_diff(const float* a, const float* b, std::size_t n) {
  double m = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    m = std::max(m, std::fabs(double(a[i]) - double(b[i])) / std::max(1.0, std::fabs(double(b[i]))));
  return m;
}

std::vector<std::string> exportable_presets() {
  std::vector<std::string> names;
  for (const char* n : {"seed5", "book6x6", "lenet5", "lenet5-classic", "alexnet-small"}) {
    const auto all = preset_names();
    if (std::find(all.begin(), all.end(), n) != all.end()) names.push_back(n);
  }
  return names;
}

TEST(Onnx, OpenCvDnnReadsEveryExportedPresetAndAgreesOnRealImages) {
  ASSERT_TRUE(fs::exists(default_data_dir())) << "Fashion-MNIST is not installed: run scripts/setup.sh";
  const auto names = exportable_presets();
  ASSERT_GE(names.size(), 2u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    Network net = trained_preset(name);
    const Tensor x = real_batch(net, 16);
    const Tensor ours = net.forward(x);
    for (bool softmax : {false, true}) {
      const std::string bytes = export_onnx_bytes(net, {.name = name, .class_names = {}, .softmax_output = softmax});
      cv::Mat theirs;
      ASSERT_NO_THROW(theirs = run_opencv(bytes, x));
      ASSERT_EQ(theirs.total(), ours.size()) << "OpenCV's output has another size";
      Tensor want = ours;
      if (softmax) net.loss().probabilities(ours, want);
      const double d = max_diff(theirs.ptr<float>(), want.data(), want.size());
      std::printf("[ onnx ] %-15s %-13s OpenCV dnn vs cnn: largest difference %.3g\n", name.c_str(),
                  softmax ? "probabilities" : "outputs", d);
      EXPECT_LE(d, 1e-5);
    }
  }
}

// The same exported file in three engines: every preset (the colour ones with their batch normalisation, residual
// adds and global pooling) runs in OpenCV's dnn and in ONNX Runtime (npm onnxruntime-node, which scripts/test.sh
// installs) to our outputs within 1e-5. The 224×224 AlexNet is left out: its 62M parameters take the same code paths
// as alexnet-small and alexnet-cifar, at a minute of the suite's time.
TEST(Onnx, EveryPresetGivesOurOutputsInOpenCvAndInOnnxRuntime) {
  const fs::path ort = fs::path(CNN_BINARY_DIR) / "npm" / "node_modules";
  ASSERT_TRUE(fs::exists(ort / "onnxruntime-node"))
      << "onnxruntime-node is not installed in " << ort << ": scripts/test.sh installs it";
  const fs::path dir = fs::temp_directory_path() / ("cnn_ort_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  int checked = 0;
  for (const std::string& name : preset_names()) {
    if (name == "alexnet") continue;
    SCOPED_TRACE(name);
    Network net = load_network(name);
    net.init(3);
    // running statistics other than 0 and 1, from a few batches in training mode
    for (int step = 0; step < 3; ++step) net.forward(random_input(net, 4, 40 + std::uint64_t(step)), {Mode::train, 0});
    const Tensor x = random_input(net, 3, 9);
    const Tensor ours = net.forward(x);
    std::string bytes;
    try {
      bytes = export_onnx_bytes(net, {.name = name});
    } catch (const Error& e) {  // subsampling (seed 002's trainable pooling) has no ONNX operator
      EXPECT_NE(std::string(e.what()).find("subsampling"), std::string::npos) << e.what();
      continue;
    }
    const cv::Mat cv_out = run_opencv(bytes, x);
    ASSERT_EQ(cv_out.total(), ours.size());
    const double d_cv = max_diff(cv_out.ptr<float>(), ours.data(), ours.size());

    const std::string model = (dir / (name + ".onnx")).string(), in = (dir / "x.f32").string(),
                      out = (dir / "y.f32").string();
    std::ofstream(model, std::ios::binary) << bytes;
    std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(x.data()), std::streamsize(4 * x.size()));
    const Shape s = x.shape();
    const std::string cmd = "ORT_MODULES=" + ort.string() + " node " + std::string(CNN_SOURCE_DIR) +
                            "/tests/onnx/ort_run.js " + model + " " + in + " " + std::to_string(s.n) + "," +
                            std::to_string(s.c) + "," + std::to_string(s.h) + "," + std::to_string(s.w) + " " + out;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(out, std::ios::binary);
    std::vector<float> ort_out(ours.size() + 1);
    f.read(reinterpret_cast<char*>(ort_out.data()), std::streamsize(4 * ort_out.size()));
    ASSERT_EQ(std::size_t(f.gcount()), 4 * ours.size()) << "ONNX Runtime's output has another size";
    const double d_ort = max_diff(ort_out.data(), ours.data(), ours.size());
    std::printf("[ onnx ] %-15s largest difference from cnn: OpenCV dnn %.3g, ONNX Runtime %.3g\n", name.c_str(), d_cv,
                d_ort);
    EXPECT_LE(d_cv, 1e-5);
    EXPECT_LE(d_ort, 1e-5);
    ++checked;
  }
  EXPECT_GE(checked, 8);
  fs::remove_all(dir);
}

TEST(Onnx, ExportedGraphFollowsTheConventions) {
  Network net = trained_preset("seed5");
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(export_onnx_bytes(net, {.name = "seed5"})));
  const auto& g = m.graph();
  std::vector<std::string> ops;
  for (const auto& n : g.node()) ops.push_back(n.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm"}));
  EXPECT_EQ(g.input(0).name(), "input");
  EXPECT_EQ(g.output(0).name(), "logits");
  ASSERT_EQ(g.output(0).type().tensor_type().shape().dim_size(), 2);
  EXPECT_EQ(g.output(0).type().tensor_type().shape().dim(1).dim_value(), 10);
  // Gemm's B is our W [inputs, outputs] transposed (PyTorch's [out, in]), with transB = 1.
  int found = 0;
  for (const auto& t : g.initializer()) {
    if (t.name() != "gemm_7.weight") continue;
    ++found;
    ASSERT_EQ(t.dims_size(), 2);
    EXPECT_EQ(t.dims(0), 10);
    EXPECT_EQ(t.dims(1), 192);
  }
  EXPECT_EQ(found, 1);
  for (const auto& a : g.node(7).attribute()) {
    if (a.name() == "transB") {
      EXPECT_EQ(a.i(), 1);
    }
  }
}

TEST(Onnx, SamePaddingIsExportedAsExplicitUpperPads) {
  Network net({1, 1, 7, 8});
  net.add<Conv2D>(2, KernelSize{4, 3}, 2, Padding::same).add<Dense>(3);
  net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  net.init(3);
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(export_onnx_bytes(net)));
  std::vector<std::int64_t> pads;
  for (const auto& a : m.graph().node(0).attribute()) {
    if (a.name() == "pads") pads.assign(a.ints().begin(), a.ints().end());
  }
  // H 7, k 4, s 2: out 4, total 3 → top 1, bottom 2;  W 8, k 3, s 2: out 4, total 1 → left 0, right 1.
  EXPECT_EQ(pads, (std::vector<std::int64_t>{1, 0, 2, 1}));
  const Tensor x = random_input(net, 4);
  const Tensor ours = net.forward(x);
  const cv::Mat theirs = run_opencv(export_onnx_bytes(net), x);
  EXPECT_LE(max_diff(theirs.ptr<float>(), ours.data(), ours.size()), 1e-5);
}

// A net ending in log_softmax (PyTorch's classifiers trained with NLL loss end so) exports as LogSoftmax, which
// OpenCV's dnn runs to our outputs, and imports back as the same layer with the same outputs.
TEST(Onnx, LogSoftmaxGoesOutAndComesBack) {
  Network net({1, 1, 8, 8});
  net.add<Conv2D>(3, KernelSize{3, 3}).add<ReLU>().add<Dense>(5).add<LogSoftmax>();
  net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  net.init(4);
  const Tensor x = random_input(net, 4);
  const Tensor ours = net.forward(x);
  const std::string bytes = export_onnx_bytes(net);
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(bytes));
  EXPECT_EQ(m.graph().node(m.graph().node_size() - 1).op_type(), "LogSoftmax");
  const cv::Mat theirs = run_opencv(bytes, x);
  EXPECT_LE(max_diff(theirs.ptr<float>(), ours.data(), ours.size()), 1e-5);
  OnnxImport back = import_onnx_bytes(bytes, "m.onnx");
  ASSERT_EQ(back.net.layer(back.net.size() - 1).kind(), "log_softmax");
  const Tensor again = back.net.forward(x);
  EXPECT_LE(max_diff(again.data(), ours.data(), ours.size()), 1e-6);
}

// Padded pooling from a net file: max pooling (torchvision's ResNet stem, 3×3 stride 2 padding 1) and average pooling
// whose padding is not counted (PyTorch's count_include_pad=False, ONNX's default), exported with their pads, run by
// OpenCV's dnn to our outputs, and imported back as the same layers.
TEST(Onnx, PaddedPoolingGoesOutAndComesBack) {
  for (const auto& [pool, padding] : {std::pair{"maxpool2d", "1"}, std::pair{"avgpool2d", "[1, 1, 1, 0]"}}) {
    SCOPED_TRACE(pool);
    Network net = network_from_text(std::string(R"({"input": [2, 9, 8], "loss": "softmax_cross_entropy", "layers": [
        {"type": "conv2d", "filters": 3, "kernel": 3}, {"type": "relu"}, {"type": ")") +
                                        pool + R"(", "kernel": 3, "stride": 2, "padding": )" + padding +
                                        R"(}, {"type": "dense", "units": 4}]})",
                                    "padded.json");
    net.init(6);
    ASSERT_TRUE(net.layer(2).spec().contains("padding"));
    const Tensor x = random_input(net, 3);
    const Tensor ours = net.forward(x);
    const std::string bytes = export_onnx_bytes(net);
    const cv::Mat theirs = run_opencv(bytes, x);
    EXPECT_LE(max_diff(theirs.ptr<float>(), ours.data(), ours.size()), 1e-5);
    OnnxImport back = import_onnx_bytes(bytes, "m.onnx");
    EXPECT_EQ(back.net.layer(2).summary(), net.layer(2).summary());
    const Tensor again = back.net.forward(x);
    EXPECT_LE(max_diff(again.data(), ours.data(), ours.size()), 1e-6);
  }
}

TEST(Onnx, SubsamplingHasNoOnnxFormAndIsNamed) {
  Network net({1, 1, 8, 8});
  net.add<Conv2D>(2, 3).add<Subsampling>(2).add<Dense>(3);
  net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  net.init(1);
  try {
    export_onnx_bytes(net);
    FAIL() << "exported a subsampling layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1 (subsampling)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cnn
