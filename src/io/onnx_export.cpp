// ONNX export: one node per layer (plus a Flatten or Reshape where ONNX's ranks need one), weights as raw
// little-endian float32 initializers, checked by onnx::checker before it is written. Conventions: include/cnn/onnx.h.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "cnn/layers/activation.h"
#include "cnn/layers/batchnorm.h"
#include "cnn/layers/conv2d.h"
#include "cnn/layers/dense.h"
#include "cnn/layers/dropout.h"
#include "cnn/layers/flatten.h"
#include "cnn/layers/merge.h"
#include "cnn/layers/normalize.h"
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

  // Adds a node reading `inputs` (tensor names); its output is named after the node.
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs) {
    onnx::NodeProto* n = g_.add_node();
    const std::string name = lower(op) + "_" + std::to_string(g_.node_size() - 1);
    n->set_name(name);
    n->set_op_type(op);
    for (const auto& in : inputs) n->add_input(in);
    n->add_output(name);
    return *n;
  }
  static const std::string& output(const onnx::NodeProto& n) { return n.output(0); }
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
  void rename_last_output(const std::string& name) { g_.mutable_node(g_.node_size() - 1)->set_output(0, name); }

  static std::string lower(const std::string& s) {
    std::string r;
    for (char c : s) r += char(std::tolower(static_cast<unsigned char>(c)));
    return r;
  }

 private:
  onnx::GraphProto& g_;
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

// The plan of an export: which ONNX rank each value has (2 after Flatten/Gemm/flattened Softmax, else 4), value 0
// being the input and value i + 1 layer i's output. Shared with onnx_output_dims so that `cnn run` writes the same
// dims the exported graph declares.
std::vector<bool> flat_values(const Network& net) {
  std::vector<bool> flat(net.size() + 1, false);
  for (std::size_t i = 0; i < net.size(); ++i) {
    const std::string k = net.layer(i).kind();
    const Shape in = net.layer(i).input_shape();
    const int first = net.layer_inputs(i)[0] + 1;
    bool f = flat[std::size_t(first)];
    if (k == "dense" || k == "flatten")
      f = true;
    else if (k == "softmax" || k == "log_softmax")
      f = dynamic_cast<const AxisSoftmax&>(net.layer(i)).axis() == 0 && (f || in.h * in.w > 1);
    else if (k == "conv2d" || k == "maxpool2d" || k == "avgpool2d" || k == "l2pool2d" || k == "maxpool2d_indices" ||
             k == "subsampling" || k == "batchnorm2d" || k == "global_avgpool2d" || k == "add" || k == "concat" ||
             k == "normalize")
      f = false;
    flat[i + 1] = f;
  }
  return flat;
}

}  // namespace

