// ONNX export: one node per layer (plus a Flatten or Reshape where ONNX's ranks need one), weights as raw
// little-endian float32 initializers, checked by onnx::checker before it is written. Conventions: include/cnn/onnx.h.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "cnn/layers/activation.h"
#include "cnn/layers/conv2d.h"
#include "cnn/layers/dense.h"
#include "cnn/layers/dropout.h"
#include "cnn/layers/flatten.h"
#include "cnn/layers/pool.h"
#include "cnn/model.h"
#include "cnn/onnx.h"

namespace cnn {

namespace {

constexpr int kOpset = 13;
constexpr int kIrVersion = 8;

class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto& g) : g_(g) {}

  // Adds a node reading `current` and the given extra inputs; returns the node (its output is named by finish()).
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& extra_inputs = {}) {
    onnx::NodeProto* n = g_.add_node();
    const std::string name = lower(op) + "_" + std::to_string(g_.node_size() - 1);
    n->set_name(name);
    n->set_op_type(op);
    n->add_input(current_);
    for (const auto& in : extra_inputs) n->add_input(in);
    current_ = name;
    n->add_output(name);
    return *n;
  }
  // An initializer named after the node about to be added: "<op>_<k>.<what>".
  std::string initializer(const std::string& op, const std::string& what, const std::vector<std::int64_t>& dims,
                          const float* values) {
    onnx::TensorProto* t = g_.add_initializer();
    t->set_name(lower(op) + "_" + std::to_string(g_.node_size()) + "." + what);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::size_t n = 1;
    for (auto d : dims) {
      t->add_dims(d);
      n *= std::size_t(d);
    }
    std::string raw(n * 4, '\0');
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, values + i, 4);
      for (int b = 0; b < 4; ++b) raw[4 * i + std::size_t(b)] = char((bits >> (8 * b)) & 0xff);
    }
    t->set_raw_data(raw);
    return t->name();
  }
  std::string int64_initializer(const std::string& op, const std::string& what, const std::vector<std::int64_t>& v) {
    onnx::TensorProto* t = g_.add_initializer();
    t->set_name(lower(op) + "_" + std::to_string(g_.node_size()) + "." + what);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(std::int64_t(v.size()));
    for (auto x : v) t->add_int64_data(x);
    return t->name();
  }
  // Renames the last node's output (the graph's output gets a meaningful name).
  void rename_last_output(const std::string& name) {
    g_.mutable_node(g_.node_size() - 1)->set_output(0, name);
    current_ = name;
  }

  static std::string lower(const std::string& s) {
    std::string r;
    for (char c : s) r += char(std::tolower(static_cast<unsigned char>(c)));
    return r;
  }

 private:
  onnx::GraphProto& g_;
  std::string current_ = "input";
};

