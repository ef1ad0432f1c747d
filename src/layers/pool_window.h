// The literal loop over a pooling window: every pooling layer's path for windows the fast kernels do not take
// (padded, rectangular, dilated, moved by different strides down and across).
#pragma once

#include "cnn/layers/pool.h"

namespace cnn {

// Calls tap(u·W + v) for each tap (u, v) of output (oy, ox)'s window that falls inside the H×W map, in row-major
// order (which makes "the first maximum" of max pooling the same one the fast kernels find).
//   u = oy·sh − top + i·dh,  v = ox·sw − left + j·dw,  i < kh, j < kw
template <class F>
inline void for_each_tap(const PoolWindow& w, Pads p, int H, int W, int oy, int ox, F&& tap) {
  const int u0 = oy * w.sh - p.top, v0 = ox * w.sw - p.left;
  for (int i = 0; i < w.kh; ++i) {
    const int u = u0 + i * w.dh;
    if (u < 0 || u >= H) continue;
    for (int j = 0; j < w.kw; ++j) {
      const int v = v0 + j * w.dw;
      if (v >= 0 && v < W) tap(u * W + v);
    }
  }
}

}  // namespace cnn
