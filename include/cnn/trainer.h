// Mini-batch training (seed 003): each epoch visits every training image once in an order shuffled from the
// seed, one optimizer step per batch with the batch-mean gradient; loss logged; test accuracy after each epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cnn/collective.h"
#include "cnn/dataset.h"
#include "cnn/network.h"
#include "cnn/optimizer.h"

namespace cnn {

// Data augmentation, off by default (the seeds train on the images as they are). Each training image is, with a
// draw that depends only on (seed, epoch, position in the epoch): mirrored left–right with probability ½ (`flip`:
// label-preserving for clothes, not for digits) and moved by up to `shift` pixels in x and in y, the uncovered
// border filled with 0 (`shift:N`; `crop:N` is the same thing under the name of the standard CIFAR recipe: pad by N
// zeros on every side, then cut out a window of the original size at a random offset). Test images are never changed.
struct Augment {
  bool flip = false;
  int shift = 0;
  bool any() const { return flip || shift > 0; }
  std::string str() const;  // "none", "flip", "shift:2", "flip,shift:2"
};
// "none" or a comma-separated list of "flip" and "shift:N" or "crop:N" (1 ≤ N ≤ 8); throws cnn::Error otherwise.
Augment parse_augment(const std::string& text);
// Applies the augmentation drawn for batch `step` to the n images of x (in place); x's image i is image first + i of
// the batch (a process's share of a global batch starts further in).
void augment_batch(const Augment& a, Tensor& x, std::uint64_t seed, std::uint64_t step, int first = 0);

struct TrainOptions {
  int epochs = 1;
  int batch = 50;
  std::uint64_t seed = 1;
  Augment augment;
  int eval_batch = 500;  // images per forward pass when evaluating the test set
  // Several processes training one model (cnn/collective.h): each works on its share of every batch, and all end
  // every step with the same parameters, those one process gets. Only rank 0 evaluates the test set. Each epoch the
  // ranks compare a hash of their parameters and throw cnn::Error on a mismatch.
  const Collective* comm = nullptr;
};

// Where the trainer and evaluate() take labelled images from: a Dataset (source_of), or a caller's own arrays.
// gather(indices, n, x, y) fills x with the n images (scaled to [0, 1], x resized to n×c×h×w) and y with labels.
struct BatchSource {
  std::string name;  // for messages
  Shape sample;      // per-image shape
  int classes = 0;   // label range when known (0: not checked)
  std::size_t count = 0;
  std::function<void(const std::uint32_t* indices, int n, Tensor& x, int* y)> gather;
  std::function<void(const std::uint32_t* indices, int n)> prefetch;  // a cache hint; may be empty
};
// The source of a Dataset's images (it refers to `data`, which must outlive it).
BatchSource source_of(const Dataset& data);

struct BatchReport {
  int epoch;
  std::size_t batch, batches;  // batch is 1-based
  double running_loss;         // mean loss of the epoch so far
  double images_per_second;
  double elapsed_seconds;
};

struct Evaluation {
  double loss = 0.0, accuracy = 0.0;
  std::size_t count = 0;
  std::vector<std::vector<std::size_t>> confusion;  // [true class][predicted class]
};

struct EpochReport {
  int epoch;  // 1-based
  double train_loss;
  Evaluation test;  // empty (count 0) without a test set
  double seconds, images_per_second;
};

// The order of the training images in epoch `epoch`: a Fisher–Yates shuffle seeded by (seed, epoch), so a run
// resumed at an epoch boundary sees exactly the batches the uninterrupted run saw.
std::vector<std::uint32_t> epoch_order(std::size_t count, std::uint64_t seed, int epoch);

// Loss, accuracy and confusion matrix of `net` over `data`, in eval mode.
Evaluation evaluate(Network& net, const BatchSource& data, int batch = 500);
inline Evaluation evaluate(Network& net, const Dataset& data, int batch = 500) {
  return evaluate(net, source_of(data), batch);
}

class Trainer {
 public:
  Trainer(Network& net, Optimizer& optimizer, TrainOptions options);
  std::function<void(const BatchReport&)> on_batch;  // called after every batch
  std::function<void(const EpochReport&)> on_epoch;  // called after every epoch (save the model here)
  std::function<bool()> should_stop;                 // polled after every batch: true ends the run there
  // Trains epochs [start_epoch, options.epochs); returns true when should_stop ended it between batches (the
  // parameters are then those of that batch). Throws cnn::Error naming the epoch and batch if the loss stops
  // being a finite number (the parameters of the last finished epoch are what the caller saved).
  bool fit(const BatchSource& train, const BatchSource* test, int start_epoch = 0);
  bool fit(const Dataset& train, const Dataset* test, int start_epoch = 0);

 private:
  void share_state(const Collective& comm, const BatchSource& train, int start_epoch);
  void check_same_state(const Collective& comm, int epoch);
  Network& net_;
  Optimizer& opt_;
  TrainOptions options_;
};

}  // namespace cnn
