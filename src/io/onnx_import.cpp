// ONNX import: a chain of nodes from the graph's one input to its one output, each turned into a layer, every
// attribute honoured or refused by name; and TensorProto files. Everything read from the file is checked before it
// is used (types, ranks, sizes against the bytes present, the chain itself), so a damaged file is one cnn::Error.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

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

constexpr std::int64_t kMaxDim = 1 << 16;                   // any one input dimension
constexpr std::size_t kMaxSample = std::size_t(1) << 24;    // elements of one sample at any layer
constexpr std::size_t kMaxConvWork = std::size_t(1) << 26;  // C_in·kh·kw·H_out·W_out of one convolution

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Checked element count of dims (each ≥ 0, product ≤ 2^31).
std::size_t element_count(const google::protobuf::RepeatedField<std::int64_t>& dims, const std::string& where) {
  std::size_t n = 1;
  for (auto d : dims) {
    if (d < 0 || d > (std::int64_t(1) << 31)) throw Error(where + ": bad dimension " + std::to_string(d));
    n *= std::size_t(d);
    if (n > (std::size_t(1) << 31)) throw Error(where + ": too many elements");
  }
  return n;
}

std::string dims_str(const std::vector<std::int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

template <class T>
T load_le(const std::string& raw, std::size_t i) {
  T v;
  std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));  // x86-64 and every ONNX target here: little-endian
  return v;
}

// The values of a FLOAT or DOUBLE tensor as float32, checked against its dims.
std::vector<float> float_values(const onnx::TensorProto& t, const std::string& where) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL || t.external_data_size() > 0)
    throw Error(where + ": external data is not supported");
  const std::size_t n = element_count(t.dims(), where);
  std::vector<float> v;
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    if (t.has_raw_data()) {
      if (t.raw_data().size() != 4 * n)
        throw Error(where + ": holds " + std::to_string(t.raw_data().size()) + " bytes, its dims " +
                    dims_str({t.dims().begin(), t.dims().end()}) + " need " + std::to_string(4 * n));
      v.resize(n);
      for (std::size_t i = 0; i < n; ++i) v[i] = load_le<float>(t.raw_data(), i);
    } else {
      if (std::size_t(t.float_data_size()) != n)
        throw Error(where + ": holds " + std::to_string(t.float_data_size()) + " floats, its dims need " +
                    std::to_string(n));
      v.assign(t.float_data().begin(), t.float_data().end());
    }
  } else if (t.data_type() == onnx::TensorProto::DOUBLE) {
    if (t.has_raw_data()) {
      if (t.raw_data().size() != 8 * n) throw Error(where + ": raw data size does not match its dims");
      v.resize(n);
      for (std::size_t i = 0; i < n; ++i) v[i] = float(load_le<double>(t.raw_data(), i));
    } else {
      if (std::size_t(t.double_data_size()) != n) throw Error(where + ": data size does not match its dims");
      for (double d : t.double_data()) v.push_back(float(d));
    }
  } else {
    throw Error(where + ": element type " + std::to_string(t.data_type()) + " is not float32 (1) or double (11)");
  }
  return v;
}

std::vector<std::int64_t> int_values(const onnx::TensorProto& t, const std::string& where) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL || t.external_data_size() > 0)
    throw Error(where + ": external data is not supported");
  const std::size_t n = element_count(t.dims(), where);
  std::vector<std::int64_t> v;
  if (t.data_type() == onnx::TensorProto::INT64) {
    if (t.has_raw_data()) {
      if (t.raw_data().size() != 8 * n) throw Error(where + ": raw data size does not match its dims");
      for (std::size_t i = 0; i < n; ++i) v.push_back(load_le<std::int64_t>(t.raw_data(), i));
    } else {
      if (std::size_t(t.int64_data_size()) != n) throw Error(where + ": data size does not match its dims");
      v.assign(t.int64_data().begin(), t.int64_data().end());
    }
  } else if (t.data_type() == onnx::TensorProto::INT32) {
    if (t.has_raw_data()) {
      if (t.raw_data().size() != 4 * n) throw Error(where + ": raw data size does not match its dims");
      for (std::size_t i = 0; i < n; ++i) v.push_back(load_le<std::int32_t>(t.raw_data(), i));
    } else {
      if (std::size_t(t.int32_data_size()) != n) throw Error(where + ": data size does not match its dims");
      v.assign(t.int32_data().begin(), t.int32_data().end());
    }
  } else {
    throw Error(where + ": element type " + std::to_string(t.data_type()) + " is not an integer type");
  }
  return v;
}

std::vector<std::int64_t> dims_of(const onnx::TensorProto& t) { return {t.dims().begin(), t.dims().end()}; }

