// The README's API example: build the seeds' 5-layer net in code, train it for one epoch on a slice of
// Fashion-MNIST, print the test accuracy, and save the model to seed5.cnn. Compiled with every build so the README
// cannot drift from the API.
#include <cstdio>

#include "cnn/cnn.h"

int main(int argc, char** argv) try {
  using namespace cnn;
  const std::string data = argc > 1 ? argv[1] : default_data_dir();

  // clang-format off
  Network net({1, 1, 28, 28});            // one 28×28 grey image
  net.add<Conv2D>(6, 5)                   // C1: 6 kernels of 5×5  → 6×24×24
      .add<ReLU>()
      .add<MaxPool2D>(2)                  // S2                    → 6×12×12
      .add<Conv2D>(12, 5)                 // C3: 12 kernels 6×5×5  → 12×8×8
      .add<ReLU>()
      .add<MaxPool2D>(2)                  // S4                    → 12×4×4
      .add<Dense>(10);                    // O5: 192 → 10
  // clang-format on
  net.set_loss(std::make_unique<SoftmaxCrossEntropy>());
  net.init(/*seed=*/1);

  const DataSplit split = load_mnist_folder(data);
  Optimizer sgd({.lr = 0.1});  // the seeds' recipe: plain SGD, batch 50
  Trainer trainer(net, sgd, {.epochs = 1, .batch = 50, .seed = 1});
  trainer.on_epoch = [](const EpochReport& r) {
    std::printf("epoch %d: train loss %.4f, test accuracy %.2f%%\n", r.epoch, r.train_loss, 100 * r.test.accuracy);
  };
  const Dataset train = split.train.slice(0, 6000), test = split.test.slice(0, 1000);
  trainer.fit(train, &test);
  save_model("seed5.cnn", net, "seed5", split.train.class_names, nullptr);
} catch (const std::exception& e) {
  std::fprintf(stderr, "example: error: %s\n", e.what());
  return 1;
}
