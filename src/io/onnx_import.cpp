// ONNX import: a graph of nodes from the graph's input to its outputs, each turned into layers, every attribute
// honoured or refused by name (conventions in cnn/onnx.h); and TensorProto files. Everything read from the file is
// checked before it is used (types, ranks, sizes against the bytes present, the chain itself), so a damaged file is one
// cnn::Error.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cnn/layers/activation.h"
#include "cnn/layers/batchnorm.h"
#include "cnn/layers/constant.h"
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

constexpr std::int64_t kMaxDim = 1 << 16;                     // any one input dimension
constexpr std::size_t kMaxSample = std::size_t(1) << 24;      // elements of one sample at any layer
constexpr std::size_t kMaxConvWork = std::size_t(1) << 26;    // C_in·kh·kw·H_out·W_out of one convolution
constexpr std::size_t kMaxMapWeights = std::size_t(1) << 24;  // a product imported as one sample's linear map

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

// The values of a FLOAT or DOUBLE tensor as float32, checked against its dims. A constant of the graph (a weight,
// a bias, a scale) must hold finite numbers: a NaN or an infinity there would make every output NaN,
// silently, so it is refused naming the value (a double beyond float's range, which becomes an infinity, too).
// Denormals are kept as they are: finite, and what the exporter wrote. A tensor of data (`cnn run`'s inputs) is
// taken as it is; a bound (Clip's min and max, where an infinity means no bound) may be infinite but not NaN.
enum class Values { constant, bound, data };
std::vector<float> float_values(const onnx::TensorProto& t, const std::string& where, Values kind = Values::constant) {
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
  if (kind != Values::data)
    for (std::size_t i = 0; i < v.size(); ++i)
      if (std::isnan(v[i]) || (kind == Values::constant && std::isinf(v[i])))
        throw Error(where + ": value " + std::to_string(i) + " is " + (std::isnan(v[i]) ? "NaN" : "infinite") +
                    " (a constant of the graph must be a finite float32)");
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
  } else if (t.data_type() == onnx::TensorProto::BOOL || t.data_type() == onnx::TensorProto::UINT8 ||
             t.data_type() == onnx::TensorProto::INT8) {
    // one byte each in raw data, else one int32_data entry each (ONNX's rule for the narrow types)
    const bool is_signed = t.data_type() == onnx::TensorProto::INT8;
    if (t.has_raw_data()) {
      if (t.raw_data().size() != n) throw Error(where + ": raw data size does not match its dims");
      for (char c : t.raw_data()) v.push_back(is_signed ? std::int64_t(std::int8_t(c)) : std::int64_t(std::uint8_t(c)));
    } else {
      if (std::size_t(t.int32_data_size()) != n) throw Error(where + ": data size does not match its dims");
      v.assign(t.int32_data().begin(), t.int32_data().end());
    }
    if (t.data_type() == onnx::TensorProto::BOOL)
      for (auto& b : v) b = b != 0;
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
  // `bound`: an infinity is a meaning (Clip's "no bound"), NaN never is
  float f(const std::string& name, float fallback, bool bound = false) {
    const onnx::AttributeProto* a = get(name, onnx::AttributeProto::FLOAT);
    if (a && (std::isnan(a->f()) || (!bound && std::isinf(a->f()))))
      throw Error(where_ + ": attribute \"" + name + "\" is " + (std::isnan(a->f()) ? "NaN" : "infinite") +
                  " (it must be a finite number)");
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

// A layer waiting to join the network: what it reads (Network::kInput or earlier layers) and its values.
struct Pending {
  LayerPtr layer;
  std::vector<int> inputs;
  std::vector<std::pair<std::string, std::vector<float>>> params;  // name → values in our layout
  std::vector<float> running_mean, running_var;                    // batchnorm2d's buffers
  std::vector<float> values;                                       // a constant layer's
  Shape out;
};

// An ONNX tensor computed by the network: its ONNX dims (the batch included) and the network value holding it. The
// value's data, sample after sample, are the tensor's in row-major order; `net` is its per-sample network shape.
// A value of another element type (Dropout's mask, MaxPool's Indices) can only be a graph output: no layer reads it.
struct Val {
  std::vector<std::int64_t> dims;
  int value = Network::kInput;
  Shape net;
  int type = onnx::TensorProto::FLOAT;
  std::int64_t map_out = 0, map_in = 0;  // MaxPool's Indices: see OnnxPort
};

std::int64_t product(const std::vector<std::int64_t>& d, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to && i < d.size(); ++i) p *= d[i];
  return p;
}

// How many leading dims of `d` make up a batch of N: 1 when the first dim is the batch, else the fewest that do;
// -1 when no prefix does.
int batch_split(const std::vector<std::int64_t>& d, std::int64_t N) {
  if (!d.empty() && d[0] == N) return 1;
  std::int64_t p = 1;
  for (std::size_t b = 0; b <= d.size(); ++b) {
    if (p == N) return int(b);
    if (b < d.size()) p *= d[b];
  }
  return -1;
}

// The network shape of the sample dims d[b…]: (d_b, d_b+1, d_b+2·…), padded with ones.
Shape canonical_shape(const std::vector<std::int64_t>& d, int b) {
  std::vector<std::int64_t> s(d.begin() + b, d.end());
  std::int64_t c = s.size() > 0 ? s[0] : 1, h = s.size() > 1 ? s[1] : 1, w = product(s, 2, s.size());
  return Shape{1, int(c), int(h), int(w)};
}

class Importer {
 public:
  Importer(const onnx::ModelProto& m, std::string source, const std::vector<std::string>& extra)
      : m_(m), g_(m.graph()), src_(std::move(source)), extra_(extra) {}

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
    // The first graph input that is not an initializer is the network's; the others take the tensors given.
    const onnx::ValueInfoProto* input = nullptr;
    std::size_t bound = 0;
    for (const auto& v : g_.input()) {
      if (constants_.count(v.name())) continue;
      if (!input) {
        input = &v;
        continue;
      }
      if (bound >= extra_.size())
        throw Error(src_ + ": graph input \"" + v.name() + "\" has no value; the network reads one input (\"" +
                    input->name() + "\"), so the others must be given (cnn run --input, in the graph's order)");
      onnx::TensorProto& t = bound_.emplace_back();
      if (!t.ParseFromString(extra_[bound]))
        throw Error(src_ + ": the tensor given for input \"" + v.name() + "\" is not a TensorProto");
      constants_[v.name()] = &t;
      ++bound;
    }
    if (!input) throw Error(src_ + ": the graph has no input (every value is a constant)");
    if (bound < extra_.size())
      throw Error(src_ + ": " + std::to_string(extra_.size() + 1) + " inputs given, the graph has " +
                  std::to_string(bound + 1));
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
    order(produced_by);
    input_ = input;
    input_dims_ = input_dims(*input);
    metadata();
    for (int k = 0; k < g_.node_size(); ++k) {
      if (constant_nodes_.count(k)) continue;
      for (const auto& x : g_.node(k).input())
        if (!x.empty()) ++readers_[x];
    }
    for (const auto& o : g_.output()) ++readers_[o.name()];

    // A fixed-size graph may be batched at any leading axis; the first split every node accepts wins, and when none
    // does the error of the natural one (the first axis) is the one worth reading.
    std::vector<std::int64_t> batches;
    if (symbolic_) {
      batches = {kOnnxBatch};
    } else {
      if (!input_dims_.empty()) batches.push_back(input_dims_[0]);
      for (std::size_t b = 0; b <= input_dims_.size(); ++b) {
        const std::int64_t p = product(input_dims_, 0, b);
        if (std::find(batches.begin(), batches.end(), p) == batches.end()) batches.push_back(p);
      }
    }
    std::optional<Error> first;
    for (std::int64_t N : batches) {
      try {
        return build(N);
      } catch (const Error& e) {
        if (!first) first = e;
      }
    }
    throw *first;
  }

 private:
  // ---- the graph as a whole ----------------------------------------------------------------------------------

  // A topological order of the computing nodes (Kahn's, the file's order among the ready ones, so that an exported
  // graph keeps its layer order), after refusing cycles and nodes that no graph output needs.
  void order(const std::map<std::string, int>& produced_by) {
    const int K = g_.node_size();
    std::vector<int> waiting(std::size_t(K), 0);
    std::map<std::string, std::vector<int>> readers;
    for (int k = 0; k < K; ++k) {
      if (constant_nodes_.count(k)) continue;
      for (const auto& x : g_.node(k).input()) {
        const auto p = produced_by.find(x);
        if (x.empty() || p == produced_by.end() || constant_nodes_.count(p->second)) continue;
        ++waiting[std::size_t(k)];
        readers[x].push_back(k);
      }
    }
    std::set<int> ready;
    for (int k = 0; k < K; ++k)
      if (!constant_nodes_.count(k) && waiting[std::size_t(k)] == 0) ready.insert(k);
    while (!ready.empty()) {
      const int k = *ready.begin();
      ready.erase(ready.begin());
      order_.push_back(k);
      for (const auto& out : g_.node(k).output()) {
        const auto r = readers.find(out);
        if (r == readers.end()) continue;
        for (int j : r->second)
          if (--waiting[std::size_t(j)] == 0) ready.insert(j);
      }
    }
    for (int k = 0; k < K; ++k)
      if (!constant_nodes_.count(k) && waiting[std::size_t(k)] > 0)
        throw Error(where(k) + ": the graph has a cycle through this node");
    // Every node must lead to a graph output.
    std::set<int> live;
    std::vector<std::string> todo;
    for (const auto& o : g_.output()) todo.push_back(o.name());
    while (!todo.empty()) {
      const std::string t = todo.back();
      todo.pop_back();
      const auto p = produced_by.find(t);
      if (p == produced_by.end() || !live.insert(p->second).second) continue;
      for (const auto& x : g_.node(p->second).input()) todo.push_back(x);
    }
    for (int k : order_)
      if (!live.count(k)) throw Error(where(k) + ": its output reaches no graph output (a dead node)");
  }

  std::vector<std::int64_t> input_dims(const onnx::ValueInfoProto& v) {
    const std::string w = src_ + ": input \"" + v.name() + "\"";
    if (!v.has_type() || !v.type().has_tensor_type()) throw Error(w + ": not a tensor");
    const auto& tt = v.type().tensor_type();
    if (tt.elem_type() != onnx::TensorProto::FLOAT)
      throw Error(w + ": element type " + std::to_string(tt.elem_type()) + " is not float32");
    if (!tt.has_shape()) throw Error(w + ": no shape");
    const auto& s = tt.shape();
    std::vector<std::int64_t> d;
    for (int i = 0; i < s.dim_size(); ++i) {
      if (i == 0 && !s.dim(0).has_dim_value()) {
        symbolic_ = true;
        d.push_back(kOnnxBatch);
        continue;
      }
      if (!s.dim(i).has_dim_value() || s.dim(i).dim_value() < 1 || s.dim(i).dim_value() > kMaxDim)
        throw Error(w + ": dimension " + std::to_string(i) + " must be a fixed size from 1 to " +
                    std::to_string(kMaxDim) + (i == 0 ? " or symbolic (the batch)" : ""));
      d.push_back(s.dim(i).dim_value());
    }
    if (std::size_t(product(d, symbolic_ ? 1 : 0, d.size())) > kMaxSample)
      throw Error(w + ": " + dims_str(d) + " holds too many values");
    return d;
  }

  OnnxImport build(std::int64_t N) {
    N_ = N;
    layers_.clear();
    vals_.clear();
    const int b = batch_split(input_dims_, N);
    in_ = canonical_shape(input_dims_, b);
    vals_[input_->name()] = Val{input_dims_, Network::kInput, in_};
    for (int k : order_) node(k);

    OnnxImport r{Network(in_), name_, class_names_, false, {}, {}, symbolic_, N, training_mode_};
    r.input = {input_->name(), input_dims_, Network::kInput};
    for (const auto& o : g_.output()) {
      const auto it = vals_.find(o.name());
      if (it == vals_.end())
        throw Error(src_ + ": graph output \"" + o.name() + "\" is a constant or is not computed by any node");
      const Val& v = it->second;
      r.outputs.push_back({o.name(), v.dims, v.value, v.type, v.map_out, v.map_in});
    }
    // The Softmax that export adds for probabilities is the loss's here.
    const int last = int(layers_.size()) - 1;
    if (r.outputs.size() == 1 && last > 0 && r.outputs[0].value == last && layers_.back().layer->kind() == "softmax" &&
        layers_.back().inputs[0] == last - 1 && (output_kind_ == "probabilities" || output_kind_.empty()) &&
        loss_kind() == "softmax_cross_entropy") {
      r.outputs[0].value = last - 1;
      layers_.pop_back();
      r.probabilities_removed = true;
    }
    for (auto& p : layers_) {
      try {
        r.net.add(std::move(p.layer), p.inputs);
      } catch (const Error& e) {
        throw Error(src_ + ": " + e.what());
      }
    }
    for (const OnnxPort& o : r.outputs)  // the graph's other outputs are the network's too
      if (o.value >= 0) r.net.add_output(std::size_t(o.value));
    try {
      r.net.set_loss(make_loss(loss_kind()));
    } catch (const Error& e) {
      throw Error(src_ + ": metadata cnn.loss: " + e.what());
    }
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      for (ParamView& v : r.net.layer(i).params()) {
        const auto it = std::find_if(layers_[i].params.begin(), layers_[i].params.end(),
                                     [&](const auto& q) { return q.first == v.name; });
        if (it == layers_[i].params.end() || it->second.size() != v.value.size())
          throw Error(src_ + ": layer " + std::to_string(i) + " (" + r.net.layer(i).kind() + "): parameter \"" +
                      v.name + "\" has " + std::to_string(it == layers_[i].params.end() ? 0 : it->second.size()) +
                      " values, the layer needs " + std::to_string(v.value.size()));
        std::copy(it->second.begin(), it->second.end(), v.value.data());
      }
      if (auto* cl = dynamic_cast<Constant*>(&r.net.layer(i))) cl->set_values(layers_[i].values);
      if (auto* nl = dynamic_cast<Normalize*>(&r.net.layer(i)))
        nl->set_statistics(layers_[i].running_mean, layers_[i].running_var);
      if (auto* bn = dynamic_cast<BatchNorm2D*>(&r.net.layer(i))) {
        Tensor m = bn->running_mean(), v = bn->running_var();
        std::copy(layers_[i].running_mean.begin(), layers_[i].running_mean.end(), m.data());
        std::copy(layers_[i].running_var.begin(), layers_[i].running_var.end(), v.data());
      }
    }
    return r;
  }

  std::string loss_kind() const { return loss_.empty() ? "softmax_cross_entropy" : loss_; }

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

  // ---- helpers for nodes -------------------------------------------------------------------------------------

  std::string where(int k) const {
    const onnx::NodeProto& n = g_.node(k);
    return src_ + ": node " + std::to_string(k) + (n.name().empty() ? "" : " \"" + n.name() + "\"") + " (" +
           (n.op_type().empty() ? "?" : n.op_type()) + ")";
  }

  bool is_constant(const std::string& name) const { return constants_.count(name) > 0; }

  const onnx::TensorProto& constant(int k, const std::string& name, const std::string& role) {
    const auto it = constants_.find(name);
    if (it == constants_.end())
      throw Error(where(k) + ": input " + role + " \"" + name +
                  "\" is not an initializer or constant (missing initializer, or computed by the graph)");
    return *it->second;
  }
  const onnx::TensorProto* optional_constant(int k, int input, const std::string& role) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() <= input || n.input(input).empty()) return nullptr;
    return &constant(k, n.input(input), role);
  }
  std::optional<float> optional_scalar(int k, int input, const std::string& role, Values kind = Values::constant) {
    const onnx::TensorProto* t = optional_constant(k, input, role);
    if (!t) return std::nullopt;
    const std::vector<float> v = float_values(*t, where(k) + ": " + role, kind);
    if (v.size() != 1) throw Error(where(k) + ": " + role + " must be a scalar, got " + dims_str(dims_of(*t)));
    return v[0];
  }

  // The computed tensor a node reads as data.
  const Val& data(int k, int input = 0) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() <= input || n.input(input).empty())
      throw Error(where(k) + ": input " + std::to_string(input) + " is missing");
    const auto it = vals_.find(n.input(input));
    if (it != vals_.end() && it->second.type != onnx::TensorProto::FLOAT)
      throw Error(where(k) + ": reads \"" + n.input(input) + "\", of element type " + std::to_string(it->second.type) +
                  ", as data (only a graph output may be other than float32)");
    if (it != vals_.end()) return it->second;
    if (is_constant(n.input(input)))
      throw Error(where(k) + ": reads the constant \"" + n.input(input) +
                  "\" as data; a network layer computes from the input, so only weights may be constant");
    throw Error(where(k) + ": input \"" + n.input(input) + "\" is not computed by any node");
  }

  // Whether the node's output o is read by a node or is a graph output.
  bool used(int k, int o) const {
    const onnx::NodeProto& n = g_.node(k);
    return o < n.output_size() && !n.output(o).empty() && readers_.count(n.output(o)) > 0;
  }
  // The node's first output, and `more` its next ones where the node computes them (Dropout's mask, MaxPool's
  // Indices); any other output that is used is refused.
  void set_output(int k, Val v, const std::vector<std::optional<Val>>& more = {}) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.output_size() < 1 || n.output(0).empty()) throw Error(where(k) + ": has no output");
    for (int o = 1; o < n.output_size(); ++o) {
      if (!used(k, o)) continue;
      if (std::size_t(o) > more.size() || !more[std::size_t(o) - 1])
        throw Error(where(k) + ": its output " + std::to_string(o) + " \"" + n.output(o) + "\" is used; " +
                    (n.op_type() == "BatchNormalization" ? "the running statistics a training step updates are not"
                                                         : "only the first output is") +
                    " supported");
      vals_[n.output(o)] = *more[std::size_t(o) - 1];
    }
    if (batch_split(v.dims, N_) < 0)
      throw Error(where(k) + ": its output " + dims_str(v.dims) + " does not keep the batch of " + batch_str() +
                  " in its leading dimensions");
    vals_[n.output(0)] = std::move(v);
  }

  std::string batch_str() const { return N_ == kOnnxBatch ? std::string("N") : std::to_string(N_); }
  std::string dims_s(const std::vector<std::int64_t>& d) const {
    std::string s = "[";
    for (std::size_t i = 0; i < d.size(); ++i) {
      s += i ? ", " : "";
      if (N_ == kOnnxBatch && d[i] % kOnnxBatch == 0)
        s += (d[i] == kOnnxBatch ? std::string("N") : std::to_string(d[i] / kOnnxBatch) + "N");
      else
        s += std::to_string(d[i]);
    }
    return s + "]";
  }

  Shape shape_of(int value) const { return value == Network::kInput ? in_ : layers_.at(std::size_t(value)).out; }

  // Sets the layer up on its inputs' shapes (the check; the network does it again) and queues it.
  int emit(Pending p, int k) {
    try {
      std::vector<Shape> shapes;
      for (int v : p.inputs) shapes.push_back(shape_of(v));
      if (auto* c = dynamic_cast<Conv2D*>(p.layer.get())) {
        // setup() sizes the convolution's workspaces, so its size is bounded first.
        const Shape s = shapes[0];
        const double oh = double(s.h + c->pad_top() + c->pad_bottom()) / c->stride() + 1;
        const double ow = double(s.w + c->pad_left() + c->pad_right()) / c->stride() + 1;
        const double work = double(s.c) * c->kernel_h() * c->kernel_w() * oh * ow;
        if (work > double(kMaxConvWork) || double(c->out_channels()) * oh * ow > double(kMaxSample))
          throw Error("convolution too large to import");
      }
      const Shape out = shapes.size() == 1 ? p.layer->setup(shapes[0]) : p.layer->setup(std::span(shapes));
      if (out.sample_size() > kMaxSample || out.sample_size() == 0)
        throw Error("output " + out.sample_str() + " is too large or empty");
      p.out = out;
    } catch (const Error& e) {
      throw Error(where(k) + ": " + e.what());
    }
    layers_.push_back(std::move(p));
    return int(layers_.size()) - 1;
  }
  Val emit_val(Pending p, int k, std::vector<std::int64_t> dims) {
    const int v = emit(std::move(p), k);
    return Val{std::move(dims), v, layers_[std::size_t(v)].out};
  }
  Val simple(int k, LayerPtr l, const Val& x) {
    Pending p;
    p.layer = std::move(l);
    p.inputs = {x.value};
    return emit_val(std::move(p), k, x.dims);
  }

  // y = a·x + b per channel of x's network shape: a 1×1 convolution with a diagonal kernel.
  Val affine(int k, const Val& x, const std::vector<float>& a, const std::vector<float>& b) {
    const int C = x.net.c;
    if (std::int64_t(C) * C > (std::int64_t(1) << 24))
      throw Error(where(k) + ": an element-wise constant over " + std::to_string(C) + " values would need a " +
                  std::to_string(C) + "x" + std::to_string(C) + " 1x1 convolution");
    std::vector<float> w(std::size_t(C) * C, 0.0f);
    for (int c = 0; c < C; ++c) w[std::size_t(c) * C + c] = a[std::size_t(c)];
    Pending p;
    p.layer = std::make_unique<Conv2D>(C, 1);
    p.inputs = {x.value};
    p.params = {{"weight", std::move(w)}, {"bias", b}};
    return emit_val(std::move(p), k, x.dims);
  }
  Val affine(int k, const Val& x, float a, float b) {
    return affine(k, x, std::vector<float>(std::size_t(x.net.c), a), std::vector<float>(std::size_t(x.net.c), b));
  }
  Val flat(int k, const Val& x) {
    if (x.net.h * x.net.w == 1) return x;
    return simple(k, std::make_unique<Flatten>(), x);
  }

  // A constant broadcast (numpy's rules) against x, as one value per element of a sample; refused when it would
  // grow x or differ from sample to sample.
  std::vector<float> sample_constant(int k, const Val& x, const onnx::TensorProto& t, const std::string& what) {
    const std::vector<float> v = float_values(t, where(k) + ": " + what);
    const std::vector<std::int64_t> cd0 = dims_of(t);
    const std::size_t r = x.dims.size();
    if (cd0.size() > r)
      throw Error(where(k) + ": " + what + " " + dims_str(cd0) + " has a higher rank than the data " + dims_s(x.dims));
    std::vector<std::int64_t> cd(r - cd0.size(), 1);
    cd.insert(cd.end(), cd0.begin(), cd0.end());
    for (std::size_t i = 0; i < r; ++i)
      if (cd[i] != 1 && cd[i] != x.dims[i])
        throw Error(where(k) + ": " + what + " " + dims_str(cd0) + " does not broadcast to the data " + dims_s(x.dims) +
                    " without growing it");
    const int b = batch_split(x.dims, N_);
    for (int i = 0; i < b; ++i)
      if (cd[std::size_t(i)] != 1)
        throw Error(where(k) + ": " + what + " " + dims_str(cd0) + " differs along the batch " + dims_s(x.dims) +
                    " (a layer applies the same constant to every sample)");
    std::vector<std::int64_t> cstride(r, 0);
    for (std::int64_t i = std::int64_t(r) - 1, s = 1; i >= 0; --i) {
      cstride[std::size_t(i)] = cd[std::size_t(i)] == 1 ? 0 : s;
      s *= cd[std::size_t(i)];
    }
    const std::size_t F = x.net.sample_size();
    std::vector<float> out(F);
    std::vector<std::int64_t> idx(r, 0);
    for (std::size_t e = 0; e < F; ++e) {
      std::int64_t off = 0;
      for (std::size_t i = std::size_t(b); i < r; ++i) off += idx[i] * cstride[i];
      out[e] = v[std::size_t(off)];
      for (std::size_t i = r; i-- > std::size_t(b);) {
        if (++idx[i] < x.dims[i]) break;
        idx[i] = 0;
      }
    }
    return out;
  }

  // x + c or x·c for a constant c: folded into the bias of the Dense or Conv2D that computed x when nothing else
  // reads it, else a diagonal 1×1 convolution per channel (or per value, after a Flatten).
  // `xname`: the tensor x came from, when a fold may be tried (empty: never).
  Val with_constant(int k, Val x, const onnx::TensorProto& t, bool mul, const std::string& input_name,
                    const std::string& xname) {
    std::vector<float> v = sample_constant(k, x, t, "constant \"" + input_name + "\"");
    const std::size_t C = std::size_t(x.net.c), HW = std::size_t(x.net.h) * x.net.w;
    bool per_channel = true;
    for (std::size_t c = 0; c < C && per_channel; ++c)
      for (std::size_t j = 1; j < HW; ++j)
        if (v[c * HW + j] != v[c * HW]) {
          per_channel = false;
          break;
        }
    if (per_channel) {
      std::vector<float> pc(C);
      for (std::size_t c = 0; c < C; ++c) pc[c] = v[c * HW];
      v = std::move(pc);
    } else {
      x = flat(k, x);
    }
    if (!mul && !xname.empty() && x.value >= 0 && x.value == int(layers_.size()) - 1 && readers_[xname] == 1) {
      int aliases = 0;
      for (const auto& [name, w] : vals_) aliases += w.value == x.value;
      Pending& p = layers_.back();
      const std::string kind = p.layer->kind();
      if (aliases == 1 && (kind == "dense" || kind == "conv2d") && p.params.size() == 2 &&
          p.params[1].second.size() == v.size()) {
        for (std::size_t i = 0; i < v.size(); ++i) p.params[1].second[i] += v[i];
        return x;
      }
    }
    std::vector<float> a(v.size(), 1.0f), b(v.size(), 0.0f);
    (mul ? a : b) = v;
    return affine(k, x, a, b);
  }

  // The data is an image batch [N, C, H, W] (r = 2 spatial axes) or a batch of signals [N, C, L] (r = 1: each sample
  // a C×L×1 map, so that a 1-D window runs down its rows), laid out as the layers expect.
  void need_images(int k, const Val& x, std::size_t r = 2) {
    if (x.dims.size() != r + 2 || x.dims[0] != N_)
      throw Error(where(k) + ": input " + dims_s(x.dims) + " is not " +
                  (r == 2 ? "an image batch [" + batch_str() + ", C, H, W] (rank 4"
                          : "a batch [" + batch_str() + ", C, L] (rank 3") +
                  ", batch first, for a window of " + std::to_string(r) + " axes)");
    if (x.net.c != x.dims[1] || x.net.h != x.dims[2] || x.net.w != (r == 2 ? x.dims[3] : 1))
      throw Error(where(k) + ": input " + dims_s(x.dims) + " was reshaped from " + x.net.sample_str() +
                  " values that stay in that layout here");
  }
  // The sizes a window of r spatial axes covers, as (rows, columns): a 1-D signal's are (L, 1).
  static std::vector<std::int64_t> out_dims(const Val& x, const Shape& o, std::size_t r) {
    return r == 2 ? std::vector<std::int64_t>{x.dims[0], o.c, o.h, o.w}
                  : std::vector<std::int64_t>{x.dims[0], o.c, o.h};
  }
  // The data has channels at axis 1 after a batch at axis 0 (BatchNormalization, GlobalAveragePool).
  void need_channels(int k, const Val& x) {
    if (x.dims.size() < 2 || x.dims[0] != N_)
      throw Error(where(k) + ": input " + dims_s(x.dims) + " is not [" + batch_str() + ", C, …] (batch first)");
    if (x.net.c != x.dims[1] || std::int64_t(x.net.h) * x.net.w != product(x.dims, 2, x.dims.size()))
      throw Error(where(k) + ": input " + dims_s(x.dims) + " was reshaped from " + x.net.sample_str() +
                  " values that stay in that layout here");
  }

  // An attribute of one value per spatial axis (kernel_shape, strides, dilations) as (rows, columns), each at least
  // 1; a 1-D window's columns are 1.
  std::pair<int, int> per_axis(int k, const std::optional<std::vector<std::int64_t>>& v, std::size_t r,
                               const std::string& what) const {
    if (!v) return {1, 1};
    if (v->size() != r)
      throw Error(where(k) + ": attribute " + what + " = " + dims_str(*v) + " must have " + std::to_string(r) +
                  " value" + (r == 1 ? "" : "s") + ", one per spatial axis of the input");
    for (auto e : *v)
      if (e < 1 || e > kMaxDim)
        throw Error(where(k) + ": attribute " + what + " = " + dims_str(*v) + " must be from 1 to " +
                    std::to_string(kMaxDim));
    return {int((*v)[0]), r == 2 ? int((*v)[1]) : 1};
  }
  int stride_of(int k, Attrs& a, std::size_t r) {
    const auto strides = a.ints("strides");
    const auto [sh, sw] = per_axis(k, strides, r, "strides");
    if (r == 2 && sh != sw)
      throw Error(where(k) + ": strides " + dims_str(*strides) + " must be equal (one stride here)");
    return sh;
  }
  // pads [top, left, bottom, right] from pads or auto_pad, for an input H×W (r = 1: L×1, pads [begin, end]) and a
  // window spanning span_h × span_w pixels, moved by sh × sw.
  Pads pads_of(int k, Attrs& a, std::size_t r, int H, int W, int span_h, int span_w, int sh, int sw) {
    const std::string auto_pad = a.s("auto_pad", "NOTSET");
    const auto pads_attr = a.ints("pads");
    auto same = [&](int size, int span, int s, bool upper) {
      const int out = (size + s - 1) / s;
      const int total = std::max((out - 1) * s + span - size, 0);
      return upper ? std::pair<int, int>{total / 2, total - total / 2}
                   : std::pair<int, int>{total - total / 2, total / 2};
    };
    if (auto_pad == "VALID") return Pads{};
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const auto [t, bo] = same(H, span_h, sh, auto_pad == "SAME_UPPER");
      const auto [l, ri] = same(W, span_w, sw, auto_pad == "SAME_UPPER");
      return Pads{t, l, bo, ri};
    }
    if (auto_pad != "NOTSET") throw Error(where(k) + ": auto_pad \"" + auto_pad + "\" is not supported");
    const std::vector<std::int64_t> p = pads_attr.value_or(std::vector<std::int64_t>(2 * r, 0));
    if (p.size() != 2 * r)
      throw Error(where(k) + ": pads " + dims_str(p) + " must have " + std::to_string(2 * r) + " values (" +
                  std::to_string(r) + " spatial axes)");
    for (auto v : p)
      if (v < 0 || v > kMaxDim)
        throw Error(where(k) + ": pads " + dims_str(p) + " must be from 0 to " + std::to_string(kMaxDim));
    if (r == 1) return Pads{int(p[0]), 0, int(p[1]), 0};
    return Pads{int(p[0]), int(p[1]), int(p[2]), int(p[3])};
  }
  static bool zero(const Pads& p) { return p.top == 0 && p.left == 0 && p.bottom == 0 && p.right == 0; }
  static std::string pads_str(const Pads& p) { return dims_str({p.top, p.left, p.bottom, p.right}); }

  // Zero padding as a 1×1 identity convolution with pads.
  Val zero_pad(int k, const Val& x, const Pads& pads) {
    const int C = x.net.c;
    if (std::int64_t(C) * C > (std::int64_t(1) << 24))
      throw Error(where(k) + ": padding " + std::to_string(C) + " channels would need a " + std::to_string(C) + "x" +
                  std::to_string(C) + " 1x1 convolution");
    std::vector<float> w(std::size_t(C) * C, 0.0f);
    for (int c = 0; c < C; ++c) w[std::size_t(c) * C + c] = 1.0f;
    Pending p;
    p.layer = std::make_unique<Conv2D>(C, 1, 1, pads, false);
    p.inputs = {x.value};
    p.params = {{"weight", std::move(w)}};
    const int v = emit(std::move(p), k);
    const Shape o = layers_[std::size_t(v)].out;
    return Val{out_dims(x, o, x.dims.size() == 3 ? 1 : 2), v, o};
  }

  // ---- the operators -----------------------------------------------------------------------------------------

  void node(int k) {
    const onnx::NodeProto& n = g_.node(k);
    const std::string& op = n.op_type();
    if (op == "Conv") return conv(k);
    if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") return pool(k, op);
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") return global_pool(k, op);
    if (op == "BatchNormalization") return batchnorm(k);
    if (op == "Gemm") return gemm(k);
    if (op == "MatMul") return matmul(k);
    if (op == "Add" || op == "Sum" || op == "Mul") return elementwise(k, op);
    if (op == "Concat") return concat(k);
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "LeakyRelu") return activation(k, op);
    if (op == "Softmax" || op == "LogSoftmax") return softmax(k, op == "LogSoftmax");
    if (op == "Flatten") return flatten(k);
    if (op == "Reshape") return reshape(k);
    if (op == "Dropout") return dropout(k);
    if (op == "Identity") {
      Attrs(n, where(k)).finish();
      if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
      return set_output(k, data(k));
    }
    if (op == "Clip") return clip(k);
    if (op == "Pad") return pad(k);
    throw Error(where(k) + ": operator \"" + op +
                "\" is not supported (supported: Conv, MaxPool, AveragePool, LpPool, GlobalAveragePool, "
                "GlobalMaxPool, BatchNormalization, Gemm, MatMul, Add, Mul, Sum, Concat, Relu, LeakyRelu, Sigmoid, "
                "Tanh, Softmax, LogSoftmax, Flatten, Reshape, Dropout, Identity, Constant, Clip, Pad)");
  }

  void conv(int k) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() < 2 || n.input_size() > 3) throw Error(where(k) + ": expected inputs X, W [, B]");
    const Val x = data(k);
    const onnx::TensorProto& wt = constant(k, n.input(1), "W");
    std::vector<std::int64_t> wd = dims_of(wt);
    std::vector<float> wv = float_values(wt, where(k) + ": weight \"" + n.input(1) + "\"");
    // A 1-D convolution (PyTorch's Conv1d: x [N, C, L], W [C_out, C_in, k]) is the 2-D one of a k×1 kernel down the
    // rows of the C×L×1 sample.
    const std::size_t r = wd.size() == 3 ? 1 : 2;
    if (r == 1) wd.push_back(1);
    need_images(k, x, r);
    if (wd.size() != 4 || wd[0] < 1 || wd[2] < 1 || wd[3] < 1 || wd[0] > kMaxDim || wd[2] > kMaxDim || wd[3] > kMaxDim)
      throw Error(where(k) + ": weight shape " + dims_str(dims_of(wt)) +
                  " is not [C_out, C_in, kh, kw] or [C_out, C_in, k]");
    Attrs a(n, where(k));
    const std::int64_t group = a.i("group", 1);
    if (group != 1)
      throw Error(where(k) + ": attribute group = " + std::to_string(group) +
                  " is not supported (grouped and depthwise convolutions have no layer here)");
    if (wd[1] != x.net.c)
      throw Error(where(k) + ": weight shape " + dims_str(wd) + " expects " + std::to_string(wd[1]) +
                  " input channels, the input has " + std::to_string(x.net.c));
    const auto ks = a.ints("kernel_shape");
    const std::vector<std::int64_t> kernel(wd.begin() + 2, wd.begin() + 2 + std::ptrdiff_t(r));
    if (ks && *ks != kernel)
      throw Error(where(k) + ": kernel_shape " + dims_str(*ks) + " does not match the weight " + dims_str(dims_of(wt)));
    const int s = stride_of(k, a, r);
    const auto dil = a.ints("dilations");
    if (per_axis(k, dil, r, "dilations") != std::pair{1, 1})
      throw Error(where(k) + ": attribute dilations = " + dims_str(*dil) + " is not supported (no dilated conv2d)");
    const Pads pads = pads_of(k, a, r, x.net.h, x.net.w, int(wd[2]), int(wd[3]), s, r == 2 ? s : 1);
    a.finish();
    std::vector<float> bv(static_cast<std::size_t>(wd[0]), 0.0f);
    if (const onnx::TensorProto* b = optional_constant(k, 2, "B")) {
      bv = float_values(*b, where(k) + ": bias \"" + n.input(2) + "\"");
      if (b->dims_size() != 1 || bv.size() != std::size_t(wd[0]))
        throw Error(where(k) + ": bias shape " + dims_str(dims_of(*b)) + " is not [" + std::to_string(wd[0]) + "]");
    }
    // `same` when the pads are the ones it would choose, so that an exported model reads back as it was.
    Pads same_pads{};
    {
      const int oh = (x.net.h + s - 1) / s, ow = (x.net.w + s - 1) / s;
      const int th = std::max((oh - 1) * s + int(wd[2]) - x.net.h, 0),
                tw = std::max((ow - 1) * s + int(wd[3]) - x.net.w, 0);
      same_pads = Pads{th / 2, tw / 2, th - th / 2, tw - tw / 2};
    }
    Pending p;
    const KernelSize kk{int(wd[2]), int(wd[3])};
    if (zero(pads))
      p.layer = std::make_unique<Conv2D>(int(wd[0]), kk, s, Padding::valid);
    else if (pads_str(pads) == pads_str(same_pads))
      p.layer = std::make_unique<Conv2D>(int(wd[0]), kk, s, Padding::same);
    else
      p.layer = std::make_unique<Conv2D>(int(wd[0]), kk, s, pads);
    p.inputs = {x.value};
    p.params = {{"weight", std::move(wv)}, {"bias", std::move(bv)}};
    const int v = emit(std::move(p), k);
    const Shape o = layers_[std::size_t(v)].out;
    set_output(k, Val{out_dims(x, o, r), v, o});
  }

  // MaxPool, AveragePool and LpPool over 1 or 2 spatial axes, any window (rectangular, dilated, each axis its own
  // stride) as Pool2D takes it.
  void pool(int k, const std::string& op) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
    const Val x0 = data(k);
    Attrs a(n, where(k));
    const auto ks = a.ints("kernel_shape");
    if (!ks) throw Error(where(k) + ": missing attribute kernel_shape");
    if (ks->size() == 3)
      throw Error(where(k) + ": attribute kernel_shape = " + dims_str(*ks) +
                  " is not supported (3-D pooling: a volume [N, C, D, H, W] has no layer here, whose samples are "
                  "C×H×W maps)");
    if (ks->size() != 1 && ks->size() != 2)
      throw Error(where(k) + ": attribute kernel_shape = " + dims_str(*ks) + " must have 1 or 2 values");
    const std::size_t r = ks->size();
    need_images(k, x0, r);
    PoolWindow win;
    std::tie(win.kh, win.kw) = per_axis(k, ks, r, "kernel_shape");
    std::tie(win.sh, win.sw) = per_axis(k, a.ints("strides"), r, "strides");
    if (op != "LpPool") std::tie(win.dh, win.dw) = per_axis(k, a.ints("dilations"), r, "dilations");
    const bool include_pad = op == "AveragePool" && a.i("count_include_pad", 0) != 0;
    Pads pads = pads_of(k, a, r, x0.net.h, x0.net.w, win.span_h(), win.span_w(), win.sh, win.sw);
    if (op != "LpPool" && a.i("ceil_mode", 0) != 0) {
      // ceil_mode only matters when a last, partial window exists. Max pooling takes it as more −∞ padding at the
      // bottom and right, and the uncounted average as more uncounted padding, as long as the window starts inside
      // the input (PyTorch's and ONNX's rule).
      const int H = x0.net.h + pads.top + pads.bottom, W = x0.net.w + pads.left + pads.right;
      const auto extra = [](int total, int pad_before, int in, int span, int st) {
        const int e = (st - (total - span) % st) % st;
        return e && ((total + e - span) / st) * st - pad_before >= in ? 0 : e;
      };
      if (op == "MaxPool" || !include_pad) {
        pads.bottom += extra(H, pads.top, x0.net.h, win.span_h(), win.sh);
        pads.right += extra(W, pads.left, x0.net.w, win.span_w(), win.sw);
      } else if ((H - win.span_h()) % win.sh != 0 || (W - win.span_w()) % win.sw != 0) {
        throw Error(where(k) + ": attribute ceil_mode = 1 is not supported where it adds a partial window (" +
                    std::to_string(H) + "x" + std::to_string(W) + ", window " + dims_str(*ks) + "): the average " +
                    "that counts its padding keeps whole windows");
      }
    }
    const std::int64_t storage_order = op == "MaxPool" ? a.i("storage_order", 0) : 0;  // orders only Indices
    if (storage_order != 0 && storage_order != 1)
      throw Error(where(k) + ": attribute storage_order = " + std::to_string(storage_order) +
                  " must be 0 (rows) or 1 (columns)");
    const std::int64_t p_norm = op == "LpPool" ? a.i("p", 2) : 2;
    a.finish();
    if (p_norm != 2)
      throw Error(where(k) + ": attribute p = " + std::to_string(p_norm) + " is not supported (only p = 2, l2pool2d)");
    Val x = x0;
    // Max pooling pads with −∞ itself and the uncounted average skips the padding; zeros change neither Σx² nor the
    // average that counts them.
    const bool pads_itself = op == "MaxPool" || (op == "AveragePool" && !include_pad);
    if (!zero(pads) && !pads_itself) x = zero_pad(k, x0, pads);
    Pending p;
    if (op == "MaxPool")
      p.layer = std::make_unique<MaxPool2D>(win, pads);
    else if (op == "AveragePool")
      p.layer = std::make_unique<AvgPool2D>(win, include_pad ? Pads{} : pads);
    else
      p.layer = std::make_unique<L2Pool2D>(win);
    p.inputs = {x.value};
    std::optional<Val> indices;  // added first, so that the pooled maps stay the last layer's output
    if (op == "MaxPool" && used(k, 1)) {
      // ONNX counts an index from the start of the batch: run_onnx adds (n·C + c)·H·W to the layer's index in
      // its map.
      Pending q;
      q.layer = std::make_unique<MaxPoolIndices>(
          win, pads, storage_order ? MaxPoolIndices::Order::columns : MaxPoolIndices::Order::rows);
      q.inputs = {x.value};
      const int iv = emit(std::move(q), k);
      const Shape o = layers_[std::size_t(iv)].out;
      indices = Val{out_dims(x0, o, r),
                    iv,
                    o,
                    onnx::TensorProto::INT64,
                    std::int64_t(o.h) * o.w,
                    std::int64_t(x0.net.h) * x0.net.w};
    }
    const int v = emit(std::move(p), k);
    const Shape o = layers_[std::size_t(v)].out;
    set_output(k, Val{out_dims(x0, o, r), v, o}, {indices});
  }

  void global_pool(int k, const std::string& op) {
    const onnx::NodeProto& n = g_.node(k);
    Attrs(n, where(k)).finish();
    if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
    const Val x = data(k);
    need_channels(k, x);
    std::vector<std::int64_t> dims(x.dims.size(), 1);
    dims[0] = x.dims[0], dims[1] = x.dims[1];
    Pending p;
    if (op == "GlobalAveragePool") {
      p.layer = std::make_unique<GlobalAvgPool2D>();
    } else {
      p.layer = std::make_unique<MaxPool2D>(PoolWindow{x.net.h, x.net.w, x.net.h, x.net.w});
    }
    p.inputs = {x.value};
    set_output(k, emit_val(std::move(p), k, dims));
  }

  void batchnorm(int k) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() != 5) throw Error(where(k) + ": expected inputs X, scale, B, mean, var");
    const Val x = data(k);
    Attrs a(n, where(k));
    const float eps = a.f("epsilon", 1e-5f);
    const float momentum = a.f("momentum", 0.9f);
    if (opset_ < 9 && a.i("spatial", 1) != 1)
      throw Error(where(k) + ": attribute spatial = 0 is not supported (statistics per channel only)");
    if (opset_ < 7) (void)a.i("is_test", 0);
    if (opset_ < 6) (void)a.ints("consumed_inputs");
    // training: from the attribute (opset 14 on), or, before it, from the outputs a training graph asks for (the
    // updated running statistics and the batch's, whose use set_output refuses)
    const bool training = a.i("training_mode", 0) != 0 || (opset_ < 14 && n.output_size() > 1);
    training_mode_ = training_mode_ || training;
    a.finish();
    need_channels(k, x);
    const std::size_t C = std::size_t(x.net.c);
    std::vector<std::vector<float>> v;
    const char* names[] = {"scale", "B", "mean", "var"};
    for (int i = 1; i <= 4; ++i) {
      const onnx::TensorProto& t = constant(k, n.input(i), names[i - 1]);
      v.push_back(float_values(t, where(k) + ": " + names[i - 1] + " \"" + n.input(i) + "\""));
      if (v.back().size() != C)
        throw Error(where(k) + ": " + names[i - 1] + " " + dims_str(dims_of(t)) + " does not have " +
                    std::to_string(C) + " values (one per channel)");
    }
    for (float var : v[3])
      if (!(var >= 0.0f)) throw Error(where(k) + ": var has a negative or NaN value");
    Pending p;
    p.inputs = {x.value};
    const bool plain = std::all_of(v[0].begin(), v[0].end(), [](float s) { return s == 1.0f; }) &&
                       std::all_of(v[1].begin(), v[1].end(), [](float s) { return s == 0.0f; });
    if (!training && eps == 0.0f && plain && std::all_of(v[3].begin(), v[3].end(), [](float s) { return s > 0.0f; })) {
      // (x − μ)/σ: the normalize layer that export writes this way.
      std::vector<float> sd(C);
      for (std::size_t c = 0; c < C; ++c) sd[c] = std::sqrt(v[3][c]);
      p.layer = std::make_unique<Normalize>(v[2], sd);
      p.running_mean = v[2];
      p.running_var = sd;
      return set_output(k, emit_val(std::move(p), k, x.dims));
    }
    if (!(eps > 0.0f) || !std::isfinite(eps))
      throw Error(where(k) + ": attribute epsilon = " + std::to_string(eps) + " is not supported (must be positive)");
    if (!(momentum >= 0.0f && momentum <= 1.0f))
      throw Error(where(k) + ": attribute momentum = " + std::to_string(momentum) + " is not in [0, 1]");
    p.layer = std::make_unique<BatchNorm2D>(1.0f - momentum, eps);
    p.params = {{"gamma", v[0]}, {"beta", v[1]}};
    p.running_mean = v[2];
    p.running_var = v[3];
    set_output(k, emit_val(std::move(p), k, x.dims));
  }

  // A linear map of each whole sample as a dense layer: w[i·outs + o] is the weight from input value i (the sample's
  // values in order) to output value o. The route for products that do not keep one sample per row (a transposed
  // A, a bias per row, batched matrices): exact, and bounded in size, since the weight holds every pair.
  std::int64_t checked_map(int k, std::int64_t ins, std::int64_t outs, const std::string& what) {
    if (double(ins) * double(outs) > double(kMaxMapWeights))
      throw Error(where(k) + ": " + what + " is not supported at this size: as one linear map of a sample of " +
                  std::to_string(ins) + " values it would need " + std::to_string(ins) + "x" + std::to_string(outs) +
                  " weights");
    return ins * outs;
  }
  Val linear_map(int k, const Val& x, int outs, std::vector<float> w, std::vector<float> bias,
                 std::vector<std::int64_t> dims) {
    Pending p;
    p.layer = std::make_unique<Dense>(outs);
    p.inputs = {x.value};
    p.params = {{"weight", std::move(w)}, {"bias", std::move(bias)}};
    return emit_val(std::move(p), k, std::move(dims));
  }

  // Y = α·A'·B' + β·C (A' = Aᵀ with transA, B' = Bᵀ with transB). With one sample per row of A, a dense layer
  // holding α·B'; when the whole of A is one sample (a transposed A, or a C that differs from row to row), the
  // linear map of that sample.
  void gemm(int k) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() < 2 || n.input_size() > 3) throw Error(where(k) + ": expected inputs A, B [, C]");
    const Val x = data(k);
    Attrs a(n, where(k));
    const float alpha = a.f("alpha", 1.0f), beta = a.f("beta", 1.0f);
    const std::int64_t transA = a.i("transA", 0), transB = a.i("transB", 0);
    if (opset_ < 7) (void)a.i("broadcast", 0);
    a.finish();
    if (transA != 0 && transA != 1) throw Error(where(k) + ": attribute transA must be 0 or 1");
    if (transB != 0 && transB != 1) throw Error(where(k) + ": attribute transB must be 0 or 1");
    const int split = x.dims.size() == 2 ? batch_split(x.dims, N_) : -1;
    const bool rows = split == 1 && x.dims[0] == N_, whole = split == 0;
    if (!rows && !whole) throw Error(where(k) + ": input A " + dims_s(x.dims) + " is not [" + batch_str() + ", K]");
    if (rows && transA)
      throw Error(where(k) + ": attribute transA = 1 is not supported on A " + dims_s(x.dims) +
                  " batched by rows (it transposes the data, which holds one sample per row here)");
    const onnx::TensorProto& b = constant(k, n.input(1), "B");
    const std::vector<std::int64_t> bd = dims_of(b);
    const std::vector<float> bv = float_values(b, where(k) + ": weight \"" + n.input(1) + "\"");
    const std::int64_t M = transA ? x.dims[1] : x.dims[0], F = transA ? x.dims[0] : x.dims[1];
    if (bd.size() != 2 || bd[transB ? 1 : 0] != F || bd[transB ? 0 : 1] < 1)
      throw Error(where(k) + ": weight shape " + dims_str(bd) + " does not fit " + std::to_string(F) +
                  " input features" +
                  (transB ? " (transB = 1: [outputs, inputs])" : " (transB = 0: [inputs, outputs])"));
    const int outs = int(bd[transB ? 0 : 1]);
    const auto B = [&](std::int64_t j, std::int64_t o) {
      return alpha * (transB ? bv[std::size_t(o * F + j)] : bv[std::size_t(j * outs + o)]);
    };
    const std::vector<std::int64_t> dims{M, outs};
    const std::int64_t per = rows ? 1 : M;  // rows of A' in one sample
    std::vector<float> c(std::size_t(per * outs), 0.0f);
    if (const onnx::TensorProto* ct = optional_constant(k, 2, "C")) {
      Val y{dims, 0, Shape{1, int(per * outs), 1, 1}};
      c = sample_constant(k, y, *ct, "bias C \"" + n.input(2) + "\"");
      for (float& e : c) e *= beta;
    }
    if (whole) (void)checked_map(k, per * F, per * outs, "Gemm of A " + dims_s(x.dims));
    std::vector<float> w(std::size_t(per * F * per * outs));
    for (std::int64_t m = 0; m < per; ++m)
      for (std::int64_t j = 0; j < F; ++j) {
        const std::int64_t in = rows ? j : transA ? j * M + m : m * F + j;
        for (int o = 0; o < outs; ++o) w[std::size_t(in * per * outs + m * outs + o)] = B(j, o);
      }
    set_output(k, linear_map(k, x, int(per * outs), std::move(w), std::move(c), dims));
  }

  // Y = A·B with numpy's broadcasting of the matrices' leading dims. One sample per row of A (B a matrix): a dense
  // layer holding B. Otherwise each sample is a stack of matrices, and the product is that sample's linear map,
  // which needs B the same for every sample of the batch.
  void matmul(int k) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() != 2) throw Error(where(k) + ": expected inputs A, B");
    Attrs(n, where(k)).finish();
    const Val x = data(k);
    const onnx::TensorProto& b = constant(k, n.input(1), "B");
    std::vector<std::int64_t> bd = dims_of(b);
    std::vector<float> bv = float_values(b, where(k) + ": weight \"" + n.input(1) + "\"");
    const std::size_t r = x.dims.size();
    if (r < 2) throw Error(where(k) + ": input A " + dims_s(x.dims) + " of rank 1 is not supported (A needs rows)");
    const bool vector_b = bd.size() == 1;
    if (vector_b) bd.push_back(1);
    const std::int64_t M = x.dims[r - 2], K = x.dims[r - 1], Nb = bd.back();
    if (bd.size() < 2 || bd[bd.size() - 2] != K || Nb < 1)
      throw Error(where(k) + ": weight shape " + dims_str(dims_of(b)) + " does not fit A " + dims_s(x.dims) +
                  " (it needs " + std::to_string(K) + " rows)");
    std::vector<std::int64_t> dims(x.dims.begin(), x.dims.end() - 1);
    if (!vector_b) dims.push_back(Nb);
    // B's leading dims, right-aligned against A's and broadcast with them (A's may grow, not the batch).
    std::vector<std::int64_t> bb(bd.begin(), bd.end() - 2);
    while (!bb.empty() && bb.front() == 1 && bb.size() > r - 2) bb.erase(bb.begin());
    if (bb.size() > r - 2)
      throw Error(where(k) + ": B " + dims_str(dims_of(b)) + " has more leading dims than A " + dims_s(x.dims) +
                  " (a broadcast A is not supported)");
    bb.insert(bb.begin(), r - 2 - bb.size(), 1);
    std::vector<std::int64_t> ob(x.dims.begin(), x.dims.end() - 2);
    for (std::size_t i = 0; i < r - 2; ++i) {
      if (bb[i] != 1 && ob[i] != 1 && bb[i] != ob[i])
        throw Error(where(k) + ": A " + dims_s(x.dims) + " and B " + dims_str(dims_of(b)) + " do not broadcast");
      ob[i] = std::max(ob[i], bb[i]);
      dims[i] = ob[i];
    }
    const int split = batch_split(x.dims, N_);
    const bool plain_b = std::all_of(bb.begin(), bb.end(), [](std::int64_t e) { return e == 1; });
    if (split == int(r) - 1 && plain_b) {  // one sample per row
      Pending p;
      p.layer = std::make_unique<Dense>(int(Nb));
      p.inputs = {x.value};
      p.params = {{"weight", std::move(bv)}, {"bias", std::vector<float>(std::size_t(Nb), 0.0f)}};
      return set_output(k, emit_val(std::move(p), k, dims));
    }
    const std::size_t s = std::size_t(split);
    if (split < 0 || s > r - 2 || product(ob, 0, s) != N_ ||
        std::any_of(bb.begin(), bb.begin() + std::ptrdiff_t(std::min(s, bb.size())),
                    [](std::int64_t e) { return e != 1; }))
      throw Error(where(k) + ": A " + dims_s(x.dims) + " times B " + dims_str(dims_of(b)) +
                  " is not supported: B differs along the batch of " + batch_str() +
                  " (a layer applies the same weights to every sample)");
    // Within a sample: for each output matrix (its index over ob[s…]), A's and B's matrices by broadcasting.
    const std::int64_t ins = product(x.dims, s, r), outs = product(ob, s, ob.size()) * M * Nb;
    std::vector<float> w(std::size_t(checked_map(k, ins, outs, "MatMul of A " + dims_s(x.dims))), 0.0f);
    const std::int64_t mats = product(ob, s, ob.size());
    std::vector<std::int64_t> idx(ob.size(), 0);
    for (std::int64_t t = 0; t < mats; ++t) {
      std::int64_t ai = 0, bi = 0;
      for (std::size_t i = s; i < ob.size(); ++i) {
        ai = ai * x.dims[i] + (x.dims[i] == 1 ? 0 : idx[i]);
        bi = bi * bb[i] + (bb[i] == 1 ? 0 : idx[i]);
      }
      for (std::int64_t m = 0; m < M; ++m)
        for (std::int64_t j = 0; j < K; ++j)
          for (std::int64_t o = 0; o < Nb; ++o)
            w[std::size_t(((ai * M + m) * K + j) * outs + (t * M + m) * Nb + o)] =
                bv[std::size_t((bi * K + j) * Nb + o)];
      for (std::size_t i = ob.size(); i-- > s;) {
        if (++idx[i] < ob[i]) break;
        idx[i] = 0;
      }
    }
    set_output(k, linear_map(k, x, int(outs), std::move(w), std::vector<float>(std::size_t(outs), 0.0f), dims));
  }

  void elementwise(int k, const std::string& op) {
    const onnx::NodeProto& n = g_.node(k);
    Attrs(n, where(k)).finish();  // opset < 7's broadcast/axis are refused here
    if (op != "Sum" && n.input_size() != 2) throw Error(where(k) + ": expected two inputs");
    if (n.input_size() < 1) throw Error(where(k) + ": expected inputs");
    std::vector<int> computed;
    std::vector<int> constants;
    for (int i = 0; i < n.input_size(); ++i) (vals_.count(n.input(i)) ? computed : constants).push_back(i);
    if (computed.empty()) {
      (void)data(k, 0);  // the one-line error for a constant or a missing input
    }
    Val x = vals_.at(n.input(computed[0]));
    if (computed.size() > 1) {
      if (op == "Mul")
        throw Error(where(k) + ": Mul of two computed tensors is not supported (no element-wise product layer)");
      Pending p;
      p.layer = std::make_unique<Add>();
      for (int i : computed) {
        const Val& y = vals_.at(n.input(i));
        if (y.dims != x.dims)
          throw Error(where(k) + ": adds " + dims_s(x.dims) + " and " + dims_s(y.dims) +
                      "; broadcasting between computed tensors is not supported (add takes equal shapes)");
        if (!y.net.same_sample(x.net))
          throw Error(where(k) + ": adds tensors laid out as " + x.net.sample_str() + " and " + y.net.sample_str());
        p.inputs.push_back(y.value);
      }
      x = emit_val(std::move(p), k, x.dims);
    }
    std::string xname = computed.size() == 1 ? n.input(computed[0]) : std::string();
    for (int i : constants) {
      x = with_constant(k, x, constant(k, n.input(i), "constant"), op == "Mul", n.input(i), xname);
      xname.clear();
    }
    set_output(k, x);
  }

  void concat(int k) {
    const onnx::NodeProto& n = g_.node(k);
    Attrs a(n, where(k));
    const std::int64_t given = a.i("axis", opset_ < 4 ? 1 : std::numeric_limits<std::int64_t>::min());
    a.finish();
    if (given == std::numeric_limits<std::int64_t>::min()) throw Error(where(k) + ": missing attribute axis");
    if (n.input_size() < 1) throw Error(where(k) + ": expected inputs");
    // The first computed input sets the batch and the layout; a constant input joins as a constant layer.
    int first = -1;
    for (int i = 0; i < n.input_size() && first < 0; ++i)
      if (vals_.count(n.input(i))) first = i;
    if (first < 0) (void)data(k, 0);  // the one-line error for a constant or a missing input
    const Val x0 = vals_.at(n.input(first));
    const std::int64_t r = std::int64_t(x0.dims.size());
    const std::int64_t axis = given < 0 ? given + r : given;
    if (axis < 0 || axis >= r) throw Error(where(k) + ": axis " + std::to_string(given) + " out of range");
    if (n.input_size() == 1) return set_output(k, x0);
    const int b = batch_split(x0.dims, N_);
    if (b < 0 || b > axis)
      throw Error(where(k) + ": concatenation of " + dims_s(x0.dims) + " along axis " + std::to_string(given) +
                  " joins samples of the batch of " + batch_str() + " (a concat layer joins within each sample)");
    // Each sample is `outer` blocks, each input adding a run of its length × `inner` values: the layer's axis with
    // the same blocks and runs (1 channels, 2 rows, 3 columns of the network shape).
    const std::int64_t outer = product(x0.dims, std::size_t(b), std::size_t(axis));
    const std::int64_t inner = product(x0.dims, std::size_t(axis) + 1, std::size_t(r));
    const std::int64_t len = x0.dims[std::size_t(axis)];
    const Shape s = x0.net;
    int layer_axis = 0;
    if (outer == 1 && len == s.c && inner == std::int64_t(s.h) * s.w)
      layer_axis = 1;
    else if (outer == s.c && len == s.h && inner == s.w)
      layer_axis = 2;
    else if (outer == std::int64_t(s.c) * s.h && len == s.w && inner == 1)
      layer_axis = 3;
    else
      throw Error(where(k) + ": concatenation of " + dims_s(x0.dims) + " along axis " + std::to_string(given) +
                  " is not supported: laid out as " + s.sample_str() +
                  ", it is not along the channels, rows or columns the concat layer joins");
    std::vector<std::int64_t> dims = x0.dims;
    dims[std::size_t(axis)] = 0;
    Pending p;
    p.layer = std::make_unique<Concat>(layer_axis);
    for (int i = 0; i < n.input_size(); ++i) {
      const auto it = vals_.find(n.input(i));
      const bool computed = it != vals_.end();
      const std::string role = "input " + std::to_string(i);
      const onnx::TensorProto* t = computed ? nullptr : &constant(k, n.input(i), role);
      const std::vector<std::int64_t> d = computed ? it->second.dims : dims_of(*t);
      if (std::int64_t(d.size()) != r) throw Error(where(k) + ": inputs of different ranks");
      for (std::int64_t j = 0; j < r; ++j)
        if (j != axis && d[std::size_t(j)] != x0.dims[std::size_t(j)])
          throw Error(where(k) + ": inputs " + dims_s(x0.dims) + " and " + dims_s(d) + " differ outside axis " +
                      std::to_string(given));
      int value = computed ? it->second.value : 0;
      if (!computed) {
        if (d[std::size_t(axis)] < 1) throw Error(where(k) + ": " + role + " is empty (not supported)");
        const std::vector<float> v = float_values(*t, where(k) + ": " + role + " \"" + n.input(i) + "\"");
        // A layer gives every sample the same constant: the batch's samples must be equal.
        const std::size_t F = std::size_t(product(d, std::size_t(b), d.size()));
        for (std::size_t e = F; e < v.size(); ++e)
          if (v[e] != v[e % F])
            throw Error(where(k) + ": constant " + role + " " + dims_str(d) + " differs along the batch " +
                        dims_s(x0.dims) + " (a layer gives every sample the same constant)");
        Shape cs = s;
        (layer_axis == 1 ? cs.c : layer_axis == 2 ? cs.h : cs.w) = int(d[std::size_t(axis)]);
        Pending c;
        c.layer = std::make_unique<Constant>(cs);
        c.inputs = {Network::kInput};
        c.values.assign(v.begin(), v.begin() + std::ptrdiff_t(F));
        value = emit(std::move(c), k);
      }
      dims[std::size_t(axis)] += d[std::size_t(axis)];
      p.inputs.push_back(value);
    }
    set_output(k, emit_val(std::move(p), k, dims));
  }

  void activation(int k, const std::string& op) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
    Attrs a(n, where(k));
    const float alpha = op == "LeakyRelu" ? a.f("alpha", 0.01f) : 0.0f;  // ONNX's default (this library's is 0.1)
    if (opset_ < 6) (void)a.ints("consumed_inputs");
    a.finish();
    if (!std::isfinite(alpha)) throw Error(where(k) + ": attribute alpha is not finite");
    const Val x = data(k);
    LayerPtr l;
    if (op == "Relu")
      l = std::make_unique<ReLU>();
    else if (op == "Sigmoid")
      l = std::make_unique<Sigmoid>();
    else if (op == "Tanh")
      l = std::make_unique<Tanh>();
    else
      l = std::make_unique<LeakyReLU>(alpha);
    set_output(k, simple(k, std::move(l), x));
  }

  // Softmax, or LogSoftmax (`log`): the same axis rules.
  void softmax(int k, bool log) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
    Attrs a(n, where(k));
    const std::int64_t given = a.i("axis", opset_ >= 13 ? -1 : 1);
    a.finish();
    const Val x = data(k);
    const std::int64_t r = std::int64_t(x.dims.size());
    const std::int64_t axis = given < 0 ? given + r : given;
    if (axis < 0 || axis >= std::max<std::int64_t>(r, 1))
      throw Error(where(k) + ": axis " + std::to_string(given) + " is out of range for " + dims_s(x.dims));
    // The values one softmax covers, per sample: `outer` blocks of `inner` lines of `len` values (opset 13 on: that
    // axis alone; before it, that axis and all after it as one). The layer's axis with the same lines computes it.
    const int b = batch_split(x.dims, N_);
    if (b < 0 || b > axis)
      throw Error(where(k) + ": axis " + std::to_string(given) + " of " + dims_s(x.dims) +
                  " normalises across the batch of " + batch_str() + " (a softmax layer works within each sample)");
    const std::int64_t outer = product(x.dims, std::size_t(b), std::size_t(axis));
    const std::int64_t len =
        opset_ >= 13 ? x.dims[std::size_t(axis)] : product(x.dims, std::size_t(axis), x.dims.size());
    const std::int64_t inner = opset_ >= 13 ? product(x.dims, std::size_t(axis) + 1, x.dims.size()) : 1;
    const std::int64_t C = x.net.c, H = x.net.h, W = x.net.w;
    const std::int64_t layouts[4][3] = {{1, C * H * W, 1}, {1, C, H * W}, {C, H, W}, {C * H, W, 1}};
    int layer_axis = -1;
    for (int l = 0; l < 4 && layer_axis < 0; ++l)
      if (layouts[l][0] == outer && layouts[l][1] == len && layouts[l][2] == inner) layer_axis = l;
    if (layer_axis < 0)
      throw Error(where(k) + ": axis " + std::to_string(given) + " of " + dims_s(x.dims) + " (opset " +
                  std::to_string(opset_) + (opset_ >= 13 ? ": that axis alone" : ": that axis and all after it") +
                  ") is not supported: the " + (log ? "log_" : "") + "softmax layer normalises a whole sample " +
                  x.net.sample_str() + " or its channels, rows or columns");
    if (log)
      set_output(k, simple(k, std::make_unique<LogSoftmax>(layer_axis), x));
    else
      set_output(k, simple(k, std::make_unique<Softmax>(layer_axis), x));
  }

  void flatten(int k) {
    const onnx::NodeProto& n = g_.node(k);
    if (n.input_size() != 1) throw Error(where(k) + ": expected one input");
    Attrs a(n, where(k));
    const std::int64_t given = a.i("axis", 1);
    a.finish();
    const Val x = data(k);
    const std::int64_t r = std::int64_t(x.dims.size());
    const std::int64_t axis = given < 0 ? given + r : given;
    if (axis < 0 || axis > r)
      throw Error(where(k) + ": axis " + std::to_string(given) + " is out of range for " + dims_s(x.dims));
    std::vector<std::int64_t> dims{product(x.dims, 0, std::size_t(axis)),
                                   product(x.dims, std::size_t(axis), x.dims.size())};
    Val y = simple(k, std::make_unique<Flatten>(), x);
    y.dims = dims;
    set_output(k, y);
  }

  void reshape(int k) {
    const onnx::NodeProto& n = g_.node(k);
    Attrs a(n, where(k));
    const std::int64_t allowzero = a.i("allowzero", 0);
    std::optional<std::vector<std::int64_t>> shape_attr;
    if (opset_ < 5) shape_attr = a.ints("shape");
    if (opset_ < 5) (void)a.ints("consumed_inputs");
    a.finish();
    const Val x = data(k);
    std::vector<std::int64_t> target;
    if (shape_attr) {
      target = *shape_attr;
    } else {
      if (n.input_size() != 2) throw Error(where(k) + ": expected inputs data and shape");
      target = int_values(constant(k, n.input(1), "shape"), where(k) + ": shape");
    }
    const std::int64_t total = product(x.dims, 0, x.dims.size());
    std::int64_t known = 1;
    int infer = -1;
    for (std::size_t i = 0; i < target.size(); ++i) {
      if (target[i] == 0 && !allowzero) {
        if (i >= x.dims.size())
          throw Error(where(k) + ": shape " + dims_str(target) + " copies a dimension that does not exist");
        target[i] = x.dims[i];
      }
      if (target[i] == -1) {
        if (infer >= 0) throw Error(where(k) + ": shape " + dims_str(target) + " has more than one -1");
        infer = int(i);
      } else if (target[i] < 1 || (target[i] > std::int64_t(kMaxSample) && target[i] % kOnnxBatch != 0)) {
        throw Error(where(k) + ": shape " + dims_str(target) + " has a bad dimension (empty tensors not supported)");
      } else {
        known *= target[i];
      }
    }
    if (infer >= 0) {
      if (known <= 0 || total % known)
        throw Error(where(k) + ": shape " + dims_str(target) + " does not fit " + dims_s(x.dims));
      target[std::size_t(infer)] = total / known;
      known = total;
    }
    if (known != total)
      throw Error(where(k) + ": shape " + dims_s(target) + " does not fit " + dims_s(x.dims) +
                  (N_ == kOnnxBatch ? " (the batch N must stay free: 0 or -1)" : ""));
    // Data do not move: [N, F] from images is a flatten layer (as export writes it); any other shape only renames.
    if (target.size() == 2 && target[0] == N_ && x.net.h * x.net.w > 1) {
      Val y = simple(k, std::make_unique<Flatten>(), x);
      y.dims = target;
      return set_output(k, y);
    }
    set_output(k, Val{target, x.value, x.net});
  }

  void dropout(int k) {
    const onnx::NodeProto& n = g_.node(k);
    Attrs a(n, where(k));
    float ratio = a.f("ratio", 0.5f);
    (void)a.i("seed", 0);
    bool training = false;  // before opset 7 is_test = 0 asked for training, yet inference is the identity
    if (opset_ < 7) (void)a.i("is_test", 0), (void)a.ints("consumed_inputs");
    a.finish();
    if (n.input_size() < 1 || n.input_size() > 3)
      throw Error(where(k) + ": expected inputs data [, ratio, training_mode]");
    if (const auto r = optional_scalar(k, 1, "ratio")) ratio = *r;
    if (const onnx::TensorProto* t = optional_constant(k, 2, "training_mode")) {
      const std::vector<std::int64_t> v = int_values(*t, where(k) + ": training_mode");
      if (v.size() != 1) throw Error(where(k) + ": training_mode must be a scalar, got " + dims_str(dims_of(*t)));
      training = v[0] != 0;
    }
    if (!(ratio >= 0.0f && ratio < 1.0f))
      throw Error(where(k) + ": ratio " + std::to_string(ratio) + " is not in [0, 1)");
    if (training && ratio > 0.0f)
      throw Error(where(k) + ": training_mode = true with ratio " + std::to_string(ratio) +
                  " is not supported (its random mask cannot be reproduced; inference is the identity)");
    const Val x = data(k);
    std::optional<Val> mask;  // every element kept: inference, or a ratio of 0
    if (used(k, 1)) {
      Pending q;
      q.layer = std::make_unique<Constant>(x.net, 1.0f);
      q.inputs = {x.value};
      q.values.assign(x.net.sample_size(), 1.0f);
      mask = emit_val(std::move(q), k, x.dims);
      mask->type = opset_ < 10 ? onnx::TensorProto::FLOAT : onnx::TensorProto::BOOL;  // bool from Dropout-10
    }
    set_output(k, simple(k, std::make_unique<Dropout>(ratio), x), {mask});
  }

  // Clip(x, lo, hi) = lo + relu(x − lo) − relu(x − hi): ReLUs and diagonal 1×1 convolutions (ReLU6 with lo = 0).
  void clip(int k) {
    const onnx::NodeProto& n = g_.node(k);
    Attrs a(n, where(k));
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (opset_ < 11) {
      lo = a.f("min", lo, /*bound=*/true);
      hi = a.f("max", hi, /*bound=*/true);
      if (opset_ < 6) (void)a.ints("consumed_inputs");
    }
    a.finish();
    if (n.input_size() < 1 || n.input_size() > 3) throw Error(where(k) + ": expected inputs input [, min, max]");
    if (const auto v = optional_scalar(k, 1, "min", Values::bound)) lo = *v;
    if (const auto v = optional_scalar(k, 2, "max", Values::bound)) hi = *v;
    if (std::isnan(lo) || std::isnan(hi)) throw Error(where(k) + ": min or max is NaN");
    const Val x = data(k);
    if (lo > hi) {  // ONNX: every value becomes max
      return set_output(k, affine(k, x, 0.0f, hi));
    }
    const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
    if (!has_lo && !has_hi) return set_output(k, x);
    if (!has_lo) {  // hi − relu(hi − x)
      const Val t = simple(k, std::make_unique<ReLU>(), affine(k, x, -1.0f, hi));
      return set_output(k, affine(k, t, -1.0f, hi));
    }
    const Val p = simple(k, std::make_unique<ReLU>(), lo == 0.0f ? x : affine(k, x, 1.0f, -lo));
    Val y = p;
    if (has_hi) {
      const Val q = simple(k, std::make_unique<ReLU>(), affine(k, x, 1.0f, -hi));
      const Val nq = affine(k, q, -1.0f, 0.0f);
      Pending s;
      s.layer = std::make_unique<Add>();
      s.inputs = {p.value, nq.value};
      y = emit_val(std::move(s), k, x.dims);
    }
    set_output(k, lo == 0.0f ? y : affine(k, y, 1.0f, lo));
  }

  void pad(int k) {
    const onnx::NodeProto& n = g_.node(k);
    Attrs a(n, where(k));
    const std::string mode = a.s("mode", "constant");
    std::vector<std::int64_t> pads;
    float value = 0.0f;
    if (opset_ < 11) {
      pads = a.ints("pads").value_or(std::vector<std::int64_t>{});
      if (opset_ < 2) pads = a.ints("paddings").value_or(pads);
      value = a.f("value", 0.0f);
    }
    a.finish();
    if (mode != "constant")
      throw Error(where(k) + ": attribute mode = \"" + mode + "\" is not supported (only constant padding)");
    if (opset_ >= 11) {
      if (n.input_size() < 2 || n.input_size() > 3) throw Error(where(k) + ": expected inputs data, pads [, value]");
      pads = int_values(constant(k, n.input(1), "pads"), where(k) + ": pads");
      if (const auto v = optional_scalar(k, 2, "constant_value")) value = *v;
    }
    const Val x = data(k);
    // [N, C, H, W] (pads [N, C, H, W begins, then ends]) or [N, C, L] (PyTorch's 1-D padding before a pooling)
    const std::size_t r = x.dims.size() == 3 ? 1 : 2;
    need_images(k, x, r);
    const std::size_t R = r + 2;
    if (pads.size() != 2 * R)
      throw Error(where(k) + ": pads " + dims_str(pads) + " must have " + std::to_string(2 * R) +
                  " values for a rank " + std::to_string(R) + " input");
    if (pads[0] || pads[1] || pads[R] || pads[R + 1])
      throw Error(where(k) + ": pads " + dims_str(pads) + " are not supported: only the spatial axes are padded here");
    for (auto v : pads)
      if (v < 0 || v > kMaxDim)
        throw Error(where(k) + ": pads " + dims_str(pads) + " are not supported (negative pads crop; not here)");
    const Pads pd =
        r == 2 ? Pads{int(pads[2]), int(pads[3]), int(pads[6]), int(pads[7])} : Pads{int(pads[2]), 0, int(pads[5]), 0};
    if (!pd.any()) return set_output(k, x);  // PyTorch writes a Pad of zeros before an AvgPool1d
    Val y = zero_pad(k, x, pd);
    if (value != 0.0f) {
      // The border takes the value: one constant per element, added after a Flatten.
      const Shape o = y.net;
      onnx::TensorProto& t = bound_.emplace_back();
      t.set_data_type(onnx::TensorProto::FLOAT);
      for (auto d : r == 2 ? std::vector<std::int64_t>{o.c, o.h, o.w} : std::vector<std::int64_t>{o.c, o.h})
        t.add_dims(d);
      for (int c = 0; c < o.c; ++c)
        for (int h = 0; h < o.h; ++h)
          for (int w = 0; w < o.w; ++w) {
            const bool inside = h >= pd.top && h < o.h - pd.bottom && w >= pd.left && w < o.w - pd.right;
            t.add_float_data(inside ? 0.0f : value);
          }
      y = with_constant(k, y, t, false, "constant_value", "");
    }
    set_output(k, y);
  }

  const onnx::ModelProto& m_;
  const onnx::GraphProto& g_;
  std::string src_;
  const std::vector<std::string>& extra_;
  std::deque<onnx::TensorProto> bound_;  // tensors given for graph inputs, and constants made here
  std::int64_t opset_ = 0;
  std::map<std::string, const onnx::TensorProto*> constants_;
  std::set<int> constant_nodes_;
  std::vector<int> order_;
  std::map<std::string, int> readers_;  // how many nodes (and graph outputs) read each tensor
  const onnx::ValueInfoProto* input_ = nullptr;
  std::vector<std::int64_t> input_dims_;
  bool symbolic_ = false;
  bool training_mode_ = false;  // a BatchNormalization node normalises with the batch's statistics
  std::string loss_, output_kind_, name_;
  std::vector<std::string> class_names_;
  // One attempt at a batch size:
  std::int64_t N_ = 1;
  Shape in_;
  std::vector<Pending> layers_;
  std::map<std::string, Val> vals_;
};