// The attributes of one node, read with their declared types; finish() refuses any attribute nobody asked for.
class Attrs {
 public:
  Attrs(const onnx::NodeProto& n, std::string where) : where_(std::move(where)) {
    for (const auto& a : n.attribute()) {
      if (by_name_.count(a.name())) throw Error(where_ + ": attribute \"" + a.name() + "\" given twice");
      by_name_[a.name()] = &a;
    }
  }
  std::int64_t i(const std::string& name, std::int64_t fallback) {
    const onnx::AttributeProto* a = get(name, onnx::AttributeProto::INT);
    return a ? a->i() : fallback;
  }
  float f(const std::string& name, float fallback) {
    const onnx::AttributeProto* a = get(name, onnx::AttributeProto::FLOAT);
    return a ? a->f() : fallback;
  }
  std::string s(const std::string& name, const std::string& fallback) {
    const onnx::AttributeProto* a = get(name, onnx::AttributeProto::STRING);
    return a ? a->s() : fallback;
  }
  std::optional<std::vector<std::int64_t>> ints(const std::string& name) {
    const onnx::AttributeProto* a = get(name, onnx::AttributeProto::INTS);
    if (!a) return std::nullopt;
    return std::vector<std::int64_t>(a->ints().begin(), a->ints().end());
  }
  const onnx::TensorProto* tensor(const std::string& name) {
    const onnx::AttributeProto* a = get(name, onnx::AttributeProto::TENSOR);
    return a ? &a->t() : nullptr;
  }
  void finish() const {
    for (const auto& [name, a] : by_name_)
      if (!used_.count(name)) throw Error(where_ + ": attribute \"" + name + "\" is not supported");
  }

 private:
  const onnx::AttributeProto* get(const std::string& name, onnx::AttributeProto::AttributeType type) {
    used_.insert(name);
    const auto it = by_name_.find(name);
    if (it == by_name_.end()) return nullptr;
    const onnx::AttributeProto* a = it->second;
    // Old files may leave `type` unset (0); then the field that is set decides.
    const bool ok = a->type() == type || (a->type() == onnx::AttributeProto::UNDEFINED &&
                                          ((type == onnx::AttributeProto::INT && a->has_i()) ||
                                           (type == onnx::AttributeProto::FLOAT && a->has_f()) ||
                                           (type == onnx::AttributeProto::STRING && a->has_s()) ||
                                           (type == onnx::AttributeProto::TENSOR && a->has_t()) ||
                                           (type == onnx::AttributeProto::INTS && a->ints_size() > 0)));
    if (!ok) throw Error(where_ + ": attribute \"" + name + "\" has the wrong type");
    return a;
  }
  std::string where_;
  std::map<std::string, const onnx::AttributeProto*> by_name_;
  std::set<std::string> used_;
};

struct Pending {
  LayerPtr layer;
  std::vector<std::pair<std::string, std::vector<float>>> params;  // name → values in our layout
};

class Importer {
 public:
  Importer(const onnx::ModelProto& m, std::string source) : m_(m), g_(m.graph()), src_(std::move(source)) {}

