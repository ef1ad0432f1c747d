// cnn import: an ONNX graph (a chain of Conv, pools, Gemm/MatMul, activations, Softmax, Flatten, Dropout) as a
// model file; anything else is refused with the node and operator named.
#include <iostream>

#include "cnn/onnx.h"
#include "common.h"

namespace cnn::tool {
namespace {

struct ImportArgs {
  std::string onnx, out, name;
};

void run(const ImportArgs& a) {
  OnnxImport r = import_onnx(a.onnx);
  const std::string name = a.name.empty() ? r.name : a.name;
  save_model(a.out, r.net, name, r.class_names, nullptr);
  std::cout << "wrote " << a.out << ": " << r.net.size() << " layers, " << r.net.params().size()
            << " parameters, input " << r.net.input_shape().sample_str() << ", loss " << r.net.loss().kind()
            << (r.probabilities_removed ? " (the final Softmax became the loss's softmax)" : "") << "\n";
}

void add(CLI::App& app) {
  auto a = std::make_shared<ImportArgs>();
  auto* c = app.add_subcommand("import", "Read an ONNX file and save it as a model file");
  c->add_option("onnx", a->onnx, "ONNX file")->required()->check(CLI::ExistingFile);
  c->add_option("--out", a->out, "Model file to write")->required();
  c->add_option("--name", a->name, "Model name (default: the graph's)");
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("import", add);

}  // namespace
}  // namespace cnn::tool
