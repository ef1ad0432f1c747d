// cnn — the command-line tool. Each verb lives in its own file in this folder and registers itself; this file
// only parses, dispatches, and turns every error into one line and an exit status (2: usage, 1: failure).
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cluster.h"
#include "cnn/onnx.h"
#include "cnn/version.h"
#include "common.h"

namespace cnn::tool {

std::vector<Verb>& verbs() {
  static std::vector<Verb> v;
  return v;
}

ModelOrNet load_model_or_net(const std::string& verb, const std::string& model, const std::string& net) {
  if (model.empty() == net.empty())
    throw UsageError("cnn " + verb + " needs exactly one of --model FILE or --net NAME|FILE");
  ModelOrNet r;
  if (!model.empty()) {
    r.model.emplace(load_model(model));
  } else {
    r.net.emplace(load_network(net));
    r.net->init(1);
  }
  return r;
}

namespace {
// The Model of an imported ONNX graph: refused unless its one output is its last layer's.
Model model_of_import(OnnxImport r, const std::string& path) {
  if (r.outputs.size() != 1 || r.net.size() == 0 || r.outputs[0].value != int(r.net.size()) - 1)
    throw Error(path + ": the graph's output is not one output computed by its last layer; cnn run reads such graphs");
  return Model{std::move(r.net), r.name, r.class_names, std::nullopt};
}
}  // namespace

Model model_from_bytes(const std::string& bytes, const std::string& path) {
  if (bytes.starts_with("CNNMODEL") || !path.ends_with(".onnx")) return parse_model(bytes, path);
  return model_of_import(import_onnx_bytes(bytes, path), path);
}

Model open_model(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f || !path.ends_with(".onnx")) return load_model(path);  // its own messages: no such file, bad magic
  return model_from_bytes(std::string(std::istreambuf_iterator<char>(f), {}), path);
}

namespace {
// Any file named like one of MNIST's four (here or where torchvision puts them): the folder is meant as IDX data
// (and load_mnist_folder names what is missing), whatever else it holds.
bool has_mnist_names(const std::string& dir) {
  std::error_code ec;
  return !std::filesystem::is_directory(dir, ec) || !find_mnist_folder(dir).empty();
}
}  // namespace

void add_data_options(CLI::App* verb, DataOptions& o) {
  verb->add_option("--fit", o.fit,
                   "How pictures of a picture folder meet the input size: crop (the shorter side to size, then the "
                   "centre), stretch (both sides), pad (the longer side, then black borders)")
      ->capture_default_str()
      ->check(CLI::IsMember({"crop", "stretch", "pad"}));
  verb->add_option("--val-split", o.val_split,
                   "For a picture folder of DIR/<class>/ only: hold out this fraction of each class as the test "
                   "set (drawn with --seed)")
      ->check(CLI::Range(0.0, 0.99));
  verb->add_flag("--strict", o.strict, "Stop at a picture that cannot be read instead of skipping it");
}

void use_threads(int n) {
  set_threads(n);
  const int want = n > 0 ? n : int(std::max(1u, std::thread::hardware_concurrency()));
  if (threads() < want)
    std::cerr << "cnn: warning: the system started " << threads() << " of the " << want
              << " threads asked for (the process limit, ulimit -u, or a container's pids limit); going on with "
              << threads() << "\n";
}

bool is_picture_data(const std::string& dir) {
  return !dir.empty() && !is_cifar10_folder(dir) && !has_mnist_names(dir) && is_picture_folder(dir);
}

DataSplit load_data(const std::string& dir, std::size_t train_limit, std::size_t test_limit, const DataOptions& options,
                    Shape sample, bool need_train) {
  const std::string d = dir.empty() ? default_data_dir() : dir;
  if (dir.empty() && !std::filesystem::exists(d))
    throw Error(d +
                ": Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist, or run scripts/setup.sh), "
                "or pass --data DIR with the four MNIST files, CIFAR-10's batches or a folder of pictures");
  const bool pictures = is_picture_data(dir);
  if (options.val_split > 0 && !pictures)
    throw UsageError("--val-split is for a folder of pictures (DIR/<class>/…); " + d + " is not one");
  DataSplit s;
  if (pictures) {
    if (sample == Shape{}) throw Error(d + ": a folder of pictures needs the network's input size to be read");
    FolderOptions fo;
    fo.fit = parse_fit(options.fit);
    fo.val_split = options.val_split;
    fo.seed = options.seed;
    fo.strict = options.strict;
    fo.progress = true;
    s = load_picture_folder(d, sample, fo);
  } else if (is_cifar10_folder(d)) {
    s = load_cifar10_folder(d);
  } else if (has_mnist_names(d)) {
    s = load_mnist_folder(d, need_train);
  } else {
    // A folder with none of the known names is not a half-copied MNIST folder: say every layout, not one missing
    // file.
    throw Error(d +
                ": holds neither the four MNIST-format IDX files (train-images-idx3-ubyte, "
                "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each plain or .gz), nor "
                "CIFAR-10's binary version (data_batch_1.bin … data_batch_5.bin and test_batch.bin, here or in "
                "cifar-10-batches-bin/), nor a folder of pictures (DIR/train/<class>/… and DIR/test/<class>/…, or "
                "DIR/<class>/… with --val-split)");
  }
  if (train_limit && train_limit < s.train.count()) s.train = s.train.slice(0, train_limit);
  if (test_limit && test_limit < s.test.count()) s.test = s.test.slice(0, test_limit);
  return s;
}

