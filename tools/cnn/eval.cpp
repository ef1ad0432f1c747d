// cnn eval: accuracy, per-class accuracy and the confusion matrix of a saved model on a test set.
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>

#include "common.h"

namespace cnn::tool {
namespace {

struct EvalArgs {
  std::string model, data;
  std::size_t test_limit = 0;
  int threads = 0, batch = 500;
  DataOptions data_options;
};

void run(const EvalArgs& a, bool fit_given, bool val_split_given) {
  use_threads(a.threads);
  Model m = load_model(a.model);
  // A folder of pictures is fitted as the model's training pictures were, and split with its training seed, so
  // --val-split gives back the pictures it held out.
  DataOptions o = a.data_options;
  if (!fit_given && !m.net.input_fit().empty()) o.fit = m.net.input_fit();
  const std::string dir = data_dir_for(m, a.model, a.data);
  if (m.training) {
    o.seed = m.training->seed;
    if (!val_split_given && dir == m.training->data) o.val_split = m.training->val_split;
  }
  const DataSplit data = load_data(dir, 1, a.test_limit, o, m.net.input_shape(), false);
  warn_if_other_classes(m, a.model, a.data, data.test);
  check_data_fits(m.net, data.test);
  const auto t0 = std::chrono::steady_clock::now();
  const Evaluation ev = evaluate(m.net, data.test, a.batch);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int K = int(m.net.output_shape().sample_size());
  const auto names = class_names_for(m.class_names.empty() ? data.test.class_names : m.class_names, K);
  std::cout << a.model << " on " << data.test.name << " (" << ev.count << " images"
            << (a.data.empty() && !dir.empty() ? ", the data it was trained on" : "") << ")\n"
            << "accuracy " << fixed(100 * ev.accuracy, 2) << "%  loss " << fixed(ev.loss, 4) << "  ("
            << fixed(seconds, 2) << " s, " << std::int64_t(double(ev.count) / std::max(seconds, 1e-9)) << " img/s on "
            << threads() << (threads() == 1 ? " thread" : " threads") << ")\n\nper class:\n";
  std::size_t wname = 5;
  for (const auto& n : names) wname = std::max(wname, n.size());
  for (int k = 0; k < K; ++k) {
    std::size_t total = 0;
    for (auto v : ev.confusion[std::size_t(k)]) total += v;
    const double acc = total ? double(ev.confusion[std::size_t(k)][std::size_t(k)]) / double(total) : 0.0;
    std::cout << "  " << std::left << std::setw(int(wname)) << names[std::size_t(k)] << std::right << "  "
              << std::setw(6) << fixed(100 * acc, 2) << "%  (" << total << " images)\n";
  }
  std::cout << "\nconfusion matrix (rows: true class, columns: predicted):\n" << std::string(wname + 2, ' ');
  for (int k = 0; k < K; ++k) std::cout << std::setw(6) << k;
  std::cout << "\n";
  for (int t = 0; t < K; ++t) {
    std::cout << "  " << std::left << std::setw(int(wname)) << names[std::size_t(t)] << std::right;
    for (int p = 0; p < K; ++p) std::cout << std::setw(6) << ev.confusion[std::size_t(t)][std::size_t(p)];
    std::cout << "\n";
  }
}

void add(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* c = app.add_subcommand("eval", "Accuracy, per-class accuracy and confusion matrix of a model on the test set");
  c->add_option("--model", a->model, "Model file (from cnn train)")->required()->check(CLI::ExistingFile);
  c->add_option("--data", a->data,
                "Folder with the four MNIST-format IDX files, CIFAR-10's binary batches, or pictures in "
                "train/<class>/ and test/<class>/ (default: the folder the model was trained on)");
  add_data_options(c, a->data_options);
  c->add_option("--test-limit", a->test_limit, "Use only the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--threads", a->threads, "Threads (0: all cores)")->check(CLI::Range(0, 1024));
  c->add_option("--batch", a->batch, "Images per forward pass")->capture_default_str()->check(CLI::Range(1, 100000));
  c->callback([a, c] { run(*a, c->get_option("--fit")->count() > 0, c->get_option("--val-split")->count() > 0); });
}

const RegisterVerb reg("eval", add);

}  // namespace
}  // namespace cnn::tool