  OnnxImport run() {
    if (!m_.has_graph()) throw Error(src_ + ": no graph (not an ONNX model, or damaged)");
    opset_ = 0;
    for (const auto& o : m_.opset_import()) {
      if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
    }
    if (opset_ <= 0) opset_ = 1;  // IR versions before opset_import: opset 1
    for (const auto& t : g_.initializer()) {
      if (t.name().empty()) throw Error(src_ + ": an initializer has no name");
      if (!constants_.emplace(t.name(), &t).second)
        throw Error(src_ + ": initializer \"" + t.name() + "\" given twice");
    }
    // Constant nodes are initializers too; every other node joins the chain.
    std::map<std::string, int> produced_by;
    for (int k = 0; k < g_.node_size(); ++k) {
      const onnx::NodeProto& n = g_.node(k);
      if (!n.domain().empty() && n.domain() != "ai.onnx")
        throw Error(where(k) + ": operator domain \"" + n.domain() + "\" is not supported");
      for (const auto& out : n.output()) {
        if (out.empty()) continue;
        if (produced_by.count(out) || constants_.count(out))
          throw Error(where(k) + ": output \"" + out + "\" is produced twice");
        produced_by[out] = k;
      }
      if (n.op_type() == "Constant") {
        Attrs a(n, where(k));
        const onnx::TensorProto* t = a.tensor("value");
        if (!t || n.output_size() != 1) throw Error(where(k) + ": only Constant with a \"value\" tensor is supported");
        a.finish();
        constants_[n.output(0)] = t;
        constant_nodes_.insert(k);
      }
    }
    // The one graph input that is not an initializer.
    const onnx::ValueInfoProto* input = nullptr;
    for (const auto& v : g_.input()) {
      if (constants_.count(v.name())) continue;
      if (input)
        throw Error(src_ + ": the graph has more than one input (\"" + input->name() + "\", \"" + v.name() +
                    "\"); only single-input chains are supported");
      input = &v;
    }
    if (!input) throw Error(src_ + ": the graph has no input");
    if (g_.output_size() != 1)
      throw Error(src_ + ": the graph has " + std::to_string(g_.output_size()) + " outputs; exactly one is supported");
    const Shape in = input_shape(*input);
    metadata();

    // Every node must be computable: a topological order over the tensors (Kahn), or the graph has a cycle.
    {
      std::vector<int> waiting(std::size_t(g_.node_size()), 0);
      std::map<std::string, std::vector<int>> readers;
      for (int k = 0; k < g_.node_size(); ++k) {
        for (const auto& x : g_.node(k).input()) {
          const auto p = produced_by.find(x);
          if (p == produced_by.end() || constant_nodes_.count(p->second)) continue;
          ++waiting[std::size_t(k)];
          readers[x].push_back(k);
        }
      }
      std::vector<int> ready;
      for (int k = 0; k < g_.node_size(); ++k)
        if (waiting[std::size_t(k)] == 0) ready.push_back(k);
      int done = 0;
      while (!ready.empty()) {
        const int k = ready.back();
        ready.pop_back();
        ++done;
        for (const auto& out : g_.node(k).output()) {
          const auto r = readers.find(out);
          if (r == readers.end()) continue;
          for (int j : r->second)
            if (--waiting[std::size_t(j)] == 0) ready.push_back(j);
        }
      }
      if (done != g_.node_size())
        for (int k = 0; k < g_.node_size(); ++k)
          if (waiting[std::size_t(k)] > 0) throw Error(where(k) + ": the graph has a cycle through this node");
    }
    // Consumers of each tensor (as data or any input).
    for (int k = 0; k < g_.node_size(); ++k) {
      if (constant_nodes_.count(k)) continue;
      for (const auto& x : g_.node(k).input())
        if (!x.empty()) consumers_[x].push_back(k);
    }
    std::vector<Pending> layers;
    std::string current = input->name();
    rank_ = input->type().tensor_type().shape().dim_size();
    shape_ = in;
    std::set<int> visited;
    const std::string& out_name = g_.output(0).name();
    while (current != out_name) {
      const auto it = consumers_.find(current);
      if (it == consumers_.end() || it->second.empty())
        throw Error(src_ + ": tensor \"" + current + "\" feeds no node, yet it is not the graph's output \"" +
                    out_name + "\"");
      if (it->second.size() > 1)
        throw Error(src_ + ": tensor \"" + current + "\" feeds " + std::to_string(it->second.size()) +
                    " nodes; only chains (one consumer per tensor) are supported");
      const int k = it->second[0];
      if (!visited.insert(k).second) throw Error(where(k) + ": the graph has a cycle");
      const onnx::NodeProto& n = g_.node(k);
      if (n.input_size() == 0 || n.input(0) != current)
        throw Error(where(k) + ": reads \"" + current + "\" as a parameter, not as its data input");
      if (n.output_size() < 1 || n.output(0).empty()) throw Error(where(k) + ": has no output");
      for (int o = 1; o < n.output_size(); ++o)
        if (!n.output(o).empty() && consumers_.count(n.output(o)))
          throw Error(where(k) + ": its extra output \"" + n.output(o) +
                      "\" is used; only the first output is supported");
      current = n.output(0);
      if (n.op_type() == "MatMul") {
        // MatMul [+ Add of a constant] → dense
        Pending p = matmul(k);
        const auto next = consumers_.find(current);
        if (next != consumers_.end() && next->second.size() == 1 && current != out_name) {
          const int k2 = next->second[0];
          const onnx::NodeProto& add = g_.node(k2);
          if (add.op_type() == "Add" && add.input_size() == 2 && add.output_size() == 1) {
            const std::string other = add.input(0) == current ? add.input(1) : add.input(0);
            if (!visited.insert(k2).second) throw Error(where(k2) + ": the graph has a cycle");
            const onnx::TensorProto& c = constant(k2, other, "B");
            const std::vector<float> cv = float_values(c, where(k2) + ": tensor \"" + other + "\"");
            const int outs = dynamic_cast<Dense&>(*p.layer).outputs();
            p.params[1].second = broadcast_bias(cv, dims_of(c), outs, where(k2) + ": Add bias \"" + other + "\"");
            current = add.output(0);
          }
        }
        add_layer(layers, std::move(p), k);
        continue;
      }
      std::optional<Pending> p = convert(k);
      if (p) add_layer(layers, std::move(*p), k);
    }
    for (int k = 0; k < g_.node_size(); ++k)
      if (!visited.count(k) && !constant_nodes_.count(k))
        throw Error(where(k) + ": not on the chain from the input to the output (a cycle, a branch or a dead node)");
    if (layers.empty()) throw Error(src_ + ": the graph has no layers");

    // Build the network and copy in the parameters.
    OnnxImport r{Network(in), name_, class_names_, false};
    bool drop_softmax = false;
    if (output_kind_ == "probabilities" || (output_kind_.empty() && layers.back().layer->kind() == "softmax"))
      drop_softmax = layers.size() > 1 && layers.back().layer->kind() == "softmax";
    if (drop_softmax) layers.pop_back();
    r.probabilities_removed = drop_softmax;
    for (auto& p : layers) {
      try {
        r.net.add(std::move(p.layer));
      } catch (const Error& e) {
        throw Error(src_ + ": " + e.what());
      }
    }
    try {
      r.net.set_loss(make_loss(loss_.empty() ? "softmax_cross_entropy" : loss_));
    } catch (const Error& e) {
      throw Error(src_ + ": metadata cnn.loss: " + e.what());
    }
    for (std::size_t i = 0; i < layers.size(); ++i) {
      for (ParamView& v : r.net.layer(i).params()) {
        const auto it = std::find_if(layers[i].params.begin(), layers[i].params.end(),
                                     [&](const auto& q) { return q.first == v.name; });
        if (it == layers[i].params.end() || it->second.size() != v.value.size())
          throw Error(src_ + ": layer " + std::to_string(i) + " (" + r.net.layer(i).kind() + "): parameter \"" +
                      v.name + "\" has " + std::to_string(it == layers[i].params.end() ? 0 : it->second.size()) +
                      " values, the layer needs " + std::to_string(v.value.size()));
        std::copy(it->second.begin(), it->second.end(), v.value.data());
      }
    }
    return r;
  }

 private:
  std::string where(int k) const {
    const onnx::NodeProto& n = g_.node(k);
    return src_ + ": node " + std::to_string(k) + (n.name().empty() ? "" : " \"" + n.name() + "\"") + " (" +
           (n.op_type().empty() ? "?" : n.op_type()) + ")";
  }

