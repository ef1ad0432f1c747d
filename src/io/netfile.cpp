#include "cnn/netfile.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
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
#include "cnn/layers/subsampling.h"

namespace cnn {

namespace detail {
const std::map<std::string, std::string>& embedded_presets();  // generated from nets/*.json (presets.cpp)
}

namespace {

using nlohmann::json;

// An integer of the description as an int, or nothing when it is none or beyond int's range: 4294967302 would
// otherwise wrap to 6, a plausible and wrong number.
std::optional<int> as_int(const json& v) {
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<int>::max())) return std::nullopt;
    return int(v.get<std::uint64_t>());
  }
  if (!v.is_number_integer()) return std::nullopt;
  const std::int64_t i = v.get<std::int64_t>();
  if (i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max()) return std::nullopt;
  return int(i);
}

// Why a number of the description cannot be the float the layers keep, or "" when it can. JSON has no NaN or
// infinity and nlohmann refuses 1e400 while parsing, but a json built in code may hold them; 1e39 would become an
// infinity, and a denormal (1e-40) or a value that flushes to zero (1e-50) is almost certainly not what was meant.
std::string not_a_float(double v) {
  if (!std::isfinite(v)) return "is not a finite number";
  if (std::fabs(v) > double(std::numeric_limits<float>::max())) return "is beyond the range of a float (3.4e38)";
  if (v != 0 && std::fabs(v) < double(std::numeric_limits<float>::min()))
    return "is below the smallest normal float (1.2e-38); write 0 for zero";
  return "";
}

// The number of one-character insertions, deletions and substitutions from a to b (Levenshtein), ignoring case.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same =
          std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1]));
      const std::size_t next = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = row[j];
      row[j] = next;
    }
  }
  return row[b.size()];
}

// " (did you mean \"x\"?)" for the candidate closest to `word` within two edits (a typo, a capital), or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;
  for (const std::string& c : candidates)
    if (const std::size_t d = edit_distance(word, c); d < best_d && c != word) best = c, best_d = d;
  return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
}

// Reads the fields of one layer entry, checking types and rejecting names the layer does not know.
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {}
  int integer(const std::string& key, std::optional<int> fallback = {}) {
    used_.insert(key);
    if (!j_.contains(key)) {
      if (fallback) return *fallback;
      missing(key);
    }
    if (!j_[key].is_number_integer()) throw Error(where_ + ": field \"" + key + "\" must be an integer");
    const std::optional<int> v = as_int(j_[key]);
    if (!v) throw Error(where_ + ": field \"" + key + "\" = " + j_[key].dump() + " is beyond the range of an int");
    return *v;
  }
  bool flag(const std::string& key, bool fallback) {
    used_.insert(key);
    if (!j_.contains(key)) return fallback;
    if (!j_[key].is_boolean()) throw Error(where_ + ": field \"" + key + "\" must be true or false");
    return j_[key].get<bool>();
  }
  const json* value(const std::string& key) {
    used_.insert(key);
    return j_.contains(key) ? &j_[key] : nullptr;
  }
  double number(const std::string& key, double fallback) {
    used_.insert(key);
    if (!j_.contains(key)) return fallback;
    if (!j_[key].is_number()) throw Error(where_ + ": field \"" + key + "\" must be a number");
    const double v = j_[key].get<double>();
    const std::string bad = not_a_float(v);
    if (!bad.empty()) throw Error(where_ + ": field \"" + key + "\" = " + j_[key].dump() + " " + bad);
    return v;
  }
  std::string text(const std::string& key, const std::string& fallback) {
    used_.insert(key);
    if (!j_.contains(key)) return fallback;
    if (!j_[key].is_string()) throw Error(where_ + ": field \"" + key + "\" must be a string");
    return j_[key].get<std::string>();
  }
  // "kernel": 5 or [kh, kw]
  std::pair<int, int> pair(const std::string& key, std::optional<std::pair<int, int>> fallback = {}) {
    used_.insert(key);
    if (!j_.contains(key)) {
      if (fallback) return *fallback;
      missing(key);
    }
    const json& v = j_[key];
    if (as_int(v)) return {*as_int(v), *as_int(v)};
    if (v.is_array() && v.size() == 2 && as_int(v[0]) && as_int(v[1])) return {*as_int(v[0]), *as_int(v[1])};
    throw Error(where_ + ": field \"" + key + "\" must be an integer or [height, width]");
  }
  void finish() {
    std::vector<std::string> known(used_.begin(), used_.end());
    known.insert(known.end(), std::begin(kCommon), std::end(kCommon));
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (std::find(known.begin(), known.end(), it.key()) == known.end())
        throw Error(where_ + ": unknown field \"" + it.key() + "\"" + did_you_mean(it.key(), known));
  }
  const std::string& where() const { return where_; }

 private:
  static constexpr const char* kCommon[] = {"type", "lr", "name", "inputs", "output"};  // fields every layer may have
  const json& j_;
  std::string where_;
  std::set<std::string> used_;

  // A required field is absent: name it, and the entry's unknown field it was probably meant to be.
  [[noreturn]] void missing(const std::string& key) const {
    std::string hint;
    for (auto it = j_.begin(); it != j_.end() && hint.empty(); ++it)
      if (!used_.count(it.key()) && std::find(std::begin(kCommon), std::end(kCommon), it.key()) == std::end(kCommon) &&
          !did_you_mean(it.key(), {key}).empty())
        hint = " (the entry has \"" + it.key() + "\": a typo for \"" + key + "\"?)";
    throw Error(where_ + ": missing field \"" + key + "\"" + hint);
  }
};