// Names in messages come from the file: control bytes, and bytes that are no part of a UTF-8 character, are
// escaped, so that an error stays one printable line.
std::string printable(const std::string& s) {
  std::string r;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80                 ? 1
                      : c >= 0xc2 && c <= 0xdf ? 2
                      : c >= 0xe0 && c <= 0xef ? 3
                      : c >= 0xf0 && c <= 0xf4 ? 4
                                               : 0;
    for (std::size_t k = 1; k < len; ++k)
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) len = 0;
    if (len == 0 || c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
      r += buf;
      ++i;
    } else {
      r.append(s, i, len);
      i += len;
    }
  }
  return r;
}

}  // namespace

OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& source,
                             const std::vector<std::string>& extra_inputs) {
  onnx::ModelProto m;
  if (bytes.empty()) throw Error(source + ": empty file, not an ONNX model");
  if (bytes.size() > (std::size_t(1) << 31))
    throw Error(source + ": larger than 2 GB (external data is not supported)");
  if (!m.ParseFromString(bytes))
    throw Error(source + ": not an ONNX model (the protobuf data is truncated or damaged)");
  try {
    return Importer(m, source, extra_inputs).run();
  } catch (const Error& e) {
    throw Error(printable(e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(source + ": too large to import (out of memory)");
  }
}

OnnxImport import_onnx(const std::string& path, const std::vector<std::string>& extra_inputs) {
  return import_onnx_bytes(read_file(path), path, extra_inputs);
}

OnnxTensor parse_onnx_tensor(const std::string& bytes, const std::string& source) {
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes)) throw Error(source + ": not an ONNX TensorProto (truncated or damaged)");
  OnnxTensor r;
  r.name = t.name();
  r.dims = dims_of(t);
  if (t.data_type() == onnx::TensorProto::FLOAT || t.data_type() == onnx::TensorProto::DOUBLE) {
    r.values = float_values(t, source, Values::data);
  } else {
    r.ints = int_values(t, source);
    r.type = t.data_type();
  }
  return r;
}