  Shape input_shape(const onnx::ValueInfoProto& v) {
    const std::string w = src_ + ": input \"" + v.name() + "\"";
    if (!v.has_type() || !v.type().has_tensor_type()) throw Error(w + ": not a tensor");
    const auto& tt = v.type().tensor_type();
    if (tt.elem_type() != onnx::TensorProto::FLOAT)
      throw Error(w + ": element type " + std::to_string(tt.elem_type()) + " is not float32");
    if (!tt.has_shape()) throw Error(w + ": no shape");
    const auto& s = tt.shape();
    std::vector<std::int64_t> d;
    for (int i = 1; i < s.dim_size(); ++i) {
      if (!s.dim(i).has_dim_value() || s.dim(i).dim_value() < 1 || s.dim(i).dim_value() > kMaxDim)
        throw Error(w + ": dimension " + std::to_string(i) + " must be a fixed size from 1 to " +
                    std::to_string(kMaxDim));
      d.push_back(s.dim(i).dim_value());
    }
    Shape r;
    if (s.dim_size() == 4)
      r = Shape{1, int(d[0]), int(d[1]), int(d[2])};
    else if (s.dim_size() == 2)
      r = Shape{1, int(d[0]), 1, 1};
    else
      throw Error(w + ": rank " + std::to_string(s.dim_size()) + "; expected [N, C, H, W] or [N, F]");
    if (r.sample_size() > kMaxSample)
      throw Error(w + ": " + std::to_string(r.sample_size()) + " values per sample is too many");
    return r;
  }

  void metadata() {
    for (const auto& e : m_.metadata_props()) {
      if (e.key() == "cnn.loss")
        loss_ = e.value();
      else if (e.key() == "cnn.output")
        output_kind_ = e.value();
      else if (e.key() == "cnn.name")
        name_ = e.value();
      else if (e.key() == "cnn.class_names") {
        try {
          class_names_ = nlohmann::json::parse(e.value()).get<std::vector<std::string>>();
        } catch (const nlohmann::json::exception&) {
          throw Error(src_ + ": metadata cnn.class_names is not a JSON list of strings");
        }
      }
    }
    if (name_.empty()) name_ = g_.name();
  }

