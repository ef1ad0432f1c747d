// A net's recommended training recipe: the "recipe" object of a description file, e.g.
//   "recipe": {"epochs": 40, "batch": 128, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true,
//              "weight_decay": 5e-4, "schedule": "cos", "augment": "flip,crop:4", "label_smoothing": 0}
// `cnn train` takes every setting the command line does not give from here (Keras keeps a compiled model's optimizer
// the same way), so `cnn train --net resnet20 --data CIFAR_DIR` alone trains the way the net is meant to be trained.
// The recipe travels inside the description, so it is saved in every model file. Every field is optional; the
// texts of "schedule" and "augment" are those of --lr-decay and --augment.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace cnn {

struct Recipe {
  std::optional<int> epochs, batch;
  std::optional<std::string> optimizer;  // "sgd" | "adam"
  std::optional<double> lr, momentum, weight_decay, label_smoothing;
  std::optional<bool> nesterov;
  std::optional<std::string> schedule, augment;

  bool empty() const {
    return !epochs && !batch && !optimizer && !lr && !momentum && !weight_decay && !label_smoothing && !nesterov &&
           !schedule && !augment;
  }
  // One line for `cnn info`: "40 epochs, batch 128, sgd lr 0.1 momentum 0.9 nesterov, …" (only the fields given).
  std::string str() const;
  nlohmann::json to_json() const;
  // Checks every field (type, range, the schedule's and augmentation's syntax); cnn::Error names `where` and the field.
  static Recipe from_json(const nlohmann::json& j, const std::string& where);
};

}  // namespace cnn
