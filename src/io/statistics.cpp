#include <cmath>

#include "cnn/dataset.h"

namespace cnn {

// Σ over the byte values themselves (exact in 64-bit integers), then scaled: no rounding builds up over 50,000 images
ChannelStatistics channel_statistics(const Dataset& data) {
  const int C = data.sample.c;
  const std::size_t HW = std::size_t(data.sample.h) * data.sample.w, count = data.count();
  if (count == 0) throw Error(data.name + ": no images to take channel statistics from");
  std::vector<std::uint64_t> sum(std::size_t(C), 0), sq(std::size_t(C), 0);
  for (std::size_t n = 0; n < count; ++n)
    for (int c = 0; c < C; ++c) {
      const std::uint8_t* p = data.images.data() + (n * C + std::size_t(c)) * HW;
      std::uint64_t s = 0, q = 0;
      for (std::size_t i = 0; i < HW; ++i) s += p[i], q += std::uint64_t(p[i]) * p[i];
      sum[std::size_t(c)] += s, sq[std::size_t(c)] += q;
    }
  ChannelStatistics st;
  const double M = double(count) * double(HW);
  for (int c = 0; c < C; ++c) {
    const double mean = double(sum[std::size_t(c)]) / M;
    const double var = std::max(0.0, double(sq[std::size_t(c)]) / M - mean * mean);
    st.mean.push_back(float(mean / 255.0));
    st.std.push_back(float(std::sqrt(var) / 255.0));
  }
  return st;
}

}  // namespace cnn