  const onnx::TensorProto& constant(int k, const std::string& name, const std::string& role) {
    const auto it = constants_.find(name);
    if (it == constants_.end())
      throw Error(where(k) + ": input " + role + " \"" + name +
                  "\" is not an initializer or constant (missing initializer)");
    return *it->second;
  }
  const onnx::TensorProto* optional_constant(int k, int input, const std::string& role) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() <= input || n.input(input).empty()) return nullptr;
    return &constant(k, n.input(input), role);
  }

  static std::vector<float> broadcast_bias(const std::vector<float>& v, const std::vector<std::int64_t>& dims, int n,
                                           const std::string& w) {
    if (v.size() == std::size_t(n) && (dims.size() == 1 || (dims.size() == 2 && dims[0] == 1))) return v;
    if (v.size() == 1) return std::vector<float>(std::size_t(n), v[0]);
    throw Error(w + ": shape " + dims_str(dims) + " does not broadcast to [" + std::to_string(n) + "]");
  }

  void need_rank(int k, int rank) const {
    if (rank_ != rank)
      throw Error(where(k) + ": its input has rank " + std::to_string(rank_) + ", expected " + std::to_string(rank));
  }

  std::pair<int, int> square(int k, const std::vector<std::int64_t>& v, const std::string& what) const {
    if (v.size() != 2) throw Error(where(k) + ": " + what + " " + dims_str(v) + " must have 2 values");
    return {int(v[0]), int(v[1])};
  }

  void add_layer(std::vector<Pending>& layers, Pending p, int k) {
    // Shapes and work are checked here, before the network sizes any workspace for them.
    try {
      if (auto* c = dynamic_cast<Conv2D*>(p.layer.get())) {
        // setup() sizes the convolution's workspaces, so its size is bounded first.
        const std::size_t s = std::size_t(c->stride());
        const bool same = c->padding() == Padding::same;
        const std::size_t oh = same ? (std::size_t(shape_.h) + s - 1) / s
                                    : (shape_.h >= c->kernel_h() ? std::size_t(shape_.h - c->kernel_h()) / s + 1 : 1);
        const std::size_t ow = same ? (std::size_t(shape_.w) + s - 1) / s
                                    : (shape_.w >= c->kernel_w() ? std::size_t(shape_.w - c->kernel_w()) / s + 1 : 1);
        const double work = double(shape_.c) * c->kernel_h() * c->kernel_w() * double(oh) * double(ow);
        if (work > double(kMaxConvWork) || double(c->out_channels()) * double(oh) * double(ow) > double(kMaxSample))
          throw Error("convolution too large to import");
      }
      const Shape out = p.layer->setup(shape_);
      if (out.sample_size() > kMaxSample || out.sample_size() == 0)
        throw Error("output " + out.sample_str() + " is too large or empty");
      shape_ = out;
    } catch (const Error& e) {
      throw Error(where(k) + ": " + e.what());
    }
    // setup() above was only a check; the network sets the layer up again when it is added.
    layers.push_back(std::move(p));
  }

  // Pads [top, left, bottom, right] → valid or same for the current input, or refused.
  Padding conv_padding(int k, Attrs& a, int kh, int kw, int s) {
    const std::string auto_pad = a.s("auto_pad", "NOTSET");
    const auto pads_attr = a.ints("pads");
    const int H = shape_.h, W = shape_.w;
    auto same_pads = [&](int size, int kk) {
      const int out = (size + s - 1) / s;
      const int total = std::max((out - 1) * s + kk - size, 0);
      return std::pair<int, int>{total / 2, total - total / 2};
    };
    const auto [pt, pb] = same_pads(H, kh);
    const auto [pl, pr] = same_pads(W, kw);
    const bool same_is_zero = pt == 0 && pb == 0 && pl == 0 && pr == 0;
    if (auto_pad == "VALID") return Padding::valid;
    if (auto_pad == "SAME_UPPER") return same_is_zero ? Padding::valid : Padding::same;
    if (auto_pad == "SAME_LOWER") {
      if (pt == pb && pl == pr) return same_is_zero ? Padding::valid : Padding::same;
      throw Error(where(k) +
                  ": auto_pad SAME_LOWER puts the odd pixel at the top/left; this library's `same` puts it at the "
                  "bottom/right");
    }
    if (auto_pad != "NOTSET") throw Error(where(k) + ": auto_pad \"" + auto_pad + "\" is not supported");
    std::vector<std::int64_t> p = pads_attr.value_or(std::vector<std::int64_t>{0, 0, 0, 0});
    if (p.size() != 4) throw Error(where(k) + ": pads " + dims_str(p) + " must have 4 values");
    if (p == std::vector<std::int64_t>{0, 0, 0, 0}) return Padding::valid;
    if (p == std::vector<std::int64_t>{pt, pl, pb, pr}) return Padding::same;
    throw Error(where(k) + ": pads " + dims_str(p) + " are neither valid [0, 0, 0, 0] nor `same` " +
                dims_str({pt, pl, pb, pr}) + " for a " + std::to_string(H) + "x" + std::to_string(W) + " input");
  }

  Pending conv(int k) {
    const onnx::NodeProto& n = g_.node(k);
    need_rank(k, 4);
    if (n.input_size() < 2) throw Error(where(k) + ": needs inputs X and W");
    const onnx::TensorProto& wt = constant(k, n.input(1), "W");
    const std::vector<std::int64_t> wd = dims_of(wt);
    std::vector<float> wv = float_values(wt, where(k) + ": weight \"" + n.input(1) + "\"");
    if (wd.size() != 4 || wd[0] < 1 || wd[2] < 1 || wd[3] < 1)
      throw Error(where(k) + ": weight shape " + dims_str(wd) + " is not [C_out, C_in, kh, kw]");
    if (wd[1] != shape_.c)
      throw Error(where(k) + ": weight shape " + dims_str(wd) + " expects " + std::to_string(wd[1]) +
                  " input channels, the input has " + std::to_string(shape_.c));
    Attrs a(n, where(k));
    const auto ks = a.ints("kernel_shape");
    if (ks && *ks != std::vector<std::int64_t>{wd[2], wd[3]})
      throw Error(where(k) + ": kernel_shape " + dims_str(*ks) + " does not match the weight " + dims_str(wd));
    const auto strides = a.ints("strides").value_or(std::vector<std::int64_t>{1, 1});
    const auto [sh, sw] = square(k, strides, "strides");
    if (sh != sw || sh < 1) throw Error(where(k) + ": strides " + dims_str(strides) + " must be equal and positive");
    const auto dil = a.ints("dilations").value_or(std::vector<std::int64_t>{1, 1});
    if (dil != std::vector<std::int64_t>{1, 1})
      throw Error(where(k) + ": dilations " + dims_str(dil) + " are not supported");
    if (a.i("group", 1) != 1)
      throw Error(where(k) + ": group " + std::to_string(a.i("group", 1)) + " is not supported");
    const Padding pad = conv_padding(k, a, int(wd[2]), int(wd[3]), sh);
    a.finish();
    std::vector<float> bv(static_cast<std::size_t>(wd[0]), 0.0f);
    if (const onnx::TensorProto* b = optional_constant(k, 2, "B")) {
      bv = float_values(*b, where(k) + ": bias \"" + n.input(2) + "\"");
      if (b->dims_size() != 1 || bv.size() != std::size_t(wd[0]))
        throw Error(where(k) + ": bias shape " + dims_str(dims_of(*b)) + " is not [" + std::to_string(wd[0]) + "]");
    }
    if (n.input_size() > 3) throw Error(where(k) + ": too many inputs");
    Pending p;
    p.layer = std::make_unique<Conv2D>(int(wd[0]), KernelSize{int(wd[2]), int(wd[3])}, sh, pad);
    p.params = {{"weight", std::move(wv)}, {"bias", std::move(bv)}};
    return p;
  }

  Pending pool(int k, const std::string& op) {
    const onnx::NodeProto& n = g_.node(k);
    need_rank(k, 4);
    if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
    Attrs a(n, where(k));
    const auto ks = a.ints("kernel_shape");
    if (!ks) throw Error(where(k) + ": missing attribute kernel_shape");
    const auto [kh, kw] = square(k, *ks, "kernel_shape");
    if (kh != kw || kh < 1)
      throw Error(where(k) + ": kernel_shape " + dims_str(*ks) + " must be square (this library pools k×k windows)");
    const auto strides = a.ints("strides").value_or(std::vector<std::int64_t>{1, 1});
    const auto [sh, sw] = square(k, strides, "strides");
    if (sh != sw || sh < 1) throw Error(where(k) + ": strides " + dims_str(strides) + " must be equal and positive");
    const std::string auto_pad = a.s("auto_pad", "NOTSET");
    if (auto_pad != "NOTSET" && auto_pad != "VALID")
      throw Error(where(k) + ": auto_pad \"" + auto_pad + "\" is not supported (pools here do not pad)");
    const auto pads = a.ints("pads").value_or(std::vector<std::int64_t>{0, 0, 0, 0});
    if (pads != std::vector<std::int64_t>{0, 0, 0, 0})
      throw Error(where(k) + ": pads " + dims_str(pads) + " are not supported (pools here do not pad)");
    if (op != "LpPool") {
      const auto dil = a.ints("dilations").value_or(std::vector<std::int64_t>{1, 1});
      if (dil != std::vector<std::int64_t>{1, 1})
        throw Error(where(k) + ": dilations " + dims_str(dil) + " are not supported");
      if (a.i("ceil_mode", 0) != 0 && ((shape_.h - kh) % sh != 0 || (shape_.w - kh) % sh != 0))
        throw Error(where(k) + ": ceil_mode 1 is not supported (it changes the output size here)");
    }
    if (op == "MaxPool" && a.i("storage_order", 0) != 0) {
      // storage_order only affects the Indices output, which must be unused (checked by the caller).
    }
    if (op == "AveragePool") (void)a.i("count_include_pad", 0);  // no padding: no difference
    if (op == "LpPool" && a.i("p", 2) != 2)
      throw Error(where(k) + ": p = " + std::to_string(a.i("p", 2)) + " is not supported (only p = 2, l2pool2d)");
    a.finish();
    Pending p;
    if (op == "MaxPool")
      p.layer = std::make_unique<MaxPool2D>(kh, sh);
    else if (op == "AveragePool")
      p.layer = std::make_unique<AvgPool2D>(kh, sh);
    else
      p.layer = std::make_unique<L2Pool2D>(kh, sh);
    return p;
  }

  Pending gemm(int k) {
    const onnx::NodeProto& n = g_.node(k);
    need_rank(k, 2);
    if (n.input_size() < 2 || n.input_size() > 3) throw Error(where(k) + ": expected inputs A, B [, C]");
    Attrs a(n, where(k));
    const float alpha = a.f("alpha", 1.0f), beta = a.f("beta", 1.0f);
    if (a.i("transA", 0) != 0) throw Error(where(k) + ": transA 1 is not supported");
    const std::int64_t transB = a.i("transB", 0);
    if (transB != 0 && transB != 1) throw Error(where(k) + ": transB must be 0 or 1");
    a.finish();
    const onnx::TensorProto& b = constant(k, n.input(1), "B");
    const std::vector<std::int64_t> bd = dims_of(b);
    std::vector<float> bv = float_values(b, where(k) + ": weight \"" + n.input(1) + "\"");
    const std::int64_t F = std::int64_t(shape_.sample_size());
    if (bd.size() != 2 || bd[transB ? 1 : 0] != F || bd[transB ? 0 : 1] < 1)
      throw Error(where(k) + ": weight shape " + dims_str(bd) + " does not fit " + std::to_string(F) +
                  " input features" +
                  (transB ? " (transB = 1: [outputs, inputs])" : " (transB = 0: [inputs, outputs])"));
    const int outs = int(bd[transB ? 0 : 1]);
    std::vector<float> w(bv.size());
    for (std::int64_t j = 0; j < F; ++j)
      for (int o = 0; o < outs; ++o)
        w[std::size_t(j) * outs + o] = alpha * (transB ? bv[std::size_t(o) * F + j] : bv[std::size_t(j) * outs + o]);
    std::vector<float> c(static_cast<std::size_t>(outs), 0.0f);
    if (const onnx::TensorProto* ct = optional_constant(k, 2, "C")) {
      c = broadcast_bias(float_values(*ct, where(k) + ": bias \"" + n.input(2) + "\""), dims_of(*ct), outs,
                         where(k) + ": bias \"" + n.input(2) + "\"");
      for (float& x : c) x *= beta;
    }
    Pending p;
    p.layer = std::make_unique<Dense>(outs);
    p.params = {{"weight", std::move(w)}, {"bias", std::move(c)}};
    return p;
  }

  Pending matmul(int k) {
    const onnx::NodeProto& n = g_.node(k);
    need_rank(k, 2);
    if (n.input_size() != 2) throw Error(where(k) + ": expected inputs A, B");
    Attrs(n, where(k)).finish();
    const onnx::TensorProto& b = constant(k, n.input(1), "B");
    const std::vector<std::int64_t> bd = dims_of(b);
    std::vector<float> bv = float_values(b, where(k) + ": weight \"" + n.input(1) + "\"");
    if (bd.size() != 2 || bd[0] != std::int64_t(shape_.sample_size()) || bd[1] < 1)
      throw Error(where(k) + ": weight shape " + dims_str(bd) + " is not [" + std::to_string(shape_.sample_size()) +
                  ", outputs]");
    Pending p;
    p.layer = std::make_unique<Dense>(int(bd[1]));
    p.params = {{"weight", std::move(bv)}, {"bias", std::vector<float>(std::size_t(bd[1]), 0.0f)}};
    return p;
  }

  // One node → a layer, or nothing (a node that does not move data in this library's layout).
  std::optional<Pending> convert(int k) {
    const onnx::NodeProto& n = g_.node(k);
    const std::string& op = n.op_type();
    auto simple = [&](LayerPtr l) {
      if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
      Pending p;
      p.layer = std::move(l);
      return std::optional<Pending>(std::move(p));
    };
    if (op == "Conv") return conv(k);
    if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") return pool(k, op);
    if (op == "Gemm") return gemm(k);
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
      Attrs(n, where(k)).finish();
      if (op == "Relu") return simple(std::make_unique<ReLU>());
      if (op == "Sigmoid") return simple(std::make_unique<Sigmoid>());
      return simple(std::make_unique<Tanh>());
    }
    if (op == "LeakyRelu") {
      Attrs a(n, where(k));
      const float alpha = a.f("alpha", 0.01f);  // ONNX's default (this library's own default is 0.1)
      a.finish();
      if (!std::isfinite(alpha)) throw Error(where(k) + ": alpha is not finite");
      return simple(std::make_unique<LeakyReLU>(alpha));
    }
    if (op == "Softmax") {
      Attrs a(n, where(k));
      std::int64_t axis = a.i("axis", opset_ >= 13 ? -1 : 1);
      a.finish();
      if (axis < 0) axis += rank_;
      bool ok;
      if (opset_ < 13)
        ok = axis == 1;  // coerced to 2-D at axis 1: softmax over c·h·w
      else if (rank_ == 2)
        ok = axis == 1;
      else
        ok = (axis == 1 && shape_.h * shape_.w == 1) || (axis == 2 && shape_.c * shape_.w == 1) ||
             (axis == 3 && shape_.c * shape_.h == 1);
      if (!ok)
        throw Error(where(k) + ": softmax over axis " + std::to_string(axis) + " of a rank " + std::to_string(rank_) +
                    " tensor " + shape_.sample_str() +
                    " is not supported (this library's softmax is over all c·h·w features)");
      return simple(std::make_unique<Softmax>());
    }
    if (op == "Flatten") {
      Attrs a(n, where(k));
      std::int64_t axis = a.i("axis", 1);
      a.finish();
      if (axis < 0) axis += rank_;
      if (axis != 1) throw Error(where(k) + ": axis " + std::to_string(axis) + " is not supported (only 1)");
      rank_ = 2;
      return simple(std::make_unique<Flatten>());
    }
    if (op == "Dropout") {
      Attrs a(n, where(k));
      float ratio = a.f("ratio", 0.5f);
      (void)a.i("is_test", 0);
      (void)a.i("seed", 0);
      if (opset_ < 7) (void)a.ints("consumed_inputs");
      a.finish();
      if (n.input_size() > 3) throw Error(where(k) + ": too many inputs");
      if (const onnx::TensorProto* r = optional_constant(k, 1, "ratio")) {
        const std::vector<float> v = float_values(*r, where(k) + ": ratio");
        if (v.size() != 1) throw Error(where(k) + ": ratio must be a scalar");
        ratio = v[0];
      }
      if (n.input_size() > 2 && !n.input(2).empty()) {
        const std::vector<std::int64_t> tm =
            constant(k, n.input(2), "training_mode").data_type() == onnx::TensorProto::BOOL
                ? std::vector<std::int64_t>{}
                : int_values(constant(k, n.input(2), "training_mode"), where(k) + ": training_mode");
        (void)tm;  // inference here is always the identity; training uses this library's own dropout
      }
      if (!(ratio >= 0.0f && ratio < 1.0f))
        throw Error(where(k) + ": ratio " + std::to_string(ratio) + " is not in [0, 1)");
      Pending p;
      p.layer = std::make_unique<Dropout>(ratio);
      return p;
    }
    if (op == "Identity") {
      Attrs(n, where(k)).finish();
      if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
      return std::nullopt;
    }
    if (op == "Reshape") {
      Attrs a(n, where(k));
      (void)a.i("allowzero", 0);
      a.finish();
      if (n.input_size() != 2) throw Error(where(k) + ": expected inputs data and shape");
      std::vector<std::int64_t> target = int_values(constant(k, n.input(1), "shape"), where(k) + ": shape");
      const std::vector<std::int64_t> cur = rank_ == 4
                                                ? std::vector<std::int64_t>{-2, shape_.c, shape_.h, shape_.w}
                                                : std::vector<std::int64_t>{-2, std::int64_t(shape_.sample_size())};
      if (target.empty() || (target[0] != 0 && target[0] != -1))
        throw Error(where(k) + ": shape " + dims_str(target) + " must keep the batch dimension (0 or -1 first)");
      std::int64_t known = 1;
      int infer = -1;
      for (std::size_t i = 1; i < target.size(); ++i) {
        if (target[i] == 0) {
          if (i >= cur.size())
            throw Error(where(k) + ": shape " + dims_str(target) + " copies a dimension that does not exist");
          target[i] = cur[i];
        }
        if (target[i] == -1) {
          if (infer >= 0 || target[0] == -1)
            throw Error(where(k) + ": shape " + dims_str(target) + " has more than one -1");
          infer = int(i);
        } else if (target[i] < 1 || target[i] > std::int64_t(kMaxSample)) {
          throw Error(where(k) + ": shape " + dims_str(target) + " has a bad dimension");
        } else {
          known *= target[i];
        }
      }
      const std::int64_t F = std::int64_t(shape_.sample_size());
      if (infer >= 0) {
        if (known <= 0 || F % known)
          throw Error(where(k) + ": shape " + dims_str(target) + " does not fit " + shape_.sample_str());
        target[std::size_t(infer)] = F / known;
        known = F;
      }
      if (known != F) throw Error(where(k) + ": shape " + dims_str(target) + " does not fit " + shape_.sample_str());
      if (target.size() == 2) {
        if (rank_ == 2) return std::nullopt;
        rank_ = 2;
        Pending p;
        p.layer = std::make_unique<Flatten>();
        return p;
      }
      if (target.size() == 4) {
        const bool unchanged = rank_ == 4 && target[1] == shape_.c && target[2] == shape_.h && target[3] == shape_.w;
        const bool unflatten =
            shape_.h == 1 && shape_.w == 1 && target[1] == shape_.c && target[2] == 1 && target[3] == 1;
        if (unchanged || unflatten) {
          rank_ = 4;
          return std::nullopt;
        }
      }
      throw Error(where(k) + ": reshape of " + shape_.sample_str() + " to " + dims_str(target) +
                  " is not supported (only flattening, and [N, F] ↔ [N, F, 1, 1])");
    }
    if (op == "Add") throw Error(where(k) + ": Add is supported only as the bias of a MatMul (MatMul + Add = dense)");
    throw Error(where(k) + ": operator \"" + op +
                "\" is not supported (supported: Conv, MaxPool, AveragePool, LpPool, Gemm, MatMul [+ Add], Relu, "
                "LeakyRelu, Sigmoid, Tanh, Softmax, Flatten, Dropout, Reshape, Identity, Constant)");
  }

  const onnx::ModelProto& m_;
  const onnx::GraphProto& g_;
  std::string src_;
  std::int64_t opset_ = 0;
  std::map<std::string, const onnx::TensorProto*> constants_;
  std::set<int> constant_nodes_;
  std::map<std::string, std::vector<int>> consumers_;
  std::string loss_, output_kind_, name_;
  std::vector<std::string> class_names_;
  int rank_ = 4;
  Shape shape_;
};