// "padding": N or [top, left, bottom, right] as Pads; nullopt when the field is absent or a word ("same").
std::optional<Pads> explicit_pads(const json* pad, const std::string& where) {
  if (!pad || pad->is_string()) return std::nullopt;
  if (pad->is_number_integer()) {
    if (!as_int(*pad)) throw Error(where + ": field \"padding\" = " + pad->dump() + " is beyond the range of an int");
    const int p = *as_int(*pad);
    if (p < 0) throw Error(where + ": field \"padding\" must not be negative, got " + std::to_string(p));
    return Pads{p, p, p, p};
  }
  if (!pad->is_array() || pad->size() != 4 ||
      !std::all_of(pad->begin(), pad->end(), [](const json& v) { return as_int(v) && *as_int(v) >= 0; }))
    throw Error(where + ": field \"padding\" must be [top, left, bottom, right], four integers >= 0");
  return Pads{(*pad)[0].get<int>(), (*pad)[1].get<int>(), (*pad)[2].get<int>(), (*pad)[3].get<int>()};
}

LayerPtr make_layer(const std::string& type, Fields& f) {
  if (type == "conv2d") {
    const int filters = f.integer("filters");
    const auto [kh, kw] = f.pair("kernel");
    const int stride = f.integer("stride", 1);
    const bool bias = f.flag("bias", true);
    // "padding": "valid" | "same" | N | [top, left, bottom, right]
    const json* pad = f.value("padding");
    if (pad && !pad->is_string() && !pad->is_number_integer() && !pad->is_array())
      throw Error(f.where() +
                  ": field \"padding\" must be \"valid\", \"same\", a number or [top, left, bottom, right]");
    if (const std::optional<Pads> p = explicit_pads(pad, f.where()))
      return std::make_unique<Conv2D>(filters, KernelSize{kh, kw}, stride, *p, bias);
    Padding mode;
    const std::string name = pad ? pad->get<std::string>() : "valid";
    if (name != "valid" && name != "same")
      throw Error(f.where() +
                  ": field \"padding\" must be \"valid\", \"same\", a number or [top, left, bottom, right], got \"" +
                  name + "\"" + did_you_mean(name, {"valid", "same"}));
    mode = parse_padding(name);
    return std::make_unique<Conv2D>(filters, KernelSize{kh, kw}, stride, mode, bias);
  }
  if (type == "batchnorm2d")
    return std::make_unique<BatchNorm2D>(float(f.number("momentum", 0.1)), float(f.number("eps", 1e-5)));
  if (type == "global_avgpool2d") return std::make_unique<GlobalAvgPool2D>();
  if (type == "normalize") {
    const json* mean = f.value("mean");
    const json* std = f.value("std");
    if (!mean && !std) return std::make_unique<Normalize>();
    auto numbers = [&](const json* v, const char* key) {
      if (!v || !v->is_array() || v->empty() ||
          !std::all_of(v->begin(), v->end(), [](const json& x) { return x.is_number(); }))
        throw Error(f.where() + ": field \"" + key +
                    "\" must be an array of numbers, one per channel (give both "
                    "\"mean\" and \"std\", or neither for the training set's)");
      for (std::size_t i = 0; i < v->size(); ++i) {
        const std::string bad = not_a_float((*v)[i].get<double>());
        if (!bad.empty())
          throw Error(f.where() + ": field \"" + key + "\"[" + std::to_string(i) + "] = " + (*v)[i].dump() + " " + bad);
      }
      return v->get<std::vector<float>>();
    };
    return std::make_unique<Normalize>(numbers(mean, "mean"), numbers(std, "std"));
  }
  if (type == "add") return std::make_unique<Add>();
  if (type == "constant") {
    // "shape": [c, h, w], "value": every element's (0 unless given); saved values replace it when a model loads
    const json* shape = f.value("shape");
    if (!shape || !shape->is_array() || shape->size() != 3 ||
        !std::all_of(shape->begin(), shape->end(), [](const json& v) { return v.is_number_integer() && v >= 1; }))
      throw Error(f.where() + ": field \"shape\" must be [channels, height, width], three positive integers");
    const double value = f.number("value", 0.0);
    const auto d = shape->get<std::vector<std::int64_t>>();
    if (d[0] * d[1] * d[2] > (std::int64_t(1) << 24))
      throw Error(f.where() + ": field \"shape\" holds more than 2^24 values");
    return std::make_unique<Constant>(Shape{1, int(d[0]), int(d[1]), int(d[2])}, float(value));
  }
  if (type == "concat") {
    const int axis = f.integer("axis", 1);  // 1 channels, 2 rows, 3 columns (torch.cat's dim)
    if (axis < -3 || axis > 3 || axis == 0)
      throw Error(f.where() +
                  ": field \"axis\" must be 1 (channels), 2 (rows), 3 (columns) or -3 to -1 from the "
                  "end (the batch, axis 0, cannot be joined)");
    return std::make_unique<Concat>(axis);
  }
  if (type == "maxpool2d" || type == "avgpool2d" || type == "l2pool2d" || type == "maxpool2d_indices") {
    // "kernel", "stride" (default: the kernel) and "dilation" (default 1): N | [rows, columns], PyTorch's
    // MaxPool2d(kernel_size, stride, dilation)
    const auto [kh, kw] = f.pair("kernel", std::pair{2, 2});
    const auto [sh, sw] = f.pair("stride", std::pair{kh, kw});
    const auto [dh, dw] = f.pair("dilation", std::pair{1, 1});
    const PoolWindow win{kh, kw, sh, sw, dh, dw};
    // "padding": N | [top, left, bottom, right]: −∞ for max pooling (never the maximum), not counted by the average
    if (type != "l2pool2d") {
      const json* pad = f.value("padding");
      if (pad && pad->is_string())
        throw Error(f.where() + ": field \"padding\" must be a number or [top, left, bottom, right]");
      const Pads pads = explicit_pads(pad, f.where()).value_or(Pads{});
      if (type == "maxpool2d") return std::make_unique<MaxPool2D>(win, pads);
      if (type == "avgpool2d") return std::make_unique<AvgPool2D>(win, pads);
      // "order": "rows" (u·W + v, PyTorch's) | "columns" (v·H + u)
      const std::string order = f.text("order", "rows");
      if (order != "rows" && order != "columns")
        throw Error(f.where() + ": field \"order\" must be \"rows\" or \"columns\", got \"" + order + "\"");
      return std::make_unique<MaxPoolIndices>(
          win, pads, order == "rows" ? MaxPoolIndices::Order::rows : MaxPoolIndices::Order::columns);
    }
    return std::make_unique<L2Pool2D>(win);
  }
  if (type == "subsampling") {
    const int k = f.integer("kernel", 2);
    return std::make_unique<Subsampling>(k, f.integer("stride", k));
  }
  if (type == "dense") return std::make_unique<Dense>(f.integer("units"));
  if (type == "relu") return std::make_unique<ReLU>();
  if (type == "leaky_relu") return std::make_unique<LeakyReLU>(float(f.number("alpha", 0.1)));
  if (type == "sigmoid") return std::make_unique<Sigmoid>();
  if (type == "tanh") return std::make_unique<Tanh>();
  if (type == "softmax" || type == "log_softmax") {
    // "axis": 1 channels, 2 rows, 3 columns (PyTorch's dim on [N, C, H, W]); absent: the whole sample
    const int axis = f.integer("axis", 0);
    if (axis < -3 || axis > 3)
      throw Error(f.where() +
                  ": field \"axis\" must be 1 (channels), 2 (rows), 3 (columns) or -3 to -1 from the end; "
                  "leave it out to normalise the whole sample");
    if (type == "softmax") return std::make_unique<Softmax>(axis);
    return std::make_unique<LogSoftmax>(axis);
  }
  if (type == "flatten") return std::make_unique<Flatten>();
  if (type == "dropout") return std::make_unique<Dropout>(float(f.number("rate", 0.5)));
  const std::vector<std::string> types = {
      "conv2d",  "maxpool2d", "avgpool2d",  "l2pool2d", "subsampling", "global_avgpool2d", "batchnorm2d",
      "dense",   "relu",      "leaky_relu", "sigmoid",  "tanh",        "softmax",          "log_softmax",
      "flatten", "dropout",   "add",        "concat",   "normalize",   "constant",         "maxpool2d_indices"};
  throw Error(f.where() + ": unknown layer type \"" + type + "\"" + did_you_mean(type, types) +
              " (known: conv2d, maxpool2d, avgpool2d, l2pool2d, subsampling, global_avgpool2d, batchnorm2d, dense, "
              "relu, leaky_relu, sigmoid, tanh, softmax, log_softmax, flatten, dropout, add, concat, normalize, "
              "constant, maxpool2d_indices)");
}

}  // namespace