OnnxTensor read_onnx_tensor(const std::string& path) { return parse_onnx_tensor(read_file(path), path); }

std::string serialize_onnx_tensor(const OnnxTensor& t) {
  onnx::TensorProto p;
  p.set_name(t.name);
  p.set_data_type(t.type);
  for (auto d : t.dims) p.add_dims(d);
  std::string raw;
  const auto put = [&](auto v) { raw.append(reinterpret_cast<const char*>(&v), sizeof v); };  // little-endian
  switch (t.type) {
    case onnx::TensorProto::FLOAT:
      raw.resize(t.values.size() * 4);
      if (!t.values.empty()) std::memcpy(raw.data(), t.values.data(), raw.size());
      break;
    case onnx::TensorProto::INT64:
      for (std::int64_t v : t.ints) put(v);
      break;
    case onnx::TensorProto::INT32:
      for (std::int64_t v : t.ints) put(std::int32_t(v));
      break;
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::INT8:
      for (std::int64_t v : t.ints) put(std::uint8_t(v));
      break;
    default:
      throw Error("tensor \"" + t.name + "\": element type " + std::to_string(t.type) + " cannot be written");
  }
  p.set_raw_data(raw);
  std::string out;
  if (!p.SerializeToString(&out)) throw Error("cannot serialize tensor \"" + t.name + "\"");
  return out;
}

