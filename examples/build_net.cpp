// Three ways to make a net for the embedding API (cnn/api.h): a preset, a description (JSON text or a file), and
// layers added in code; each is ready to predict at once (initialised), and the first fit draws it from its seed.
#include <cstdio>

#include "bars.h"
#include "cnn/api.h"
#include "cnn/layers/activation.h"
#include "cnn/layers/conv2d.h"
#include "cnn/layers/dense.h"
#include "cnn/layers/pool.h"

int main() try {
  cnn::Net seed5 = cnn::Net::preset("seed5");  // nets/seed5.json, embedded in the library
  cnn::Net bars = cnn::Net::from_json(kBarsNet, "bars");

  cnn::Network code({1, 1, 12, 12});  // the same net as kBarsNet, in code
  code.add<cnn::Conv2D>(4, 3).add<cnn::ReLU>().add<cnn::MaxPool2D>(2).add<cnn::Dense>(2);
  code.set_loss(std::make_unique<cnn::SoftmaxCrossEntropy>());
  code.init(1);
  cnn::Net built(std::move(code), "bars-in-code", {"horizontal", "vertical"});

  for (const cnn::Net* n : {&seed5, &bars, &built})
    std::printf("%-13s input %-8s %zu parameters, %d outputs\n", n->name().c_str(),
                n->network().input_shape().sample_str().c_str(), n->network().params().size(), n->outputs());
  if (bars.network().params().size() != built.network().params().size()) {
    std::fprintf(stderr, "build_net: the description and the code should make the same net\n");
    return 1;
  }
  return 0;
} catch (const cnn::Error& e) {
  std::fprintf(stderr, "build_net: error: %s\n", e.what());
  return 1;
}
