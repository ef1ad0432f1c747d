// Models built in PyTorch and exported with torch.onnx.export (opset 13, dynamic batch, eval mode) import and give
// PyTorch's outputs: seed5, LeNet-5 with padding 2, a residual net with batch normalisation and global average
// pooling, a CIFAR ResNet-8 (stride 2 and 1x1 projections), the AlexNet pattern for CIFAR, pooling windows other than
// k×k (rectangular, dilated, a stride per axis) and a net of 1-D convolutions and poolings, and the ResNet-8 exported
// in training mode (run as ONNX runs it: each batch's statistics) (tests/onnx/torch_export.py, run with Debian's
// /usr/bin/python3 and python3-torch); each, imported, exported and imported again, is the same model file, and trains
// on.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "cli_helpers.h"
#include "cnn/cnn.h"
#include "gtest/gtest.h"
#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

TEST(OnnxTorch, PyTorchExportsImportAndAgreeWithPyTorch) {
  const fs::path dir = fs::temp_directory_path() / ("cnn_onnx_torch_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cmd = "/usr/bin/python3 " + std::string(CNN_SOURCE_DIR) + "/tests/onnx/torch_export.py " +
                          dir.string() + " > " + (dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "torch_export.py failed (python3-torch, python3-onnx): see " << dir;
  for (const std::string name :
       {"seed5", "lenet", "res", "resnet8", "alexcifar", "resnet8_train", "windows", "conv1d"}) {
    SCOPED_TRACE(name);
    OnnxImport r = import_onnx((dir / (name + ".onnx")).string());
    EXPECT_EQ(r.training_mode, name.ends_with("_train"));
    const OnnxTensor x = read_onnx_tensor((dir / (name + "_x.pb")).string());
    const OnnxTensor want = read_onnx_tensor((dir / (name + "_y.pb")).string());
    const std::vector<OnnxTensor> got = run_onnx(r, x, name);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].dims, want.dims);
    ASSERT_EQ(got[0].values.size(), want.values.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < want.values.size(); ++i)
      worst = std::max(worst, std::fabs(double(got[0].values[i]) - want.values[i]) /
                                  std::max(1.0, std::fabs(double(want.values[i]))));
    EXPECT_LE(worst, 1e-5);
    std::cout << "[ onnx ] " << name << " from PyTorch: largest difference " << worst << "\n";

    // import → save → export → import → save: the same model file, byte for byte (an inference graph: export writes
    // one, folding each batch normalisation into its convolution, so a training graph comes back as its inference form)
    const auto model_bytes = [&](const OnnxImport& m, const std::string& file) {
      save_model((dir / file).string(), m.net, m.name, m.class_names, nullptr);
      return test::read_all((dir / file).string());
    };
    if (!r.training_mode) {
      const std::string first = model_bytes(r, name + "_1.cnn");
      OnnxImport again = import_onnx_bytes(export_onnx_bytes(r.net, {.name = r.name, .class_names = r.class_names}),
                                           name + "_again.onnx");
      EXPECT_TRUE(first == model_bytes(again, name + "_2.cnn")) << "the model after a second import differs";
    }

    // and it trains on: SGD steps on one batch lower its loss
    if (r.net.output_shape().sample_size() > 1) {
      Network& net = r.net;
      const int n = 8, classes = int(net.output_shape().sample_size());
      const Tensor xs = test::random_tensor(net.input_shape().with_batch(n), 3, 0.0f, 1.0f);
      std::vector<int> labels(n);
      for (int k = 0; k < n; ++k) labels[std::size_t(k)] = k % classes;
      Optimizer opt({.kind = "sgd", .lr = 0.01});
      const double before = net.forward_backward(xs, labels.data(), 0);
      double after = before;
      for (int step = 0; step < 5; ++step) {
        opt.step(net);
        after = net.forward_backward(xs, labels.data(), std::uint64_t(step) + 1);
      }
      EXPECT_LT(after, before) << "five SGD steps on one batch did not lower the loss";
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cnn
