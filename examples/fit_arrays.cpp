// Train on images held in memory (no data files): the bars of bars.h as uint8 arrays, a validation set after every
// epoch, the settings from the net's recipe, and the model saved for the other examples (fit_arrays [OUT.cnn]).
#include <cstdio>
#include <string>

#include "bars.h"
#include "cnn/api.h"

int main(int argc, char** argv) try {
  const std::string out = argc > 1 ? argv[1] : "bars.cnn";
  const Bars train = make_bars(400, 1), test = make_bars(100, 2);
  const cnn::Shape sample{1, 1, Bars::kSide, Bars::kSide};
  const cnn::Images x = cnn::Images::u8(train.pixels.data(), train.count(), sample);
  const cnn::Images vx = cnn::Images::u8(test.pixels.data(), test.count(), sample);

  cnn::Net net = cnn::Net::from_json(kBarsNet, "bars");
  net.set_class_names({"horizontal", "vertical"});
  cnn::FitOptions options;  // the recipe's 4 epochs of batch 20 at lr 0.3; everything else cnn train's defaults
  options.seed = 7;
  options.on_epoch = [](const cnn::EpochReport& r) {
    std::printf("epoch %d: train loss %.4f, validation accuracy %.1f%%\n", r.epoch, r.train_loss,
                100 * r.test.accuracy);
  };
  const cnn::FitResult run = net.fit(x, train.labels, options, &vx, test.labels);
  net.save(out);
  std::printf("saved %s after %zu epochs\n", out.c_str(), run.epochs.size());
  return run.epochs.back().test.accuracy >= 0.9 ? 0 : 1;
} catch (const cnn::Error& e) {
  std::fprintf(stderr, "fit_arrays: error: %s\n", e.what());
  return 1;
}
