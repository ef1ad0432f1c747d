// What the verbs of the `cnn` tool share: the registry each verb file adds itself to, the usage-error type, and
// small helpers (data loading, class names, number formatting). The tool only wires library parts together.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cnn/cnn.h"

namespace cnn::tool {

// A wrong use of the command line (exit status 2), as opposed to a failure while working (exit status 1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Training stopped by Ctrl-C between batches (exit status 130, as a shell reports SIGINT); the text says what the
// file on disk holds and how to resume.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// set_threads(n), and one warning line on stderr when the system gave fewer (the process limit): the run goes on
// with those, and its results are the same bits.
void use_threads(int n);

struct Verb {
  std::string name;
  std::function<void(CLI::App&)> add;  // adds the subcommand, its options and its callback
};
std::vector<Verb>& verbs();
struct RegisterVerb {
  RegisterVerb(std::string name, std::function<void(CLI::App&)> add) {
    verbs().push_back({std::move(name), std::move(add)});
  }
};

// How a folder of pictures is read (`--fit`, `--val-split`, `--strict`; the seed is the run's --seed).
struct DataOptions {
  std::string fit = "crop";
  double val_split = 0;
  bool strict = false;
  std::uint64_t seed = 1;
};
// Adds --fit, --val-split and --strict to a verb that reads --data.
void add_data_options(CLI::App* verb, DataOptions& o);
// The data folder: `dir`, or Debian's Fashion-MNIST when empty: MNIST-format IDX files, CIFAR-10's binary batches,
// or a folder of pictures (then decoded for the network's input `sample`, as `options` say). Limits (0 = all) keep
// the first N images. Without `need_train` an IDX folder may hold only the test files (for eval).
DataSplit load_data(const std::string& dir, std::size_t train_limit = 0, std::size_t test_limit = 0,
                    const DataOptions& options = {}, Shape sample = {}, bool need_train = true);
// Whether load_data reads `dir` as a folder of pictures (rather than IDX files or CIFAR-10).
bool is_picture_data(const std::string& dir);
// `--model FILE` or `--net NAME|FILE`, exactly one of them (UsageError otherwise, naming the verb): the model as
// saved, or the description's network freshly initialised (seed 1).
struct ModelOrNet {
  std::optional<Model> model;
  std::optional<Network> net;
  Network& network() { return model ? model->net : *net; }
};
ModelOrNet load_model_or_net(const std::string& verb, const std::string& model, const std::string& net);
// A model file, or an ONNX graph read as `cnn import` reads it (one output, computed by its last layer).
Model open_model(const std::string& path);
// The same from the file's bytes (a model file's magic, else an ONNX file by its name; `path` for messages).
Model model_from_bytes(const std::string& bytes, const std::string& path);
// The data folder a verb that needs data reads for model `m` (saved as `model_path`): `given` when set, else the
// folder the model was trained on (PyTorch and Keras users keep data and model together; evaluating a digits model
// on the default Fashion-MNIST gives a wrong answer without a word), else "" (Debian's Fashion-MNIST). Throws when
// the model's own folder is gone, so that no other data is used silently.
std::string data_dir_for(const Model& m, const std::string& model_path, const std::string& given);
// One line on stderr when `given` is not the folder the model was trained on and its classes differ from the
// model's (then the accuracy compares different things); nothing otherwise.
void warn_if_other_classes(const Model& m, const std::string& model_path, const std::string& given,
                           const Dataset& data);
// Class names for messages: the model's, else the data set's, else "0".."K−1".
std::vector<std::string> class_names_for(const std::vector<std::string>& preferred, int classes);
// Throws cnn::Error unless the images fit the network's input.
void check_data_fits(const Network& net, const Dataset& data);
std::string fixed(double v, int decimals);
bool stdout_is_terminal();

}  // namespace cnn::tool