Network network_from_json(const json& desc, const std::string& source) {
  if (!desc.is_object()) throw Error(source + ": a network description must be a JSON object");
  for (auto it = desc.begin(); it != desc.end(); ++it)
    if (it.key() != "name" && it.key() != "input" && it.key() != "layers" && it.key() != "loss" &&
        it.key() != "comment" && it.key() != "recipe" && it.key() != "fit")
      throw Error(source + ": unknown top-level field \"" + it.key() + "\"");
  if (!desc.contains("input")) throw Error(source + ": missing field \"input\" ([channels, height, width])");
  const json& in = desc["input"];
  if (!in.is_array() || in.size() != 3 || !as_int(in[0]) || !as_int(in[1]) || !as_int(in[2]))
    throw Error(source + ": field \"input\" must be [channels, height, width], three integers");
  Network net(Shape{1, *as_int(in[0]), *as_int(in[1]), *as_int(in[2])});
  if (!desc.contains("layers") || !desc["layers"].is_array() || desc["layers"].empty())
    throw Error(source + ": field \"layers\" must be a non-empty array");
  const json& layers = desc["layers"];
  const std::size_t L = layers.size();
  // First every entry's layer, name and inputs; then the layers are added in an order where each comes after what
  // it reads (the file's order wherever it allows), so a layer may name one that the file lists after it.
  struct Entry {
    LayerPtr layer;
    std::string where, name;
    std::vector<int> inputs;  // entry indices; -1: the network input
    bool output = false;      // "output": true, one of the network's outputs besides the last layer's
  };
  std::vector<Entry> entries(L);
  std::map<std::string, int> by_name;
  for (std::size_t i = 0; i < L; ++i) {
    const std::string where = source + ": layer " + std::to_string(i);
    const json& lj = layers[i];
    if (!lj.is_object()) throw Error(where + ": must be an object");
    if (!lj.contains("type") || !lj["type"].is_string()) throw Error(where + ": missing field \"type\" (a string)");
    const std::string type = lj["type"].get<std::string>();
    Entry& e = entries[i];
    e.where = where + " (" + type + ")";
    if (lj.contains("name")) {
      if (!lj["name"].is_string() || lj["name"].get<std::string>().empty())
        throw Error(e.where + ": field \"name\" must be a non-empty string");
      e.name = lj["name"].get<std::string>();
      if (e.name == "input") throw Error(e.where + ": field \"name\": \"input\" is the network's input");
      if (!by_name.emplace(e.name, int(i)).second)
        throw Error(e.where + ": field \"name\": \"" + e.name + "\" is already the name of layer " +
                    std::to_string(by_name[e.name]));
      e.where += " \"" + e.name + "\"";
    }
    Fields f(lj, e.where);
    try {
      e.layer = make_layer(type, f);
    } catch (const Error& err) {
      const std::string msg = err.what();
      throw Error(msg.rfind(where, 0) == 0 ? msg : f.where() + ": " + msg);
    }
    f.finish();
    if (lj.contains("output")) {
      if (!lj["output"].is_boolean()) throw Error(f.where() + ": field \"output\" must be true or false");
      e.output = lj["output"].get<bool>();
    }
    if (lj.contains("lr")) {
      if (!lj["lr"].is_number() || !(lj["lr"].get<double>() > 0) || !std::isfinite(lj["lr"].get<double>()))
        throw Error(f.where() + ": field \"lr\" must be a positive number");
      e.layer->learning_rate = lj["lr"].get<double>();
    }
  }
  for (std::size_t i = 0; i < L; ++i) {
    Entry& e = entries[i];
    const json& lj = layers[i];
    if (!lj.contains("inputs")) {
      e.inputs = {int(i) - 1};
      continue;
    }
    const json& names = lj["inputs"];
    if (!names.is_array() || names.empty() ||
        !std::all_of(names.begin(), names.end(), [](const json& v) { return v.is_string(); }))
      throw Error(e.where + ": field \"inputs\" must be a non-empty array of layer names");
    for (const json& v : names) {
      const std::string n = v.get<std::string>();
      if (n == "input") {
        e.inputs.push_back(-1);
        continue;
      }
      const auto it = by_name.find(n);
      if (it == by_name.end()) {
        std::string known;
        for (const auto& [name, idx] : by_name) known += (known.empty() ? "" : ", ") + name;
        throw Error(e.where + ": field \"inputs\": no layer is named \"" + n + "\" (names: input" +
                    (known.empty() ? "" : ", " + known) + ")");
      }
      if (it->second == int(i)) throw Error(e.where + ": field \"inputs\": a layer cannot read its own output");
      e.inputs.push_back(it->second);
    }
  }
  // Every output but the last layer's is read by some layer.
  std::vector<int> readers(L, 0);
  for (const Entry& e : entries)
    for (int v : e.inputs)
      if (v >= 0) ++readers[std::size_t(v)];
  for (std::size_t i = 0; i + 1 < L; ++i)
    if (!readers[i] && !entries[i].output)
      throw Error(entries[i].where +
                  ": its output is read by no layer (a dangling output: only the last layer, the network's output, "
                  "and layers marked \"output\": true may be unread)");
  // Kahn's order, taking the first ready entry in file order each time.
  std::vector<int> index(L, -1);  // entry → its layer index in the network
  int placed = 0;
  while (placed < int(L)) {
    int next = -1;
    for (std::size_t i = 0; i < L && next < 0; ++i)
      if (index[i] < 0 && std::all_of(entries[i].inputs.begin(), entries[i].inputs.end(),
                                      [&](int v) { return v < 0 || index[std::size_t(v)] >= 0; }))
        next = int(i);
    if (next < 0) {
      // every entry left waits on another one left: follow the first unplaced input until a layer repeats
      int at = 0;
      while (index[std::size_t(at)] >= 0) ++at;
      std::vector<int> path;
      while (std::find(path.begin(), path.end(), at) == path.end()) {
        path.push_back(at);
        for (int v : entries[std::size_t(at)].inputs)
          if (v >= 0 && index[std::size_t(v)] < 0) {
            at = v;
            break;
          }
      }
      std::string cycle;
      for (auto it = std::find(path.begin(), path.end(), at); it != path.end(); ++it)
        cycle += "layer " + std::to_string(*it) + " → ";
      throw Error(entries[std::size_t(at)].where + ": field \"inputs\": the layers read each other in a cycle (" +
                  cycle + "layer " + std::to_string(at) + ")");
    }
    std::vector<int> inputs;
    for (int v : entries[std::size_t(next)].inputs) inputs.push_back(v < 0 ? Network::kInput : index[std::size_t(v)]);
    try {
      net.add(std::move(entries[std::size_t(next)].layer), inputs);
    } catch (const Error& err) {
      // the network names the layer by its place in the network; the file's place and name say more
      std::string msg = err.what();
      if (msg.rfind("layer ", 0) == 0 && msg.find("): ") != std::string::npos) msg = msg.substr(msg.find("): ") + 3);
      throw Error(entries[std::size_t(next)].where + ": " + msg);
    }
    net.set_layer_name(std::size_t(placed), entries[std::size_t(next)].name);
    if (entries[std::size_t(next)].output) net.add_output(std::size_t(placed));
    index[std::size_t(next)] = placed++;
  }
  const json loss = desc.value("loss", json("softmax_cross_entropy"));
  if (!loss.is_string()) throw Error(source + ": field \"loss\" must be a string");
  try {
    net.set_loss(make_loss(loss.get<std::string>()));
  } catch (const Error& e) {
    throw Error(source + ": field \"loss\": " + e.what());
  }
  if (desc.contains("recipe")) net.set_recipe(Recipe::from_json(desc["recipe"], source));
  if (desc.contains("fit")) {
    if (!desc["fit"].is_string()) throw Error(source + ": field \"fit\" must be \"crop\", \"stretch\" or \"pad\"");
    try {
      net.set_input_fit(desc["fit"].get<std::string>());
    } catch (const Error& e) {
      throw Error(source + ": field \"fit\": " + e.what());
    }
  }
  return net;
}

Network network_from_text(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number such as 1e400
    throw Error(source + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  return network_from_json(j, source);
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : detail::embedded_presets()) names.push_back(name);
  return names;
}

std::string preset_text(const std::string& name) {
  const auto& presets = detail::embedded_presets();
  const auto it = presets.find(name);
  if (it == presets.end()) {
    std::string known;
    for (const auto& [n, t] : presets) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown network \"" + name + "\": not a preset (" + known + ") nor an existing file");
  }
  return it->second;
}

Network load_network(const std::string& name_or_path) {
  if (detail::embedded_presets().count(name_or_path)) return network_from_text(preset_text(name_or_path), name_or_path);
  if (!std::filesystem::exists(name_or_path)) preset_text(name_or_path);  // throws the "unknown network" message
  std::ifstream f(name_or_path);
  if (!f) throw Error(name_or_path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return network_from_text(ss.str(), name_or_path);
}

std::string network_to_text(const Network& net, const std::string& name) {
  json j;
  if (!name.empty()) j["name"] = name;
  const json s = net.spec();
  for (auto it = s.begin(); it != s.end(); ++it) j[it.key()] = it.value();
  return j.dump(2);
}

}  // namespace cnn
