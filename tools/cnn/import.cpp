// cnn import: an ONNX graph (the operators of cnn/onnx.h) as a model file; anything else is refused with the node,
// the operator and the attribute named.
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
  // A model file holds one network whose output is its last layer.
  if (r.outputs.size() != 1)
    throw Error(a.onnx + ": the graph has " + std::to_string(r.outputs.size()) +
                " outputs; a model file keeps one (cnn run reads such graphs)");
  if (r.net.size() == 0 || r.outputs[0].value != int(r.net.size()) - 1)
    throw Error(a.onnx + ": the graph's output \"" + r.outputs[0].name +
                "\" is not computed by its last layer; a model file's output is its last layer");
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
