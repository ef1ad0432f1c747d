// Save and load: a model file holds the net, its parameters and its training run, so a loaded net predicts exactly
// as the saved one did and fit continues the run where it stopped (save_load [MODEL.cnn]).
#include <cstdio>
#include <string>

#include "bars.h"
#include "cnn/api.h"

int main(int argc, char** argv) try {
  const std::string path = argc > 1 ? argv[1] : "bars.cnn", copy = path + ".copy";
  cnn::Net net = cnn::Net::load(path);
  net.save(copy);
  cnn::Net again = cnn::Net::load(copy);

  const Bars more = make_bars(200, 3);
  const cnn::Images x = cnn::Images::u8(more.pixels.data(), more.count(), {1, 1, Bars::kSide, Bars::kSide});
  if (net.predict(x) != again.predict(x)) {
    std::fprintf(stderr, "save_load: the loaded net predicts differently\n");
    return 1;
  }
  const int before = again.training() ? again.training()->epoch : 0;
  cnn::FitOptions one;
  one.epochs = 1;  // one more epoch of the saved run, with its saved settings
  again.fit(x, more.labels, one);
  std::printf("%s: epoch %d → %d, accuracy on new pictures %.1f%%\n", copy.c_str(), before, again.training()->epoch,
              100 * again.evaluate(x, more.labels).accuracy);
  again.save(copy);
  return again.training()->epoch == before + 1 ? 0 : 1;
} catch (const cnn::Error& e) {
  std::fprintf(stderr, "save_load: error: %s\n", e.what());
  return 1;
}
