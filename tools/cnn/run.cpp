// cnn run: a model (ONNX file or model file) on ONNX TensorProto inputs, writing the outputs as TensorProtos, so
// the test cases of ONNX's format (test_data_set_*/input_*.pb, output_*.pb) run here; --expect compares.
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cnn/onnx.h"
#include "common.h"

namespace cnn::tool {
namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs, outputs, expects;
  double tolerance = 1e-5;
};

bool is_model_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[8] = {};
  f.read(magic, 8);
  return f.gcount() == 8 && std::string(magic, 8) == "CNNMODEL";
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void compare(const OnnxTensor& out, const std::string& expect, double tolerance) {
  const OnnxTensor want = read_onnx_tensor(expect);
  if (want.type != out.type)
    throw Error(expect + ": element type " + std::to_string(want.type) + ", the model gives " +
                std::to_string(out.type));
  if (!out.is_float()) {  // integers (indices, a mask): equal or not
    if (want.ints != out.ints) throw Error(expect + ": the output's integers differ");
    std::cout << "equal to " << expect << "\n";
    return;
  }
  if (want.values.size() != out.values.size())
    throw Error(expect + ": " + std::to_string(want.values.size()) + " values, the model gives " +
                std::to_string(out.values.size()));
  double worst = 0.0;
  for (std::size_t i = 0; i < out.values.size(); ++i)
    worst = std::max(
        worst, std::fabs(double(out.values[i]) - want.values[i]) / std::max(1.0, std::fabs(double(want.values[i]))));
  std::cout << "largest difference from " << expect << ": " << worst << "\n";
  if (!(worst <= tolerance))
    throw Error(expect + ": the output differs by " + std::to_string(worst) + " (tolerance " +
                std::to_string(tolerance) + ")");
}

void run(const RunArgs& a) {
  std::vector<OnnxTensor> outs;
  if (is_model_file(a.model)) {
    if (a.inputs.size() != 1)
      throw UsageError("cnn run: a model file has one input, got " + std::to_string(a.inputs.size()) +
                       " --input files");
    Network net = std::move(load_model(a.model).net);
    const Tensor x = onnx_tensor_to_input(net, read_onnx_tensor(a.inputs[0]), a.inputs[0]);
    const Tensor& y = net.forward(x);
    OnnxTensor out;
    out.name = net.loss().kind() == "softmax_cross_entropy" ? "logits" : "output";
    out.dims = onnx_output_dims(net, x.shape().n);
    out.values.assign(y.data(), y.data() + y.size());
    outs.push_back(std::move(out));
  } else {
    // The first --input is the network's; the others are the graph's further inputs, read as constants.
    std::vector<std::string> extra;
    for (std::size_t i = 1; i < a.inputs.size(); ++i) extra.push_back(read_bytes(a.inputs[i]));
    OnnxImport r = import_onnx(a.model, extra);
    outs = run_onnx(r, read_onnx_tensor(a.inputs[0]), a.inputs[0]);
  }
  for (const auto* list : {&a.outputs, &a.expects})
    if (!list->empty() && list->size() != outs.size())
      throw UsageError("cnn run: the graph has " + std::to_string(outs.size()) + " outputs, got " +
                       std::to_string(list->size()) + (list == &a.outputs ? " --output" : " --expect") + " files");
  for (std::size_t i = 0; i < a.outputs.size(); ++i) write_onnx_tensor(a.outputs[i], outs[i]);
  for (std::size_t i = 0; i < a.expects.size(); ++i) compare(outs[i], a.expects[i], a.tolerance);
  if (a.outputs.empty() && a.expects.empty()) {
    for (const OnnxTensor& out : outs) {
      if (outs.size() > 1) std::cout << out.name << ":";
      for (std::size_t i = 0; i < out.values.size(); ++i)
        std::cout << (i || outs.size() > 1 ? " " : "") << out.values[i];
      for (std::size_t i = 0; i < out.ints.size(); ++i) std::cout << (i || outs.size() > 1 ? " " : "") << out.ints[i];
      std::cout << "\n";
    }
  }
}

void add(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* c = app.add_subcommand("run", "Run a model (.onnx or model file) on ONNX TensorProto (.pb) inputs");
  c->add_option("model", a->model, "ONNX file or model file")->required()->check(CLI::ExistingFile);
  c->add_option("--input", a->inputs,
                "Input tensors (.pb TensorProto) in the graph's order: the network's, then any further graph inputs")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("--output", a->outputs, "Output tensor files to write (.pb TensorProto), one per graph output");
  c->add_option("--expect", a->expects, "Expected outputs (.pb), one per graph output: fail unless they match")
      ->check(CLI::ExistingFile);
  c->add_option("--tolerance", a->tolerance, "Largest |difference| / max(1, |expected|) allowed by --expect (1e-5)");
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("run", add);

}  // namespace
}  // namespace cnn::tool
