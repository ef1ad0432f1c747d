// The embedding API: what a program (or the Python module) needs to use this library without the command line.
// A Net is a Network together with what training, saving and exporting need around it — its name, class names and
// the state of its training run — and it trains on images the caller holds in memory, in the caller's own buffer
// (nothing is copied but the batch being trained on). It does what `cnn train` does, in the same order, so the
// same net, images, labels and settings give the same model file, byte for byte.
//
//   cnn::Net net = cnn::Net::preset("seed5");
//   cnn::FitOptions o;  o.epochs = 1;  o.seed = 1;
//   net.fit(cnn::Images::u8(pixels, n, {1, 1, 28, 28}), labels, o);          // labels: n ints
//   std::vector<float> p = net.predict(cnn::Images::u8(pixels, n, {1, 1, 28, 28}));  // n × classes
//   net.save("seed5.cnn");  net.export_onnx("seed5.onnx");
//
// Every failure is a cnn::Error whose message names what was wrong and what was expected; nothing here prints, reads
// the environment or ends the program.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cnn/model.h"
#include "cnn/network.h"
#include "cnn/onnx.h"
#include "cnn/trainer.h"

namespace cnn {

// N images laid out N×C×H×W in one contiguous buffer the caller owns (and keeps alive while it is used): bytes
// 0–255, scaled by 1/255 as the data files are, or floats already in [0, 1].
struct Images {
  enum class Type { u8, f32 };
  const void* data = nullptr;
  Type type = Type::u8;
  std::size_t count = 0;
  Shape sample;  // c, h, w of one image (n ignored)

  static Images u8(const std::uint8_t* data, std::size_t count, Shape sample) {
    return {data, Type::u8, count, sample};
  }
  static Images f32(const float* data, std::size_t count, Shape sample) { return {data, Type::f32, count, sample}; }
};

// How to train. A setting left unset is taken from the net's recipe (cnn/recipe.h), else it is `cnn train`'s
// default (10 epochs, batch 50, sgd, lr 0.1, no momentum, no weight decay, no schedule, no augmentation, no label
// smoothing): the same rule as the command line's.
struct FitOptions {
  std::optional<int> epochs, batch;
  std::optional<std::string> optimizer;  // "sgd" | "adam"
  std::optional<double> lr, momentum, weight_decay, label_smoothing;
  std::optional<bool> nesterov;
  std::optional<std::string> schedule;  // --lr-decay's text: none, step:K:G, exp:G, cos[:E], onecycle[:E[:PCT]], …
  std::optional<std::string> augment;   // --augment's text: none, flip, shift:N, crop:N, flip,crop:4
  std::optional<std::uint64_t> seed;    // 1 when unset; initialisation, shuffling, augmentation and dropout
  int threads = 0;                      // 0: all cores (the library's one thread count, cnn/runtime.h)
  int eval_batch = 500;                 // images per forward pass when evaluating the validation set
  std::string source;                   // recorded in the model as the data it was trained on (cnn train: --data)
  std::string checkpoint;               // when set, the model is saved here after every epoch (atomically)
  std::function<void(const BatchReport&)> on_batch;  // after every batch
  std::function<void(const EpochReport&)> on_epoch;  // after every epoch (and the checkpoint)
  std::function<bool()> should_stop;                 // polled after every batch: true ends the run there
};

struct FitResult {
  std::vector<EpochReport> epochs;  // one per finished epoch
  bool stopped = false;             // should_stop ended the run between batches (the parameters are those there)
};

class Net {
 public:
  // A net from a description, initialised with seed 1 so that it predicts at once; the first fit initialises it
  // again with its own seed, as `cnn train` does, unless init() was called.
  static Net preset(const std::string& name);
  static Net from_file(const std::string& description_path);  // named after the file's stem, as cnn train names it
  static Net from_json(const std::string& description_text, const std::string& name = "");
  // A model file (cnn train's or save()'s), with its training state: fit continues that run.
  static Net load(const std::string& model_path);
  // A network built in code (layers and loss added, cnn/network.h); it is initialised as it is.
  explicit Net(Network network, std::string name = "", std::vector<std::string> class_names = {});

  Net(Net&&) noexcept;
  Net& operator=(Net&&) noexcept;
  ~Net();

  // Draws the parameters afresh from `seed` (and keeps them: the next fit does not initialise again).
  void init(std::uint64_t seed);

  // Trains on `images` with `labels` (one per image, 0 ≤ label < outputs), evaluating `validation` after every
  // epoch when it holds images. A net that has not been trained starts a new run with `options`; one that has (by
  // an earlier fit, or a model file saved with its training state) continues that run for `epochs` more epochs with
  // its saved settings, exactly as `cnn train --resume` does, and a training setting given then is an error.
  FitResult fit(const Images& images, std::span<const int> labels, const FitOptions& options = {},
                const Images* validation = nullptr, std::span<const int> validation_labels = {});
  // The class probabilities (softmax of the logits for a cross-entropy net, the outputs otherwise), count × outputs.
  std::vector<float> predict(const Images& images, int batch = 500);
  // Loss and accuracy (and the confusion matrix) in eval mode, as `cnn eval` computes them.
  Evaluation evaluate(const Images& images, std::span<const int> labels, int batch = 500);

  void save(const std::string& path) const;
  // ONNX (cnn/onnx.h); the net's name and class names are written unless `options` gives its own.
  void export_onnx(const std::string& path, OnnxExportOptions options = {}) const;

  Network& network() { return net_; }
  const Network& network() const { return net_; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  const std::vector<std::string>& class_names() const { return class_names_; }
  void set_class_names(std::vector<std::string> names) { class_names_ = std::move(names); }
  int outputs() const { return int(net_.output_shape().sample_size()); }
  // The run so far (epochs, seed, optimizer and its state), empty before the first fit.
  const std::optional<TrainingState>& training() const { return training_; }

 private:
  Net(Network network, std::string name, bool fresh);
  void check_images(const char* what, const Images& images) const;
  void check_labels(const char* what, const Images& images, std::span<const int> labels) const;

  Network net_;
  std::string name_;
  std::vector<std::string> class_names_;
  std::optional<TrainingState> training_;
  bool fresh_ = false;               // made from a description and never trained or initialised by hand
  bool statistics_pending_ = false;  // a first `normalize` takes the first training images' statistics
};

}  // namespace cnn