// Names in messages come from the file: control bytes are escaped so that an error stays one printable line.
std::string printable(const std::string& s) {
  std::string r;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
      r += buf;
    } else {
      r += char(c);
    }
  }
  return r;
}

}  // namespace

OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& source) {
  onnx::ModelProto m;
  if (bytes.empty()) throw Error(source + ": empty file, not an ONNX model");
  if (bytes.size() > (std::size_t(1) << 31))
    throw Error(source + ": larger than 2 GB (external data is not supported)");
  if (!m.ParseFromString(bytes))
    throw Error(source + ": not an ONNX model (the protobuf data is truncated or damaged)");
  try {
    return Importer(m, source).run();
  } catch (const Error& e) {
    throw Error(printable(e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(source + ": too large to import (out of memory)");
  }
}

OnnxImport import_onnx(const std::string& path) { return import_onnx_bytes(read_file(path), path); }

OnnxTensor parse_onnx_tensor(const std::string& bytes, const std::string& source) {
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes)) throw Error(source + ": not an ONNX TensorProto (truncated or damaged)");
  OnnxTensor r;
  r.name = t.name();
  r.dims = dims_of(t);
  r.values = float_values(t, source);
  return r;
}

OnnxTensor read_onnx_tensor(const std::string& path) { return parse_onnx_tensor(read_file(path), path); }

