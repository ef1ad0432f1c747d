#include "cnn/netfile.h"

#include <filesystem>
#include <fstream>
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
#include "cnn/layers/subsampling.h"

namespace cnn {

namespace detail {
const std::map<std::string, std::string>& embedded_presets();  // generated from nets/*.json (presets.cpp)
}

namespace {

using nlohmann::json;

// Reads the fields of one layer entry, checking types and rejecting names the layer does not know.
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {}
  int integer(const std::string& key, std::optional<int> fallback = {}) {
    used_.insert(key);
    if (!j_.contains(key)) {
      if (fallback) return *fallback;
      throw Error(where_ + ": missing field \"" + key + "\"");
    }
    if (!j_[key].is_number_integer()) throw Error(where_ + ": field \"" + key + "\" must be an integer");
    return j_[key].get<int>();
  }
  double number(const std::string& key, double fallback) {
    used_.insert(key);
    if (!j_.contains(key)) return fallback;
    if (!j_[key].is_number()) throw Error(where_ + ": field \"" + key + "\" must be a number");
    return j_[key].get<double>();
  }
  std::string text(const std::string& key, const std::string& fallback) {
    used_.insert(key);
    if (!j_.contains(key)) return fallback;
    if (!j_[key].is_string()) throw Error(where_ + ": field \"" + key + "\" must be a string");
    return j_[key].get<std::string>();
  }
  // "kernel": 5 or [kh, kw]
  std::pair<int, int> pair(const std::string& key) {
    used_.insert(key);
    if (!j_.contains(key)) throw Error(where_ + ": missing field \"" + key + "\"");
    const json& v = j_[key];
    if (v.is_number_integer()) return {v.get<int>(), v.get<int>()};
    if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
      return {v[0].get<int>(), v[1].get<int>()};
    throw Error(where_ + ": field \"" + key + "\" must be an integer or [height, width]");
  }
  void finish() {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!used_.count(it.key()) && it.key() != "type" && it.key() != "lr" && it.key() != "name")
        throw Error(where_ + ": unknown field \"" + it.key() + "\"");
  }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
  std::set<std::string> used_;
};

LayerPtr make_layer(const std::string& type, Fields& f) {
  if (type == "conv2d") {
    const int filters = f.integer("filters");
    const auto [kh, kw] = f.pair("kernel");
    const int stride = f.integer("stride", 1);
    Padding pad;
    try {
      pad = parse_padding(f.text("padding", "valid"));
    } catch (const Error& e) {
      throw Error(f.where() + ": field \"padding\": " + e.what());
    }
    return std::make_unique<Conv2D>(filters, KernelSize{kh, kw}, stride, pad);
  }
  if (type == "maxpool2d" || type == "avgpool2d" || type == "l2pool2d") {
    const int k = f.integer("kernel", 2);
    const int s = f.integer("stride", k);
    if (type == "maxpool2d") return std::make_unique<MaxPool2D>(k, s);
    if (type == "avgpool2d") return std::make_unique<AvgPool2D>(k, s);
    return std::make_unique<L2Pool2D>(k, s);
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
  if (type == "softmax") return std::make_unique<Softmax>();
  if (type == "flatten") return std::make_unique<Flatten>();
  if (type == "dropout") return std::make_unique<Dropout>(float(f.number("rate", 0.5)));
  throw Error(f.where() + ": unknown layer type \"" + type +
              "\" (known: conv2d, maxpool2d, avgpool2d, l2pool2d, subsampling, dense, relu, leaky_relu, sigmoid, tanh, "
              "softmax, flatten, dropout)");
}

}  // namespace

Network network_from_json(const json& desc, const std::string& source) {
  if (!desc.is_object()) throw Error(source + ": a network description must be a JSON object");
  for (auto it = desc.begin(); it != desc.end(); ++it)
    if (it.key() != "name" && it.key() != "input" && it.key() != "layers" && it.key() != "loss" &&
        it.key() != "comment")
      throw Error(source + ": unknown top-level field \"" + it.key() + "\"");
  if (!desc.contains("input")) throw Error(source + ": missing field \"input\" ([channels, height, width])");
  const json& in = desc["input"];
  if (!in.is_array() || in.size() != 3 || !in[0].is_number_integer() || !in[1].is_number_integer() ||
      !in[2].is_number_integer())
    throw Error(source + ": field \"input\" must be [channels, height, width]");
  Network net(Shape{1, in[0].get<int>(), in[1].get<int>(), in[2].get<int>()});
  if (!desc.contains("layers") || !desc["layers"].is_array() || desc["layers"].empty())
    throw Error(source + ": field \"layers\" must be a non-empty array");
  const json& layers = desc["layers"];
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string where = source + ": layer " + std::to_string(i);
    const json& lj = layers[i];
    if (!lj.is_object()) throw Error(where + ": must be an object");
    if (!lj.contains("type") || !lj["type"].is_string()) throw Error(where + ": missing field \"type\" (a string)");
    const std::string type = lj["type"].get<std::string>();
    Fields f(lj, where + " (" + type + ")");
    LayerPtr layer;
    try {
      layer = make_layer(type, f);
    } catch (const Error& e) {
      const std::string msg = e.what();
      throw Error(msg.rfind(where, 0) == 0 ? msg : f.where() + ": " + msg);
    }
    f.finish();
    if (lj.contains("lr")) {
      if (!lj["lr"].is_number() || !(lj["lr"].get<double>() > 0))
        throw Error(f.where() + ": field \"lr\" must be a positive number");
      layer->learning_rate = lj["lr"].get<double>();
    }
    try {
      net.add(std::move(layer));
    } catch (const Error& e) {
      throw Error(source + ": " + e.what());
    }
  }
  const json loss = desc.value("loss", json("softmax_cross_entropy"));
  if (!loss.is_string()) throw Error(source + ": field \"loss\" must be a string");
  try {
    net.set_loss(make_loss(loss.get<std::string>()));
  } catch (const Error& e) {
    throw Error(source + ": field \"loss\": " + e.what());
  }
  return net;
}

Network network_from_text(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
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
