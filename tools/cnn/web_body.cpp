#include "web_body.h"

#include <cmath>
#include <cstdlib>
#include <vector>
#include <nlohmann/json.hpp>

namespace cnn::tool::web {

namespace {

std::string shape_text(const std::vector<std::size_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s.append(i ? "x" : "").append(std::to_string(dims[i]));
  return s;
}

// A nested "image", as numpy's tolist() writes one: H rows of W numbers, or C planes of them (PyTorch's C×H×W),
// checked to be the model's shape and not ragged, then flat and row-major.
nlohmann::json flatten_nested(const nlohmann::json& image, const Shape& in) {
  std::vector<std::size_t> dims;
  for (const nlohmann::json* v = &image; v->is_array(); v = &(*v)[0]) {
    dims.push_back(v->size());
    if (v->empty()) break;
  }
  const std::string wanted = std::to_string(in.h) + "x" + std::to_string(in.w) +
                             (in.c > 1 ? " or " + std::to_string(in.c) + "x" + std::to_string(in.h) + "x" +
                                             std::to_string(in.w) + " (channel, row, column)"
                                       : " (row, column)");
  const bool fits = (dims.size() == 2 && dims[0] == std::size_t(in.h) && dims[1] == std::size_t(in.w)) ||
                    (dims.size() == 3 && (dims[0] == 1 || dims[0] == std::size_t(in.c)) &&
                     dims[1] == std::size_t(in.h) && dims[2] == std::size_t(in.w));
  if (!fits)
    throw BadRequest(422, "\"image\" is nested " + shape_text(dims) + "; this model takes " + wanted +
                              ", numbers in 0..1");
  nlohmann::json flat = nlohmann::json::array();
  // Where a part lies, as "[c][y]", built by append: GCC 12 warns falsely (-Wrestrict) about "[" + string.
  const auto at = [](std::string where, std::size_t i) {
    return where.append("[").append(std::to_string(i)).append("]");
  };
  const auto refuse = [&](const std::string& where, const std::string& what) {
    std::string m = "\"image\"";
    m.append(where).append(" is not ").append(what).append("; this model takes ").append(wanted);
    throw BadRequest(422, m);
  };
  const auto plane_of = [&](const nlohmann::json& plane, const std::string& where) {
    if (!plane.is_array() || plane.size() != std::size_t(in.h)) refuse(where, std::to_string(in.h) + " rows");
    for (std::size_t y = 0; y < plane.size(); ++y) {
      const nlohmann::json& row = plane[y];
      if (!row.is_array() || row.size() != std::size_t(in.w))
        refuse(at(where, y), "a row of " + std::to_string(in.w) + " numbers (the rows must all be as long)");
      for (const auto& v : row) flat.push_back(v);
    }
  };
  if (dims.size() == 2) {
    plane_of(image, "");
  } else {
    for (std::size_t c = 0; c < image.size(); ++c) plane_of(image[c], at("", c));
  }
  return flat;
}

}  // namespace

PredictBody parse_predict_body(const std::string& text, const Shape& in, std::size_t strip_size) {
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // NaN and Infinity are no JSON, and 1e400 overflows a double: nlohmann refuses all three here, and its reason
    // ("number overflow parsing '1e400'", "syntax error … invalid literal") is the client's answer
    std::string why = e.what();
    const auto tag = why.find("] ");
    if (why.starts_with("[json.exception.") && tag != std::string::npos) why = why.substr(tag + 2);
    throw BadRequest(400, "the body is not valid JSON (" + why + ")");
  }
  if (!body.is_object())
    throw BadRequest(422, "the body must be a JSON object {\"image\": [...]} or {\"sample\": N}");
  PredictBody p;
  if (body.contains("maps")) {
    if (!body["maps"].is_boolean()) throw BadRequest(422, "\"maps\" must be true or false");
    p.maps = body["maps"].get<bool>();
  }
  if (body.contains("sample")) {
    if (strip_size == 0)
      throw BadRequest(422, "this server has no test images: start it with --data DIR to click on samples");
    const nlohmann::json& v = body["sample"];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::uint64_t>() >= strip_size)
      throw BadRequest(422,
                       "\"sample\" = " + v.dump() + ": the strip holds samples 0.." + std::to_string(strip_size - 1));
    p.sample = v.get<std::size_t>();
    return p;
  }
  if (!body.contains("image") || !body["image"].is_array())
    throw BadRequest(422, "\"image\" must be an array of numbers in 0..1 (or \"sample\": the index of a test image)");
  if (!body["image"].empty() && body["image"][0].is_array()) body["image"] = flatten_nested(body["image"], in);
  const std::size_t plane = std::size_t(in.h) * in.w, n = body["image"].size();
  if (n != plane && n != in.sample_size())
    throw BadRequest(422, "\"image\" has " + std::to_string(n) + " numbers; this model takes " +
                              std::to_string(in.h) + "x" + std::to_string(in.w) + " = " + std::to_string(plane) +
                              (in.c > 1 ? " or " + std::to_string(in.c) + "x" + std::to_string(plane) + " = " +
                                              std::to_string(in.sample_size()) + " (channel after channel"
                                        : " (") +
                              ", row-major, 0..1)");
  p.image = Tensor(in.with_batch(1));
  for (std::size_t i = 0; i < n; ++i) {
    const auto& v = body["image"][i];
    if (!v.is_number()) throw BadRequest(422, "image[" + std::to_string(i) + "] is not a number");
    const double d = v.get<double>();
    if (!(d >= 0.0 && d <= 1.0))
      throw BadRequest(422, "image[" + std::to_string(i) + "] = " + v.dump() + " is outside 0..1");
    // A denormal (1e-310) is within 0..1 and becomes 0 as a float: the darkest value, which is what it means.
    p.image[i] = float(d);
  }
  for (std::size_t c = n / plane; c < std::size_t(in.c); ++c)  // one grey plane for a colour net: every channel
    std::copy(p.image.data(), p.image.data() + plane, p.image.data() + c * plane);
  return p;
}

