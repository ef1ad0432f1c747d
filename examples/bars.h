// The examples' own data, so that they run anywhere: 12×12 grey pictures of one bright bar on black, horizontal
// (class 0) or vertical (class 1), at a random row or column, with a little noise — held in plain arrays as a
// program would hold its own images.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

struct Bars {
  static constexpr int kSide = 12;
  std::vector<std::uint8_t> pixels;  // count × 12 × 12, row by row
  std::vector<int> labels;
  std::size_t count() const { return labels.size(); }
};

inline Bars make_bars(std::size_t count, unsigned seed) {
  Bars b;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pos(1, Bars::kSide - 2), noise(0, 40);
  for (std::size_t i = 0; i < count; ++i) {
    const int label = int(i % 2), at = pos(rng);
    for (int y = 0; y < Bars::kSide; ++y)
      for (int x = 0; x < Bars::kSide; ++x) {
        const bool on = label == 0 ? y == at : x == at;
        b.pixels.push_back(std::uint8_t(on ? 255 - noise(rng) : noise(rng)));
      }
    b.labels.push_back(label);
  }
  return b;
}

// The description of a small net for them (the format of nets/*.json).
inline const char* kBarsNet = R"({"input": [1, 12, 12], "loss": "softmax_cross_entropy",
  "layers": [{"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
             {"type": "dense", "units": 2}],
  "recipe": {"epochs": 4, "batch": 20, "lr": 0.3}})";