std::string data_dir_for(const Model& m, const std::string& model_path, const std::string& given) {
  if (!given.empty() || !m.training || m.training->data.empty() || m.training->data == default_data_dir()) return given;
  const std::string& dir = m.training->data;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec))
    throw Error(model_path + " was trained on " + dir + ", which is not there any more: pass --data DIR");
  return dir;
}

void warn_if_other_classes(const Model& m, const std::string& model_path, const std::string& given,
                           const Dataset& data) {
  if (given.empty() || !m.training) return;
  const std::string trained = m.training->data.empty() ? default_data_dir() : m.training->data;
  std::error_code ec;
  if (std::filesystem::equivalent(trained, given, ec)) return;
  const int K = int(m.net.output_shape().sample_size());
  const auto ours = class_names_for(m.class_names, K), theirs = class_names_for(data.class_names, K);
  if (ours == theirs) return;
  const auto list = [](const std::vector<std::string>& n) {
    std::string s;
    for (std::size_t i = 0; i < n.size() && i < 3; ++i) s += (i ? ", " : "") + n[i];
    return s + (n.size() > 3 ? ", …" : "");
  };
  std::cerr << "cnn: warning: " << model_path << " was trained on " << trained << " (classes " << list(ours)
            << "), but " << given << " has other classes (" << list(theirs) << ")" << std::endl;
}

std::vector<std::string> class_names_for(const std::vector<std::string>& preferred, int classes) {
  if (int(preferred.size()) == classes) return preferred;
  std::vector<std::string> n;
  for (int i = 0; i < classes; ++i) n.push_back(std::to_string(i));
  return n;
}

void check_data_fits(const Network& net, const Dataset& data) {
  if (!net.input_shape().same_sample(data.sample))
    throw Error(data.name + ": images are " + data.sample.sample_str() + " but the network takes " +
                net.input_shape().sample_str());
  const int K = int(net.output_shape().sample_size());
  for (auto l : data.labels)
    if (int(l) >= K)
      throw Error(data.name + ": label " + std::to_string(int(l)) + " but the network has only " + std::to_string(K) +
                  " outputs");
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

namespace {
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}
}  // namespace

}  // namespace cnn::tool

int main(int argc, char** argv) {
  using namespace cnn::tool;
  std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit makes write() fail with a message, not kill the process
  start_cluster(argc, argv);
  CLI::App app{"cnn: build, train, check, show, export and serve convolutional neural networks", "cnn"};
  app.set_version_flag("--version", std::string("cnn ") + cnn::version() + "\n" + cluster_description());
  app.require_subcommand(1, 1);
  app.footer(
      "Start here (Fashion-MNIST from Debian's dataset-fashion-mnist unless --data names a folder):\n"
      "  cnn train --net lenet5 --epochs 5 --out model.cnn\n"
      "  cnn predict --model model.cnn picture.png\n"
      "Each command's options: cnn COMMAND --help");
  // in the order a user meets them; any other verb after these, by name
  static const std::vector<std::string> order = {"train",  "eval",   "predict", "info",    "show",   "serve",
                                                 "export", "import", "run",     "kernels", "profile"};
  const auto rank = [](const Verb& v) {
    return std::size_t(std::find(order.begin(), order.end(), v.name) - order.begin());
  };
  auto& all = verbs();
  std::sort(all.begin(), all.end(),
            [&](const Verb& a, const Verb& b) { return std::pair(rank(a), a.name) < std::pair(rank(b), b.name); });
  for (const Verb& v : all) v.add(app);
  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(all.begin(), all.end(), [&](const Verb& v) { return v.name == argv[1]; })) {
    std::string known;
    for (const Verb& v : all) known += (known.empty() ? "" : ", ") + v.name;
    std::cerr << "cnn: error: unknown command '" << argv[1] << "' (commands: " << known << ")\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    const int rc = app.exit(e);
    finish_cluster();
    return rc;
  } catch (const CLI::ParseError& e) {
    abort_cluster(one_line(e.what()) + " (see cnn --help)", 2);
  } catch (const UsageError& e) {
    abort_cluster(one_line(e.what()) + " (see cnn --help)", 2);
  } catch (const Interrupted& e) {
    std::cout.flush();
    std::cerr << "cnn: " << one_line(e.what()) << std::endl;
    finish_cluster();
    return 130;
  } catch (const std::exception& e) {
    abort_cluster(one_line(e.what()), 1);
  }
  finish_cluster();
  return 0;
}
