// Random numbers that are the same on every platform and compiler: the standard library's distributions are not
// specified bit for bit, so a fixed seed would not give the same run everywhere. SplitMix64 is small, fast and
// good enough for shuffling, initialisation and dropout masks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace cnn {

// A stateless mix of a 64-bit value: hash(seed, counter) gives a reproducible stream that any thread can index.
inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 1) : state_(seed) {}
  std::uint64_t next() { return mix64(state_++); }
  // Uniform in [0, 1) with 24 random bits: exactly representable as float.
  float uniform() { return float(next() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
  float normal() {  // Box-Muller, one value per call
    float u1 = std::max(uniform(), 1e-7f), u2 = uniform();
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
  }
  std::uint64_t state() const { return state_; }

 private:
  std::uint64_t state_;
};

}  // namespace cnn
