// Model files: a network's description, its parameters, and (for resuming) the training state, in one versioned,
// checksummed binary file that is written to a temporary name, flushed and renamed over the target, so an
// interrupted or failed save never destroys the previous file.
//
// Layout (format version 2, little-endian; version 1 is the same without buffers and still loads):
//   "CNNMODEL"  8 bytes  magic
//   u32         format version
//   u32         header length H
//   H bytes     header, JSON: {"net": <description>, "name", "class_names", "param_count", "buffer_count",
//   "state_count",
//               "training": {"epoch", "seed", "batch", "steps", "optimizer": {...}, "train_limit", "test_limit"}}
//   P × f32     parameters (P = param_count, the network's flat buffer)
//   B × f32     buffers (B = buffer_count: batch normalisation's running means and variances; version 2 only)
//   S × f32     optimizer state (S = state_count: momentum / Adam moments)
//   u32         CRC-32 (zlib) of every byte before it
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cnn/network.h"
#include "cnn/optimizer.h"
#include "cnn/trainer.h"

namespace cnn {

inline constexpr std::uint32_t kModelFormatVersion = 2;

struct TrainingState {
  int epoch = 0;  // epochs finished
  std::uint64_t seed = 1;
  int batch = 50;
  OptimizerOptions optimizer;
  std::uint64_t steps = 0;
  std::vector<float> optimizer_state;
  std::size_t train_limit = 0, test_limit = 0;  // 0: the whole set
  std::string data;                             // the data folder it was trained on
  Augment augment;                              // training-image augmentation (none by default)
  double label_smoothing = 0.0;                 // ε of the training loss (0: the seeds' cross-entropy)
  double val_split = 0.0;                       // a one-level folder of pictures: the share held out for testing
  std::string metrics;                          // the metrics file the run appends its epochs to ("": none)
};

struct Model {
  Network net;
  std::string name;
  std::vector<std::string> class_names;
  std::optional<TrainingState> training;
};

void save_model(const std::string& path, const Network& net, const std::string& name,
                const std::vector<std::string>& class_names, const TrainingState* training);
// Throws cnn::Error naming the file and the problem: bad magic, unknown version, wrong size, bad checksum, or a
// description that does not build.
Model load_model(const std::string& path);
// The same from the file's bytes (`path` names them in messages).
Model parse_model(const std::string& bytes, const std::string& path);

// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed and synced, then renamed.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace cnn