void attr_ints(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
void attr_int(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_float(onnx::NodeProto& n, const std::string& name, float v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void set_tensor_type(onnx::ValueInfoProto& v, const std::string& name, const std::vector<std::int64_t>& sample_dims) {
  v.set_name(name);
  onnx::TypeProto_Tensor* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* s = t->mutable_shape();
  s->add_dim()->set_dim_param("N");
  for (auto d : sample_dims) s->add_dim()->set_dim_value(d);
}

// The plan of an export: which ONNX rank each layer's output has (2 after Flatten/Gemm/flattened Softmax, else 4).
// Shared with onnx_output_dims so that `cnn run` writes the same dims the exported graph declares.
bool ends_flat(const Network& net, bool softmax_output) {
  bool flat = false;
  for (std::size_t i = 0; i < net.size(); ++i) {
    const std::string k = net.layer(i).kind();
    const Shape in = net.layer(i).input_shape();
    if (k == "dense" || k == "flatten") flat = true;
    else if (k == "softmax") flat = flat || in.h * in.w > 1;
    else if (k == "conv2d" || k == "maxpool2d" || k == "avgpool2d" || k == "l2pool2d" || k == "subsampling")
      flat = false;
  }
  if (softmax_output && !flat) {
    const Shape out = net.output_shape();
    flat = out.h * out.w > 1;
  }
  return flat;
}

}  // namespace

std::vector<std::int64_t> onnx_output_dims(const Network& net, int n) {
  const Shape o = net.output_shape();
  if (ends_flat(net, false)) return {n, std::int64_t(o.sample_size())};
  return {n, o.c, o.h, o.w};
}

std::string export_onnx_bytes(const Network& net, const OnnxExportOptions& options) {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("cnn");
  model.set_producer_version("0.1.0");
  model.set_doc_string("Exported by cnn: NCHW float32; the output is " +
                       std::string(net.loss().kind() == "softmax_cross_entropy"
                                       ? (options.softmax_output ? "the class probabilities (Softmax)"
                                                                 : "the logits (apply softmax for probabilities)")
                                       : "the network's last layer"));
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  onnx::GraphProto& g = *model.mutable_graph();
  g.set_name(options.name.empty() ? "cnn" : options.name);
  const Shape in = net.input_shape();
  set_tensor_type(*g.add_input(), "input", {in.c, in.h, in.w});

  GraphWriter w(g);
  bool flat = false;  // the current ONNX tensor is [N, F] rather than [N, C, H, W]
  auto make_4d = [&](const Shape& s) {
    if (!flat) return;
    const std::string shape = w.int64_initializer("Reshape", "shape", {0, s.c, s.h, s.w});
    w.node("Reshape", {shape});
    flat = false;
  };
  auto make_flat = [&] {
    if (flat) return;
    attr_int(w.node("Flatten"), "axis", 1);
    flat = true;
  };
  auto softmax = [&](const Shape& s) {
    if (!flat && s.h * s.w > 1) make_flat();
    attr_int(w.node("Softmax"), "axis", 1);
  };

  for (std::size_t i = 0; i < net.size(); ++i) {
    const Layer& base = net.layer(i);
    const std::string kind = base.kind();
    const Shape s = base.input_shape();
    const std::string where = "ONNX export: layer " + std::to_string(i) + " (" + kind + ")";
    if (kind == "conv2d") {
      const auto& l = dynamic_cast<const Conv2D&>(base);
      make_4d(s);
      const Tensor wt = l.weight(), b = l.bias();
      const std::string wn = w.initializer("Conv", "weight", {l.out_channels(), s.c, l.kernel_h(), l.kernel_w()}, wt.data());
      const std::string bn = w.initializer("Conv", "bias", {l.out_channels()}, b.data());
      onnx::NodeProto& n = w.node("Conv", {wn, bn});
      attr_ints(n, "kernel_shape", {l.kernel_h(), l.kernel_w()});
      attr_ints(n, "strides", {l.stride(), l.stride()});
      attr_ints(n, "pads", {l.pad_top(), l.pad_left(), l.pad_bottom(), l.pad_right()});
      attr_ints(n, "dilations", {1, 1});
      attr_int(n, "group", 1);
    } else if (kind == "maxpool2d" || kind == "avgpool2d" || kind == "l2pool2d") {
      const auto& l = dynamic_cast<const Pool2D&>(base);
      make_4d(s);
      const std::string op = kind == "maxpool2d" ? "MaxPool" : kind == "avgpool2d" ? "AveragePool" : "LpPool";
      onnx::NodeProto& n = w.node(op);
      attr_ints(n, "kernel_shape", {l.kernel(), l.kernel()});
      attr_ints(n, "strides", {l.stride(), l.stride()});
      attr_ints(n, "pads", {0, 0, 0, 0});
      if (op == "LpPool") attr_int(n, "p", 2);
    } else if (kind == "dense") {
      const auto& l = dynamic_cast<const Dense&>(base);
      make_flat();
      const Tensor wt = l.weight(), b = l.bias();
      // B = Wᵀ [outputs, inputs] with transB = 1, the form PyTorch writes and every reader handles (OpenCV 4.6
      // mis-sizes a Gemm with transB = 0 and a bias).
      const int I = l.inputs(), O = l.outputs();
      std::vector<float> wtr(std::size_t(I) * O);
      for (int j = 0; j < I; ++j)
        for (int k = 0; k < O; ++k) wtr[std::size_t(k) * I + j] = wt[std::size_t(j) * O + k];
      const std::string wn = w.initializer("Gemm", "weight", {O, I}, wtr.data());
      const std::string bn = w.initializer("Gemm", "bias", {l.outputs()}, b.data());
      onnx::NodeProto& n = w.node("Gemm", {wn, bn});
      attr_float(n, "alpha", 1.0f);
      attr_float(n, "beta", 1.0f);
      attr_int(n, "transA", 0);
      attr_int(n, "transB", 1);
    } else if (kind == "relu") {
      w.node("Relu");
    } else if (kind == "leaky_relu") {
      attr_float(w.node("LeakyRelu"), "alpha", dynamic_cast<const LeakyReLU&>(base).alpha());
    } else if (kind == "sigmoid") {
      w.node("Sigmoid");
    } else if (kind == "tanh") {
      w.node("Tanh");
    } else if (kind == "softmax") {
      softmax(s);
    } else if (kind == "flatten") {
      attr_int(w.node("Flatten"), "axis", 1);
      flat = true;
    } else if (kind == "dropout") {
      const float rate = dynamic_cast<const Dropout&>(base).rate();
      const std::string rn = w.initializer("Dropout", "ratio", {}, &rate);
      w.node("Dropout", {rn});
    } else {
      throw Error(where + " has no ONNX operator" +
                  (kind == "subsampling" ? std::string(" (seed 002's trainable β·down(A) + b per map)") : std::string()) +
                  "; only conv2d, maxpool2d, avgpool2d, l2pool2d, dense, relu, leaky_relu, sigmoid, tanh, softmax, "
                  "flatten and dropout can be exported");
    }
  }
  const bool ce = net.loss().kind() == "softmax_cross_entropy";
  const bool probs = ce && options.softmax_output;
  if (probs) softmax(net.output_shape());
  const std::string out_name = probs ? "probabilities" : ce ? "logits" : "output";
  w.rename_last_output(out_name);
  const Shape o = net.output_shape();
  if (flat) set_tensor_type(*g.add_output(), out_name, {std::int64_t(o.sample_size())});
  else set_tensor_type(*g.add_output(), out_name, {o.c, o.h, o.w});

  auto meta = [&](const std::string& k, const std::string& v) {
    onnx::StringStringEntryProto* e = model.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  };
  meta("cnn.loss", net.loss().kind());
  meta("cnn.output", out_name);
  meta("cnn.name", options.name);
  meta("cnn.class_names", nlohmann::json(options.class_names).dump());

  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (char& c : msg)
      if (c == '\n') c = ' ';
    throw Error("ONNX export: onnx::checker refused the graph: " + msg);
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error("ONNX export: protobuf could not serialize the model");
  return bytes;
}

void export_onnx(const std::string& path, const Network& net, const OnnxExportOptions& options) {
  const std::string bytes = export_onnx_bytes(net, options);
  write_file_atomically(path, bytes);
}

}  // namespace cnn