std::vector<std::int64_t> onnx_output_dims(const Network& net, int n) {
  const Shape o = net.output_shape();
  if (flat_values(net).back()) return {n, std::int64_t(o.sample_size())};
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
  const std::vector<bool> flat_after = flat_values(net);
  std::vector<std::string> name(net.size() + 1);  // the ONNX tensor holding each value
  std::vector<bool> flat(net.size() + 1, false);  // that tensor is [N, F] rather than [N, C, H, W]
  std::vector<int> readers(net.size() + 1, 0);
  for (std::size_t i = 0; i < net.size(); ++i)
    for (int v : net.layer_inputs(i)) ++readers[std::size_t(v) + 1];
  name[0] = "input";
  auto emit = [](onnx::NodeProto& n) -> const std::string& { return GraphWriter::output(n); };
  auto as_4d = [&](const std::string& t, bool is_flat, const Shape& s) {
    if (!is_flat) return t;
    const std::string shape = w.int64_initializer("Reshape", "shape", {0, s.c, s.h, s.w});
    return emit(w.node("Reshape", {t, shape}));
  };
  auto as_flat = [&](const std::string& t, bool is_flat) {
    if (is_flat) return t;
    onnx::NodeProto& n = w.node("Flatten", {t});
    attr_int(n, "axis", 1);
    return emit(n);
  };
  auto softmax = [&](const std::string& t, bool is_flat, const Shape& s, const char* op = "Softmax") {
    onnx::NodeProto& n = w.node(op, {!is_flat && s.h * s.w > 1 ? as_flat(t, is_flat) : t});
    attr_int(n, "axis", 1);
    return emit(n);
  };
  // conv2d → batchnorm2d that nothing else reads: one Conv with W' = scale·W, b' = scale·b + shift per map
  auto folded_bn = [&](std::size_t i) -> const BatchNorm2D* {
    if (!options.fold_batchnorm || i + 1 >= net.size() || readers[i + 1] != 1) return nullptr;
    if (net.layer_inputs(i + 1) != std::vector<int>{int(i)}) return nullptr;
    return dynamic_cast<const BatchNorm2D*>(&net.layer(i + 1));
  };

  for (std::size_t i = 0; i < net.size(); ++i) {
    const Layer& base = net.layer(i);
    const std::string kind = base.kind();
    const Shape s = base.input_shape();
    const std::string where = "ONNX export: layer " + std::to_string(i) + " (" + kind + ")";
    const std::vector<int> ins = net.layer_inputs(i);
    const std::string& x = name[std::size_t(ins[0]) + 1];
    const bool x_flat = flat[std::size_t(ins[0]) + 1];
    std::string out;
    if (kind == "conv2d") {
      const auto& l = dynamic_cast<const Conv2D&>(base);
      const Tensor wt = l.weight();
      std::vector<float> weight(wt.data(), wt.data() + wt.size()), bias(std::size_t(l.out_channels()), 0.0f);
      if (l.has_bias()) std::copy(l.bias().data(), l.bias().data() + l.out_channels(), bias.begin());
      const BatchNorm2D* bn = folded_bn(i);
      if (bn) {
        const std::size_t per_map = weight.size() / bias.size();
        for (int o = 0; o < l.out_channels(); ++o) {
          const float scale = bn->eval_scale(o);
          for (std::size_t k = 0; k < per_map; ++k) weight[std::size_t(o) * per_map + k] *= scale;
          bias[std::size_t(o)] = scale * bias[std::size_t(o)] + bn->eval_shift(o);
        }
      }
      const std::string in4 = as_4d(x, x_flat, s);
      std::vector<std::string> node_in{
          in4, w.initializer("Conv", "weight", {l.out_channels(), s.c, l.kernel_h(), l.kernel_w()}, weight.data())};
      if (l.has_bias() || bn) node_in.push_back(w.initializer("Conv", "bias", {l.out_channels()}, bias.data()));
      onnx::NodeProto& n = w.node("Conv", node_in);
      attr_ints(n, "kernel_shape", {l.kernel_h(), l.kernel_w()});
      attr_ints(n, "strides", {l.stride(), l.stride()});
      attr_ints(n, "pads", {l.pad_top(), l.pad_left(), l.pad_bottom(), l.pad_right()});
      attr_ints(n, "dilations", {1, 1});
      attr_int(n, "group", 1);
      out = emit(n);
      if (bn) {  // the batch normalisation's value is the conv's output
        name[i + 1] = name[i + 2] = out;
        flat[i + 1] = flat[i + 2] = false;
        ++i;
        continue;
      }
    } else if (kind == "batchnorm2d") {
      const auto& l = dynamic_cast<const BatchNorm2D&>(base);
      const std::string in4 = as_4d(x, x_flat, s);
      const std::string sc = w.initializer("BatchNormalization", "scale", {l.channels()}, l.gamma().data());
      const std::string bb = w.initializer("BatchNormalization", "bias", {l.channels()}, l.beta().data());
      const std::string mn = w.initializer("BatchNormalization", "mean", {l.channels()}, l.running_mean().data());
      const std::string vr = w.initializer("BatchNormalization", "var", {l.channels()}, l.running_var().data());
      onnx::NodeProto& n = w.node("BatchNormalization", {in4, sc, bb, mn, vr});
      attr_float(n, "epsilon", l.eps());
      attr_float(n, "momentum", 1.0f - l.momentum());  // ONNX's momentum weighs the running estimate
      out = emit(n);
    } else if (kind == "maxpool2d" || kind == "avgpool2d" || kind == "l2pool2d") {
      const auto& l = dynamic_cast<const Pool2D&>(base);
      const std::string op = kind == "maxpool2d" ? "MaxPool" : kind == "avgpool2d" ? "AveragePool" : "LpPool";
      const PoolWindow& win = l.window();
      const bool dilated = win.dh != 1 || win.dw != 1;
      if (dilated && op != "MaxPool")  // AveragePool and LpPool take dilations from opset 19 and 18, not 13
        throw Error(where + ": a dilated window has no " + op +
                    " form in ONNX opset 13 (only MaxPool takes dilations)");
      onnx::NodeProto& n = w.node(op, {as_4d(x, x_flat, s)});
      attr_ints(n, "kernel_shape", {win.kh, win.kw});
      attr_ints(n, "strides", {win.sh, win.sw});
      if (dilated) attr_ints(n, "dilations", {win.dh, win.dw});
      const Pads p = l.pads();
      attr_ints(n, "pads", {p.top, p.left, p.bottom, p.right});
      if (op == "AveragePool") attr_int(n, "count_include_pad", 0);  // the padding is not counted (its default)
      if (op == "LpPool") attr_int(n, "p", 2);
      out = emit(n);
    } else if (kind == "normalize") {
      // (x − μ)/σ per channel as BatchNormalization with mean μ, variance σ², scale 1, bias 0 and ε = 0: one node
      // every reader runs (OpenCV 4.6 refuses Sub and Div by per-channel constants)
      const auto& l = dynamic_cast<const Normalize&>(base);
      const int C = l.channels();
      std::vector<float> mean, var, one(std::size_t(C), 1.0f), zero(std::size_t(C), 0.0f);
      for (int c = 0; c < C; ++c) mean.push_back(l.mean(c)), var.push_back(l.std_dev(c) * l.std_dev(c));
      const std::string sc = w.initializer("BatchNormalization", "scale", {C}, one.data());
      const std::string bb = w.initializer("BatchNormalization", "bias", {C}, zero.data());
      const std::string mn = w.initializer("BatchNormalization", "mean", {C}, mean.data());
      const std::string vr = w.initializer("BatchNormalization", "var", {C}, var.data());
      onnx::NodeProto& n = w.node("BatchNormalization", {as_4d(x, x_flat, s), sc, bb, mn, vr});
      attr_float(n, "epsilon", 0.0f);
      out = emit(n);
    } else if (kind == "global_avgpool2d") {
      out = emit(w.node("GlobalAveragePool", {as_4d(x, x_flat, s)}));
    } else if (kind == "add" || kind == "concat") {
      std::vector<std::string> node_in;
      for (int v : ins) {
        const Shape vs = v < 0 ? net.input_shape() : net.layer(std::size_t(v)).output_shape();
        node_in.push_back(as_4d(name[std::size_t(v) + 1], flat[std::size_t(v) + 1], vs));
      }
      onnx::NodeProto& n = w.node(kind == "add" ? "Add" : "Concat", node_in);
      if (kind == "concat") attr_int(n, "axis", dynamic_cast<const Concat&>(base).axis());
      out = emit(n);
    } else if (kind == "dense") {
      const auto& l = dynamic_cast<const Dense&>(base);
      const std::string in2 = as_flat(x, x_flat);
      const Tensor wt = l.weight(), b = l.bias();
      // B = Wᵀ [outputs, inputs] with transB = 1, the form PyTorch writes and every reader handles (OpenCV 4.6
      // mis-sizes a Gemm with transB = 0 and a bias).
      const int I = l.inputs(), O = l.outputs();
      std::vector<float> wtr(std::size_t(I) * O);
      for (int j = 0; j < I; ++j)
        for (int k = 0; k < O; ++k) wtr[std::size_t(k) * I + j] = wt[std::size_t(j) * O + k];
      const std::string wn = w.initializer("Gemm", "weight", {O, I}, wtr.data());
      const std::string bn = w.initializer("Gemm", "bias", {l.outputs()}, b.data());
      onnx::NodeProto& n = w.node("Gemm", {in2, wn, bn});
      attr_float(n, "alpha", 1.0f);
      attr_float(n, "beta", 1.0f);
      attr_int(n, "transA", 0);
      attr_int(n, "transB", 1);
      out = emit(n);
    } else if (kind == "relu") {
      out = emit(w.node("Relu", {x}));
    } else if (kind == "leaky_relu") {
      onnx::NodeProto& n = w.node("LeakyRelu", {x});
      attr_float(n, "alpha", dynamic_cast<const LeakyReLU&>(base).alpha());
      out = emit(n);
    } else if (kind == "sigmoid") {
      out = emit(w.node("Sigmoid", {x}));
    } else if (kind == "tanh") {
      out = emit(w.node("Tanh", {x}));
    } else if (kind == "softmax" || kind == "log_softmax") {
      const char* op = kind == "softmax" ? "Softmax" : "LogSoftmax";
      if (const int axis = dynamic_cast<const AxisSoftmax&>(base).axis(); axis != 0) {
        // along one axis of [N, C, H, W]: opset 13's Softmax normalises that axis alone
        onnx::NodeProto& n = w.node(op, {as_4d(x, x_flat, s)});
        attr_int(n, "axis", axis);
        out = emit(n);
      } else {
        out = softmax(x, x_flat, s, op);
      }
    } else if (kind == "flatten") {
      onnx::NodeProto& n = w.node("Flatten", {x});
      attr_int(n, "axis", 1);
      out = emit(n);
    } else if (kind == "dropout") {
      const float rate = dynamic_cast<const Dropout&>(base).rate();
      const std::string rn = w.initializer("Dropout", "ratio", {}, &rate);
      out = emit(w.node("Dropout", {x, rn}));
    } else {
      throw Error(where + " has no ONNX operator" +
                  (kind == "subsampling" ? std::string(" (seed 002's trainable β·down(A) + b per map)")
                   : kind == "constant"  ? std::string(" written here (a tensor repeated along the batch)")
                   : kind == "maxpool2d_indices"
                       ? std::string(" for a float index within each map (MaxPool's Indices are int64, counted from "
                                     "the start of the batch)")
                       : std::string()) +
                  "; only conv2d, batchnorm2d, maxpool2d, avgpool2d, l2pool2d, global_avgpool2d, dense, relu, "
                  "leaky_relu, sigmoid, tanh, softmax, log_softmax, flatten, dropout, add, concat and normalize can be "
                  "exported");
    }
    name[i + 1] = out;
    flat[i + 1] = flat_after[i + 1];
  }
  // With softmax_output a Softmax over the features (flattened first when they are maps) ends the graph.
  const bool ce = net.loss().kind() == "softmax_cross_entropy";
  const bool probs = ce && options.softmax_output;
  const Shape o = net.output_shape();
  if (probs) softmax(name.back(), flat.back(), o);
  const bool out_flat = flat.back() || (probs && o.h * o.w > 1);
  const std::string out_name = probs ? "probabilities" : ce ? "logits" : "output";
  w.rename_last_output(out_name);
  if (out_flat)
    set_tensor_type(*g.add_output(), out_name, {std::int64_t(o.sample_size())});
  else
    set_tensor_type(*g.add_output(), out_name, {o.c, o.h, o.w});

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
