// Models built in PyTorch and exported with torch.onnx.export (opset 13, dynamic batch, eval mode) import and give
// PyTorch's outputs: seed5, LeNet-5 with padding 2, and a residual net with batch normalisation and global average
// pooling (tests/onnx/torch_export.py, run with Debian's /usr/bin/python3 and python3-torch).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "cnn/onnx.h"
#include "gtest/gtest.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

TEST(OnnxTorch, PyTorchExportsImportAndAgreeWithPyTorch) {
  const fs::path dir = fs::temp_directory_path() / ("cnn_onnx_torch_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cmd = "/usr/bin/python3 " + std::string(CNN_SOURCE_DIR) + "/tests/onnx/torch_export.py " +
                          dir.string() + " > " + (dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "torch_export.py failed (python3-torch, python3-onnx): see " << dir;
  for (const std::string name : {"seed5", "lenet", "res"}) {
    SCOPED_TRACE(name);
    OnnxImport r = import_onnx((dir / (name + ".onnx")).string());
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
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cnn
