// Export a model to ONNX (opset 13, input "input" [N, C, H, W], output the logits, or probabilities with
// softmax_output), for ONNX Runtime, OpenCV's dnn module or any other ONNX reader (export_onnx [MODEL.cnn] [OUT]).
#include <cstdio>
#include <string>

#include "cnn/api.h"

int main(int argc, char** argv) try {
  const std::string model = argc > 1 ? argv[1] : "bars.cnn", out = argc > 2 ? argv[2] : "bars.onnx";
  const cnn::Net net = cnn::Net::load(model);
  cnn::OnnxExportOptions options;
  options.softmax_output = true;  // the graph ends in a Softmax: it gives what predict gives
  net.export_onnx(out, options);
  std::printf("wrote %s\n", out.c_str());
  return 0;
} catch (const cnn::Error& e) {
  std::fprintf(stderr, "export_onnx: error: %s\n", e.what());
  return 1;
}
