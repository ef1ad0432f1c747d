#include "cnn/recipe.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cnn/optimizer.h"
#include "cnn/trainer.h"

namespace cnn {

std::string Recipe::str() const {
  std::ostringstream s;
  auto sep = [&] { return s.tellp() > 0 ? ", " : ""; };
  if (epochs) s << *epochs << " epochs";
  if (batch) s << sep() << "batch " << *batch;
  if (optimizer || lr || momentum || nesterov) {
    s << sep() << optimizer.value_or("sgd");
    if (lr) s << " lr " << *lr;
    if (momentum) s << " momentum " << *momentum;
    if (nesterov && *nesterov) s << " nesterov";
  }
  if (weight_decay) s << sep() << "weight decay " << *weight_decay;
  if (schedule) s << sep() << "schedule " << *schedule;
  if (augment) s << sep() << "augment " << *augment;
  if (label_smoothing) s << sep() << "label smoothing " << *label_smoothing;
  return s.str();
}

nlohmann::json Recipe::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (epochs) j["epochs"] = *epochs;
  if (batch) j["batch"] = *batch;
  if (optimizer) j["optimizer"] = *optimizer;
  if (lr) j["lr"] = *lr;
  if (momentum) j["momentum"] = *momentum;
  if (nesterov) j["nesterov"] = *nesterov;
  if (weight_decay) j["weight_decay"] = *weight_decay;
  if (schedule) j["schedule"] = *schedule;
  if (augment) j["augment"] = *augment;
  if (label_smoothing) j["label_smoothing"] = *label_smoothing;
  return j;
}

Recipe Recipe::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": field \"recipe\" must be an object");
  Recipe r;
  auto field = [&](const std::string& k) { return where + ": field \"recipe\": \"" + k + "\""; };
  auto integer = [&](const std::string& k, int lo, int hi) {
    const nlohmann::json& v = j[k];
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
      throw Error(field(k) + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return v.get<int>();
  };
  auto number = [&](const std::string& k, double lo, double hi, bool open_hi) {
    const nlohmann::json& v = j[k];
    const bool ok = v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= lo &&
                    (open_hi ? v.get<double>() < hi : v.get<double>() <= hi);
    if (!ok) {
      std::ostringstream m;
      m << field(k) << " must be a number in [" << lo << ", " << hi << (open_hi ? ")" : "]");
      throw Error(m.str());
    }
    return v.get<double>();
  };
  auto text = [&](const std::string& k) {
    if (!j[k].is_string()) throw Error(field(k) + " must be a string");
    return j[k].get<std::string>();
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "epochs") {
      r.epochs = integer(k, 1, 100000);
    } else if (k == "batch") {
      r.batch = integer(k, 1, 1000000);
    } else if (k == "optimizer") {
      r.optimizer = text(k);
      if (*r.optimizer != "sgd" && *r.optimizer != "adam") throw Error(field(k) + " must be \"sgd\" or \"adam\"");
    } else if (k == "lr") {
      r.lr = number(k, 0, 1e6, false);
      if (!(*r.lr > 0)) throw Error(field(k) + " must be a positive number");
    } else if (k == "momentum") {
      r.momentum = number(k, 0, 1, true);
    } else if (k == "nesterov") {
      if (!it.value().is_boolean()) throw Error(field(k) + " must be true or false");
      r.nesterov = it.value().get<bool>();
    } else if (k == "weight_decay") {
      r.weight_decay = number(k, 0, 1, false);
    } else if (k == "label_smoothing") {
      r.label_smoothing = number(k, 0, 0.99, false);
    } else if (k == "schedule") {
      r.schedule = text(k);
      try {
        parse_schedule(*r.schedule);
      } catch (const Error& e) {
        throw Error(field(k) + ": " + e.what());
      }
    } else if (k == "augment") {
      r.augment = text(k);
      try {
        parse_augment(*r.augment);
      } catch (const Error& e) {
        throw Error(field(k) + ": " + e.what());
      }
    } else {
      throw Error(where + ": field \"recipe\": unknown setting \"" + k +
                  "\" (known: epochs, batch, optimizer, lr, momentum, nesterov, weight_decay, schedule, augment, "
                  "label_smoothing)");
    }
  }
  if (r.nesterov && *r.nesterov && !(r.momentum && *r.momentum > 0))
    throw Error(field("nesterov") + " needs a \"momentum\" above 0");
  return r;
}

}  // namespace cnn