std::string serialize_onnx_tensor(const OnnxTensor& t) {
  onnx::TensorProto p;
  p.set_name(t.name);
  p.set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : t.dims) p.add_dims(d);
  std::string raw(t.values.size() * 4, '\0');
  if (!t.values.empty()) std::memcpy(raw.data(), t.values.data(), raw.size());
  p.set_raw_data(raw);
  std::string out;
  if (!p.SerializeToString(&out)) throw Error("cannot serialize tensor \"" + t.name + "\"");
  return out;
}

void write_onnx_tensor(const std::string& path, const OnnxTensor& t) {
  write_file_atomically(path, serialize_onnx_tensor(t));
}

Tensor onnx_tensor_to_input(const Network& net, const OnnxTensor& t, const std::string& source) {
  const Shape in = net.input_shape();
  const auto& d = t.dims;
  std::int64_t n = 0;
  if (d.size() == 4 && d[1] == in.c && d[2] == in.h && d[3] == in.w)
    n = d[0];
  else if (d.size() == 3 && d[0] == in.c && d[1] == in.h && d[2] == in.w)
    n = 1;
  else if (d.size() == 2 && d[1] == std::int64_t(in.sample_size()))
    n = d[0];
  else
    throw Error(source + ": tensor shape " + dims_str(d) + " does not fit the network's input " + in.sample_str() +
                " ([N, " + std::to_string(in.c) + ", " + std::to_string(in.h) + ", " + std::to_string(in.w) + "])");
  if (n < 1 || n > (std::int64_t(1) << 20)) throw Error(source + ": batch of " + std::to_string(n) + " samples");
  if (t.values.size() != std::size_t(n) * in.sample_size())
    throw Error(source + ": value count does not match its dims");
  Tensor x(in.with_batch(int(n)));
  std::copy(t.values.begin(), t.values.end(), x.data());
  return x;
}

}  // namespace cnn
