// The request bodies of `cnn serve`'s JSON API, read apart from the server so that a fuzzer (tests/fuzz/) can feed
// them bytes without a model or a socket: the JSON of POST /api/predict and the header of an uploaded picture.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "cnn/tensor.h"

namespace cnn::tool::web {

// A bad request: the status and one line for the client.
struct BadRequest : std::invalid_argument {
  BadRequest(int s, const std::string& message) : std::invalid_argument(message), status(s) {}
  int status;
};

// POST /api/predict: {"image": [...], "maps": bool} or {"sample": N, "maps": bool}. "image" is flat (H·W or C·H·W
// numbers, row-major) or nested as numpy's tolist() writes it: H rows of W, or C planes of H rows of W.
struct PredictBody {
  bool maps = true;
  std::optional<std::size_t> sample;  // an index into the strip of test images
  Tensor image;                       // else the drawn picture, the network's input for a batch of one
};
// `input`: the network's input sample; `strip_size`: how many test images the server shows. Throws BadRequest (400
// for text that is not JSON, 422 for JSON that says the wrong thing).
PredictBody parse_predict_body(const std::string& text, const Shape& input, std::size_t strip_size);

// The width and height a PNG, GIF, BMP or JPEG header declares, or {0, 0} for a format it does not know (left to the
// decoder, which refuses what it cannot read).
std::pair<std::uint64_t, std::uint64_t> declared_size(const std::string& bytes);

}  // namespace cnn::tool::web
