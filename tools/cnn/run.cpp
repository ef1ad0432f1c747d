// cnn run: a model (ONNX file or model file) on ONNX TensorProto inputs, writing the output as a TensorProto, so
// the test cases of ONNX's format (test_data_set_*/input_0.pb, output_0.pb) run here; --expect compares.
#include <cmath>
#include <fstream>
#include <iostream>

#include "cnn/onnx.h"
#include "common.h"

namespace cnn::tool {
namespace {

struct RunArgs {
  std::string model, output, expect;
  std::vector<std::string> inputs;
  double tolerance = 1e-5;
};

bool is_model_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[8] = {};
  f.read(magic, 8);
  return f.gcount() == 8 && std::string(magic, 8) == "CNNMODEL";
}

void run(const RunArgs& a) {
  if (a.inputs.size() != 1)
    throw UsageError("cnn run: these networks have one input, got " + std::to_string(a.inputs.size()) +
                     " --input files");
  std::optional<Network> net;
  bool softmax = false;
  if (is_model_file(a.model)) {
    net.emplace(std::move(load_model(a.model).net));
  } else {
    OnnxImport r = import_onnx(a.model);
    softmax = r.probabilities_removed;
    net.emplace(std::move(r.net));
  }
  const OnnxTensor in = read_onnx_tensor(a.inputs[0]);
  const Tensor x = onnx_tensor_to_input(*net, in, a.inputs[0]);
  const Tensor& y = net->forward(x);
  OnnxTensor out;
  out.name = softmax ? "probabilities" : net->loss().kind() == "softmax_cross_entropy" ? "logits" : "output";
  out.dims = onnx_output_dims(*net, x.shape().n);
  out.values.assign(y.data(), y.data() + y.size());
  if (softmax) {
    const int F = int(y.shape().sample_size());
    for (int n = 0; n < y.shape().n; ++n) cnn::softmax(y.sample(n), out.values.data() + std::size_t(n) * F, F);
  }
  if (!a.output.empty()) write_onnx_tensor(a.output, out);
  if (!a.expect.empty()) {
    const OnnxTensor want = read_onnx_tensor(a.expect);
    if (want.values.size() != out.values.size())
      throw Error(a.expect + ": " + std::to_string(want.values.size()) + " values, the model gives " +
                  std::to_string(out.values.size()));
    double worst = 0.0;
    for (std::size_t i = 0; i < out.values.size(); ++i)
      worst = std::max(
          worst, std::fabs(double(out.values[i]) - want.values[i]) / std::max(1.0, std::fabs(double(want.values[i]))));
    std::cout << "largest difference from " << a.expect << ": " << worst << "\n";
    if (!(worst <= a.tolerance))
      throw Error(a.expect + ": the output differs by " + std::to_string(worst) + " (tolerance " +
                  std::to_string(a.tolerance) + ")");
  }
  if (a.output.empty() && a.expect.empty()) {
    for (std::size_t i = 0; i < out.values.size(); ++i) std::cout << (i ? " " : "") << out.values[i];
    std::cout << "\n";
  }
}

void add(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* c = app.add_subcommand("run", "Run a model (.onnx or model file) on ONNX TensorProto (.pb) inputs");
  c->add_option("model", a->model, "ONNX file or model file")->required()->check(CLI::ExistingFile);
  c->add_option("--input", a->inputs, "Input tensor (.pb TensorProto), [N, C, H, W]")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("--output", a->output, "Output tensor file to write (.pb TensorProto)");
  c->add_option("--expect", a->expect, "Expected output (.pb): fail unless the output matches")
      ->check(CLI::ExistingFile);
  c->add_option("--tolerance", a->tolerance, "Largest |difference| / max(1, |expected|) allowed by --expect (1e-5)");
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("run", add);

}  // namespace
}  // namespace cnn::tool
