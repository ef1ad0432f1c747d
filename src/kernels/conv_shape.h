// The shape of one convolution, which the plan (conv_plan.h) and every convolution kernel take whole instead of
// long rows of ints. Conv2D works the numbers out (the output-size formulas live there); nothing here checks them.
#pragma once

#include <cstddef>

namespace cnn::kernels {

// C input maps of H×W, zero-bordered by the four pads; O output maps of Ho×Wo, from kh×kw kernels applied every
// `stride` pixels; with or without one bias per output map.
struct ConvShape {
  int C = 1, H = 1, W = 1;
  int O = 1, kh = 1, kw = 1, stride = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int Ho = 1, Wo = 1;
  bool bias = true;

  bool padded() const { return pad_top || pad_left || pad_bottom || pad_right; }
  // The zero-bordered input plane. For stride 1 it is exactly (Ho + kh − 1)×(Wo + kw − 1), the plane the direct
  // kernels read (an unpadded image is its own zero-bordered plane).
  int Hp() const { return H + pad_top + pad_bottom; }
  int Wp() const { return W + pad_left + pad_right; }
  int taps() const { return C * kh * kw; }                        // one output's dot-product length, K
  std::size_t in_size() const { return std::size_t(C) * H * W; }  // one image
  std::size_t padded_size() const { return std::size_t(C) * Hp() * Wp(); }
  std::size_t out_size() const { return std::size_t(O) * Ho * Wo; }
  std::size_t weights() const { return std::size_t(O) * taps(); }
  std::size_t params() const { return weights() + (bias ? O : 0); }  // W, then b
};

}  // namespace cnn::kernels
