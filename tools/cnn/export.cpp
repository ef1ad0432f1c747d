// cnn export: a model file as an ONNX graph (conventions in include/cnn/onnx.h), checked by onnx::checker.
#include <iostream>

#include "cnn/onnx.h"
#include "common.h"

namespace cnn::tool {
namespace {

struct ExportArgs {
  std::string model, onnx;
  bool softmax = false;
};

void run(const ExportArgs& a) {
  const Model m = load_model(a.model);
  OnnxExportOptions o;
  o.name = m.name;
  o.class_names = m.class_names;
  o.softmax_output = a.softmax;
  export_onnx(a.onnx, m.net, o);
  const bool ce = m.net.loss().kind() == "softmax_cross_entropy";
  std::cout << "wrote " << a.onnx << " (ONNX opset 13, input \"input\" [N, " << m.net.input_shape().c << ", "
            << m.net.input_shape().h << ", " << m.net.input_shape().w << "], output \""
            << (ce ? (a.softmax ? "probabilities" : "logits") : "output") << "\")\n";
}

void add(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* c = app.add_subcommand("export",
                               "Write a model as an ONNX file (its output: logits, or probabilities with --softmax)");
  c->add_option("--model", a->model, "Model file")->required()->check(CLI::ExistingFile);
  c->add_option("--onnx", a->onnx, "The ONNX file to write")->required();
  c->add_flag("--softmax", a->softmax, "End a softmax_cross_entropy net in a Softmax node (probabilities, not logits)");
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("export", add);

}  // namespace
}  // namespace cnn::tool
