// Labelled images kept as bytes (a 60,000-image set is 47 MB, not 188), scaled to [0, 1] one batch at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnn/image.h"
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
// The files may also sit where torchvision's datasets.MNIST / FashionMNIST put them: DIR/raw/ or
// DIR/{MNIST,FashionMNIST}/raw/. Without `need_train` a folder with only the two t10k files is enough (the
// training set is then empty). A missing file is named with all four and the other formats the tool reads.
DataSplit load_mnist_folder(const std::string& dir, bool need_train = true);
// The folder among `dir` and those torchvision places that holds a file with one of the four MNIST names, or "".
std::string find_mnist_folder(const std::string& dir);
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

namespace cnn {

// A folder of the user's own pictures (PNG, JPEG, BMP, TIFF, WebP, … by their names' endings; other files and
// hidden ones are not pictures), in one of two layouts:
//   DIR/train/<class>/*  and  DIR/test/<class>/*   (the same class folders in both), or
//   DIR/<class>/*  with val_split of each class's pictures held out as the test set (seeded, stratified).
// Class names are the folder names in sorted order (labels 0, 1, …; at most 256). Pictures are ordered by file
// name, then class, so numbered files interleave the classes (and a folder made from an IDX file keeps its order).
struct FolderOptions {
  Fit fit = Fit::crop;
  double val_split = 0;    // 0 < val_split < 1 for the one-level layout; 0 for train/ and test/
  std::uint64_t seed = 1;  // draws the val_split pictures
  bool strict = false;     // a picture that cannot be read is an error, not a skipped file
  bool progress = false;   // asked for (the tool does): a bar on stderr (a terminal), a line at the end, skips named
  std::string cache_dir;   // empty: $XDG_CACHE_HOME/cnn or ~/.cache/cnn; "-": no cache
};

// What a load did, for messages and tests.
struct FolderReport {
  std::size_t pictures = 0;             // readable pictures, train and test together
  std::size_t decoded = 0;              // pictures decoded by this call (0 when the cache held them all)
  bool from_cache = false;              // the cache was valid and used
  std::string cache_file;               // where the cache is (empty: none)
  std::vector<std::string> unreadable;  // skipped pictures, relative to the folder, in order
  std::size_t ignored = 0;              // files in class folders that are not pictures by their names
  double seconds = 0;
};

// Whether `dir` has the layout of a picture folder: train/ and test/ folders, or at least one class folder. Then
// load_picture_folder is the reader for it (and says what is wrong with it).
bool is_picture_folder(const std::string& dir);
// Decodes every picture once, in parallel on the library's threads (the bytes do not depend on their number),
// fitted to sample's h×w, grey or R, G, B planes by sample.c (1 or 3), as uint8. The result is cached in one file
// per folder, input shape and fit, validated by every picture's name, size and modification time and a CRC-32 of
// its contents, so a second load reads that file instead of decoding; a stale or damaged cache is rebuilt, and a
// cache folder that cannot be written means no cache. cnn::Error (one line, naming the folder or file) for: no
// class folders, an empty class folder or one with no readable pictures, more than 256 classes, train/ and test/
// with different classes, a one-level folder without val_split, and with `strict` a picture that cannot be read.
DataSplit load_picture_folder(const std::string& dir, Shape sample, const FolderOptions& options,
                              FolderReport* report = nullptr);

}  // namespace cnn
