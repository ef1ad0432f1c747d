// Labelled images kept as bytes (a 60,000-image set is 47 MB, not 188), scaled to [0, 1] one batch at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnn/tensor.h"

namespace cnn {

struct Dataset {
  std::string name;            // where it came from, for messages
  Shape sample{1, 1, 28, 28};  // per-image shape (c, h, w)
  int classes = 10;
  std::vector<std::string> class_names;  // may be empty
  std::vector<std::uint8_t> images;      // count × c·h·w bytes
  std::vector<std::uint8_t> labels;      // count labels, each < classes

  std::size_t count() const { return labels.size(); }
  // x ← images[indices[i]] / 255 for i < n (x resized to n×c×h×w), y[i] ← labels[indices[i]].
  void batch(const std::uint32_t* indices, int n, Tensor& x, int* y) const;
  // Asks the CPU to start loading these images into its caches (a hint: the trainer names the next batch while the
  // current one trains, so that batch() then finds them there instead of in memory, one random image at a time).
  void prefetch(const std::uint32_t* indices, int n) const;
  // The images [begin, begin + n) as a new dataset.
  Dataset slice(std::size_t begin, std::size_t n) const;
};

struct DataSplit {
  Dataset train, test;
};

// IDX files (plain or gzip): idx3 unsigned-byte images and idx1 unsigned-byte labels. Every header field, the
// item counts of both files, the file length and the label range are checked; cnn::Error names the file.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, int classes = 10);
// A folder with the four MNIST-named files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), each `.gz` or not: MNIST, Fashion-MNIST, or a user's own.
DataSplit load_mnist_folder(const std::string& dir);
// Where Debian's dataset-fashion-mnist package puts its files.
std::string default_data_dir();
// Fashion-MNIST's class names when the folder holds Fashion-MNIST, the digits 0–9 otherwise.
std::vector<std::string> fashion_mnist_class_names();

// Writes images and labels as IDX files (plain, or gzip when a name ends in .gz); used by tests and tools.
void save_idx(const Dataset& data, const std::string& images_path, const std::string& labels_path);

// CIFAR-10's binary version (cifar-10-binary.tar.gz): data_batch_1.bin … data_batch_5.bin (training, in that
// order), test_batch.bin, and batches.meta.txt (class names, one a line; the standard ones when it is absent), in
// `dir` itself or in the cifar-10-batches-bin/ folder the archive extracts into `dir`. Samples are 3x32x32 uint8,
// R, G, B planes as in the files. Every file's length (a non-zero multiple of 3,073 bytes) and every label (0..9)
// are checked; cnn::Error names the file (and the record, counted from 0), and a missing file by name.
DataSplit load_cifar10_folder(const std::string& dir);
// Whether `dir` holds CIFAR-10 batch files or a cifar-10-batches-bin/ folder: then load_cifar10_folder is the
// reader for it (and names whatever file is missing).
bool is_cifar10_folder(const std::string& dir);
// airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck: CIFAR-10's labels 0..9.
std::vector<std::string> cifar10_class_names();

}  // namespace cnn

namespace cnn {
// Per channel, the mean and the standard deviation (population) of the pixels scaled to [0, 1], over every image:
// what a `normalize` layer takes from the training set.
struct ChannelStatistics {
  std::vector<float> mean, std;
};
ChannelStatistics channel_statistics(const Dataset& data);
}  // namespace cnn