void write_onnx_tensor(const std::string& path, const OnnxTensor& t) {
  write_file_atomically(path, serialize_onnx_tensor(t));
}

namespace {
// The network computes in float32: an input of another element type is refused, not converted.
void need_float(const OnnxTensor& t, const std::string& source) {
  if (!t.is_float())
    throw Error(source + ": element type " + std::to_string(t.type) +
                " is not float32 (1) or double (11): the network's input is float32");
}
}  // namespace

Tensor onnx_tensor_to_input(const Network& net, const OnnxTensor& t, const std::string& source) {
  need_float(t, source);
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

namespace cnn {

std::vector<OnnxTensor> run_onnx(OnnxImport& m, const OnnxTensor& t, const std::string& source) {
  need_float(t, source);
  const std::vector<std::int64_t>& d = m.input.dims;
  std::int64_t n = 0;  // ONNX batch of the given tensor
  if (m.symbolic_batch) {
    if (t.dims.size() == d.size() && std::equal(t.dims.begin() + 1, t.dims.end(), d.begin() + 1))
      n = t.dims[0];
    else if (t.dims.size() + 1 == d.size() && std::equal(t.dims.begin(), t.dims.end(), d.begin() + 1))
      n = 1;  // one sample without its batch dimension
  } else if (t.dims == d) {
    n = 1;
  }
  std::string want = "[";
  for (std::size_t i = 0; i < d.size(); ++i)
    want += (i ? ", " : "") + (m.symbolic_batch && i == 0 ? std::string("N") : std::to_string(d[i]));
  want += "]";
  if (n < 1 || n > (std::int64_t(1) << 20))
    throw Error(source + ": tensor shape " + dims_str(t.dims) + " does not fit the network's input \"" + m.input.name +
                "\" " + want);
  const std::int64_t samples = m.symbolic_batch ? n : m.batch;
  const Shape in = m.net.input_shape();
  if (t.values.size() != std::size_t(samples) * in.sample_size())
    throw Error(source + ": value count does not match its dims");
  Tensor x(in.with_batch(int(samples)));
  std::copy(t.values.begin(), t.values.end(), x.data());
  const int last = int(m.net.size()) - 1;
  bool inner = false;
  for (const auto& o : m.outputs) inner = inner || (o.value >= 0 && o.value != last);
  if (inner) m.net.set_need_input_gradient(true);  // keeps every layer's output
  const Context ctx{m.training_mode ? Mode::train : Mode::eval, 0};
  const Tensor* y = m.net.size() ? &m.net.forward(x, ctx) : nullptr;
  std::vector<OnnxTensor> outs;
  for (const auto& o : m.outputs) {
    const Tensor& v = o.value == Network::kInput ? x : o.value == last ? *y : m.net.activation(std::size_t(o.value));
    OnnxTensor r;
    r.name = o.name;
    std::size_t count = 1;
    for (std::int64_t e : o.dims) {
      r.dims.push_back(m.symbolic_batch && e % kOnnxBatch == 0 ? e / kOnnxBatch * n : e);
      count *= std::size_t(r.dims.back());
    }
    if (count != v.size())
      throw Error(source + ": output \"" + o.name + "\" has " + std::to_string(v.size()) + " values for dims " +
                  dims_str(r.dims));
    r.type = o.type;
    if (o.type != onnx::TensorProto::FLOAT) {
      // a mask of ones, or indices within each map: integers exact in float32, made ONNX's
      r.ints.resize(v.size());
      for (std::size_t i = 0; i < v.size(); ++i)
        r.ints[i] = std::int64_t(v.data()[i]) + (o.map_out ? std::int64_t(i) / o.map_out * o.map_in : 0);
      outs.push_back(std::move(r));
      continue;
    }
    r.values.assign(v.data(), v.data() + v.size());
    if (m.probabilities_removed) {
      const int F = int(v.shape().sample_size());
      std::vector<float> z(r.values);
      for (int s = 0; s < v.shape().n; ++s)
        softmax(z.data() + std::size_t(s) * F, r.values.data() + std::size_t(s) * F, F);
    }
    outs.push_back(std::move(r));
  }
  return outs;
}

}  // namespace cnn
