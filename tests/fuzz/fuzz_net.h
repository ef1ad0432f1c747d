// A network that a reader accepted must also run: one forward pass on zeros, when it is small enough for a fuzzer
// (a description may rightly ask for a net of gigabytes; that is no bug, and no place to spend the run).
#pragma once

#include <cmath>

#include "cnn/network.h"

namespace fuzz {

inline void forward_once(cnn::Network& net) {
  const cnn::Shape in = net.input_shape();
  if (net.params().size() > 1000000 || in.sample_size() > 100000) return;
  std::size_t work = in.sample_size();
  for (std::size_t i = 0; i < net.size(); ++i) work += net.layer(i).output_shape().sample_size();
  if (work > 2000000) return;
  const cnn::Tensor x(in.with_batch(2));
  const cnn::Tensor& y = net.forward(x);
  if (y.shape().n != 2 || !y.shape().same_sample(net.output_shape())) __builtin_trap();
}

}  // namespace fuzz
