// Predict a batch: a model file (fit_arrays' by default) and a few new pictures in one call; the result is one
// row of class probabilities per picture. Float32 input in [0, 1] is read where it lies, without a copy.
#include <cstdio>
#include <string>

#include "bars.h"
#include "cnn/api.h"

int main(int argc, char** argv) try {
  cnn::Net net = cnn::Net::load(argc > 1 ? argv[1] : "bars.cnn");
  const Bars fresh = make_bars(6, 99);
  std::vector<float> scaled(fresh.pixels.begin(), fresh.pixels.end());
  for (float& v : scaled) v /= 255.0f;
  const std::vector<float> p =
      net.predict(cnn::Images::f32(scaled.data(), fresh.count(), {1, 1, Bars::kSide, Bars::kSide}));

  const int K = net.outputs();
  int right = 0;
  for (std::size_t i = 0; i < fresh.count(); ++i) {
    const int best = p[i * K + 1] > p[i * K] ? 1 : 0;
    right += best == fresh.labels[i];
    std::printf("picture %zu: %s (%.3f), truly %s\n", i, net.class_names().at(best).c_str(), p[i * K + best],
                net.class_names().at(fresh.labels[i]).c_str());
  }
  return right >= 5 ? 0 : 1;
} catch (const cnn::Error& e) {
  std::fprintf(stderr, "predict_batch: error: %s\n", e.what());
  return 1;
}
