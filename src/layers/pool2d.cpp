// What the three pooling layers share: the window geometry (padding included) and how they describe themselves.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "cnn/layers/pool.h"

namespace cnn {

namespace {
// Whether some tap of window `o` (along one axis: taps at o·stride − pad + i·dilation, i < k) falls inside [0, n).
bool touches(int o, int k, int stride, int dilation, int pad, int n) {
  for (int i = 0; i < k; ++i) {
    const int u = o * stride - pad + i * dilation;
    if (u >= 0 && u < n) return true;
  }
  return false;
}
std::string pair(int a, int b, const char* sep) { return std::to_string(a) + sep + std::to_string(b); }
}  // namespace

Shape Pool2D::infer(Shape in) {
  const PoolWindow& w = win_;
  if (w.kh <= 0 || w.kw <= 0 || w.sh <= 0 || w.sw <= 0)
    throw Error(kind() + " layer: kernel and stride must be positive, got " + pair(w.kh, w.kw, "x") + " and " +
                pair(w.sh, w.sw, ","));
  if (w.dh <= 0 || w.dw <= 0) throw Error(kind() + " layer: dilation must be positive, got " + pair(w.dh, w.dw, ","));
  const Pads p = pads_;
  const auto bad = [&](const std::string& why) {
    return Error(kind() + " layer: padding [" + std::to_string(p.top) + ", " + std::to_string(p.left) + ", " +
                 std::to_string(p.bottom) + ", " + std::to_string(p.right) + "] " + why);
  };
  if (p.top < 0 || p.left < 0 || p.bottom < 0 || p.right < 0) throw bad("must not be negative");
  const int eh = w.span_h(), ew = w.span_w();
  if (p.top >= eh || p.left >= ew) throw bad("leaves the first window without a pixel of the input");
  // in 64 bits: a net file's padding may be up to 2^31 − 1
  const std::int64_t H = std::int64_t(in.h) + p.top + p.bottom, W = std::int64_t(in.w) + p.left + p.right;
  if (H < eh || W < ew)
    throw Error(kind() + " layer: input " + in.sample_str() + (p.any() ? " padded" : "") + " is smaller than the " +
                pair(eh, ew, "x") + " window");
  const std::int64_t Ho = (H - eh) / w.sh + 1, Wo = (W - ew) / w.sw + 1;
  if ((Ho - 1) * w.sh - p.top >= in.h || (Wo - 1) * w.sw - p.left >= in.w)
    throw bad("leaves the last window without a pixel of the input");
  // Spread taps can step over the input even where the window's span covers it.
  if (w.dh > 1 || w.dw > 1) {
    for (int oy = 0; oy < Ho; ++oy)
      if (!touches(oy, w.kh, w.sh, w.dh, p.top, in.h))
        throw bad("with dilation " + pair(w.dh, w.dw, ",") + " leaves window row " + std::to_string(oy) +
                  " without a pixel of the input");
    for (int ox = 0; ox < Wo; ++ox)
      if (!touches(ox, w.kw, w.sw, w.dw, p.left, in.w))
        throw bad("with dilation " + pair(w.dh, w.dw, ",") + " leaves window column " + std::to_string(ox) +
                  " without a pixel of the input");
  }
  return {1, in.c, int(Ho), int(Wo)};
}

std::string Pool2D::summary() const {
  const PoolWindow& w = win_;
  std::string s =
      kind() + " " + pair(w.kh, w.kw, "x") + " stride " + (w.sh == w.sw ? std::to_string(w.sh) : pair(w.sh, w.sw, ","));
  if (w.dh != 1 || w.dw != 1) s += " dilation " + (w.dh == w.dw ? std::to_string(w.dh) : pair(w.dh, w.dw, ","));
  if (pads_.any())
    s += " pad " + std::to_string(pads_.top) + "," + std::to_string(pads_.left) + "," + std::to_string(pads_.bottom) +
         "," + std::to_string(pads_.right);
  return s;
}

// "kernel", "stride" and "dilation" are one number when the same down and across, else [rows, columns].
nlohmann::json Pool2D::spec() const {
  const PoolWindow& w = win_;
  const auto one_or_two = [](int a, int b) { return a == b ? nlohmann::json(a) : nlohmann::json{a, b}; };
  nlohmann::json j = Layer::spec();
  j["kernel"] = one_or_two(w.kh, w.kw);
  j["stride"] = one_or_two(w.sh, w.sw);
  if (w.dh != 1 || w.dw != 1) j["dilation"] = one_or_two(w.dh, w.dw);
  if (pads_.any()) j["padding"] = {pads_.top, pads_.left, pads_.bottom, pads_.right};
  return j;
}

}  // namespace cnn
