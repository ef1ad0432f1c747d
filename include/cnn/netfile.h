// Network description files: JSON (through nlohmann-json), chosen over a Darknet-style cfg because it nests
// (per-layer options, kernel [h, w]), every editor and language reads it, and the same text is embedded in model
// files and served to the web page without a second format. Example (the seeds' 5-layer net):
//   {"name": "seed5", "input": [1, 28, 28], "loss": "softmax_cross_entropy",
//    "layers": [{"type": "conv2d", "filters": 6, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
//               {"type": "conv2d", "filters": 12, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
//               {"type": "dense", "units": 10}]}
// Any layer may carry "lr": its own learning rate (seed 003's α, α2, α3).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cnn/network.h"

namespace cnn {

// Builds a network from a description; `source` (a file name or preset) prefixes every error message, which also
// names the layer index and the field.
Network network_from_json(const nlohmann::json& desc, const std::string& source);
Network network_from_text(const std::string& text, const std::string& source);
// A preset name (seed5, book6x6, …) or the path of a description file.
Network load_network(const std::string& name_or_path);
// The description of a network, pretty-printed (name is optional).
std::string network_to_text(const Network& net, const std::string& name = "");

std::vector<std::string> preset_names();
// The shipped description text of a preset (from nets/<name>.json, embedded at build time); throws if unknown.
std::string preset_text(const std::string& name);

}  // namespace cnn