std::pair<std::uint64_t, std::uint64_t> declared_size(const std::string& b) {
  auto u8 = [&](std::size_t i) { return std::uint64_t(std::uint8_t(b[i])); };
  auto be16 = [&](std::size_t i) { return u8(i) << 8 | u8(i + 1); };
  auto be32 = [&](std::size_t i) { return be16(i) << 16 | be16(i + 2); };
  auto le16 = [&](std::size_t i) { return u8(i) | u8(i + 1) << 8; };
  auto le32 = [&](std::size_t i) { return le16(i) | le16(i + 2) << 16; };
  if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 && b.compare(12, 4, "IHDR") == 0)
    return {be32(16), be32(20)};
  if (b.size() >= 10 && (b.compare(0, 6, "GIF87a") == 0 || b.compare(0, 6, "GIF89a") == 0)) return {le16(6), le16(8)};
  if (b.size() >= 26 && b.compare(0, 2, "BM") == 0) {
    if (le32(14) == 12) return {le16(18), le16(20)};  // the old OS/2 header: 16-bit sizes
    const auto magnitude = [](std::uint64_t v) { return std::uint64_t(std::abs(std::int64_t(std::int32_t(v)))); };
    return {magnitude(le32(18)), magnitude(le32(22))};  // a negative height is a top-down bitmap
  }
  if (b.size() >= 4 && u8(0) == 0xFF && u8(1) == 0xD8) {  // JPEG: markers up to the first start of frame
    for (std::size_t i = 2; i + 9 <= b.size() && u8(i) == 0xFF;) {
      const std::uint64_t m = u8(i + 1);
      if (m == 0xFF) {  // fill byte
        ++i;
      } else if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // markers without a length
        i += 2;
      } else if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {  // SOFn: P, Y, X
        return {be16(i + 7), be16(i + 5)};
      } else {
        i += 2 + be16(i + 2);
      }
    }
  }
  return {0, 0};
}

}  // namespace cnn::tool::web
