// cnn show: pictures of a model — its kernels, one image's feature and gradient maps, the training curves, the
// confusion matrix. The drawing lives in the library (cnn/show.h); this file only loads and wires.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>

#include "cnn/show.h"
#include "common.h"

namespace cnn::tool {
namespace {

struct ShowArgs {
  std::string model, out, image, metrics, data, invert = "auto", title, label;
  std::size_t limit = 0;
};

void need_parent_folder(const std::string& file) {
  const auto parent = std::filesystem::path(file).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    throw Error(file + ": cannot write: folder " + parent.string() + " does not exist");
}

void print_written(const std::vector<std::string>& files) {
  for (const auto& f : files) std::cout << "wrote " << f << "\n";
}

void kernels(const ShowArgs& a) {
  Model m = load_model(a.model);
  print_written(show::write_kernels(m.net, a.out));
}

// --label as a class: its name (as the model calls it, in any case) or its index.
int label_index(const std::string& given, const std::vector<std::string>& names) {
  const auto lower = [](std::string t) {
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return t;
  };
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == given) return int(i);
  for (std::size_t i = 0; i < names.size(); ++i)
    if (lower(names[i]) == lower(given)) return int(i);
  const bool number =
      !given.empty() && std::all_of(given.begin(), given.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  if (number && given.size() < 10 && std::stoi(given) < int(names.size())) return std::stoi(given);
  std::string list;
  for (std::size_t i = 0; i < names.size(); ++i) list += (i ? ", " : "") + std::to_string(i) + " " + names[i];
  throw UsageError(
      "--label " + given + ": " +
      (number ? "the model has only " + std::to_string(names.size()) + " classes" : "not one of the model's classes") +
      " (" + list + ")");
}

void maps(const ShowArgs& a) {
  set_threads(1);
  Model m = load_model(a.model);
  const Invert inv = a.invert == "yes" ? Invert::always : a.invert == "no" ? Invert::never : Invert::automatic;
  const int K = int(m.net.output_shape().sample_size());
  const auto names = class_names_for(m.class_names, K);
  const int label = a.label.empty() ? -1 : label_index(a.label, names);
  // Fitted as cnn predict fits it by default.
  const Fit fit = default_fit(m.net.input_fit(), m.net.input_shape(), m.class_names);
  const Tensor x = load_picture(a.image, m.net.input_shape(), inv, fit);
  const show::MapsReport r = show::compute_maps(m.net, x, label);
  print_written(show::write_maps(r, a.out));
  std::cout
      << a.image << ": predicted "
      << names[std::size_t(std::max_element(r.probabilities.begin(), r.probabilities.end()) - r.probabilities.begin())]
      << "; gradients for class " << r.target << " " << names[std::size_t(r.target)]
      << (r.target_is_label ? " (the given label)" : " (the prediction)") << "\n";
}

void curves(const ShowArgs& a) {
  need_parent_folder(a.out);
  int runs = 0;
  const auto metrics = show::last_run(show::read_metrics(a.metrics), &runs);
  show::write_curves(metrics, a.out, a.title.empty() ? std::filesystem::path(a.metrics).filename().string() : a.title);
  std::cout << "wrote " << a.out << " (" << metrics.size() << " epoch" << (metrics.size() == 1 ? "" : "s")
            << (runs > 1 ? ", the last of " + std::to_string(runs) + " runs in " + a.metrics : "") << ")\n";
}

void confusion(const ShowArgs& a) {
  need_parent_folder(a.out);
  Model m = load_model(a.model);
  const std::string dir = data_dir_for(m, a.model, a.data);
  DataOptions o;  // a folder of pictures read as the model's training read it (eval does the same)
  if (!m.net.input_fit().empty()) o.fit = m.net.input_fit();
  if (m.training) {
    o.seed = m.training->seed;
    if (dir == m.training->data) o.val_split = m.training->val_split;
  }
  DataSplit data = load_data(dir, 1, a.limit, o, m.net.input_shape(), false);
  warn_if_other_classes(m, a.model, a.data, data.test);
  check_data_fits(m.net, data.test);
  const Evaluation e = evaluate(m.net, data.test);
  const int K = int(m.net.output_shape().sample_size());
  show::write_confusion(e.confusion, class_names_for(m.class_names.empty() ? data.test.class_names : m.class_names, K),
                        a.out);
  std::cout << "wrote " << a.out << " (" << e.count << " test images of " << data.test.name << ", accuracy "
            << fixed(100 * e.accuracy, 2) << "%)\n";
}

void add(CLI::App& app) {
  auto a = std::make_shared<ShowArgs>();
  auto* show = app.add_subcommand(
      "show", "Pictures: a model's kernels, feature and gradient maps, training curves, confusion matrix");
  show->require_subcommand(1, 1);

  auto* k = show->add_subcommand(
      "kernels",
      "Every conv layer's kernels as a grid (PNG per layer, diverging colours, scale shown): out x in, or for a layer "
      "reading one channel a near-square grid of its filters; a colour net's first layer as one colour patch per "
      "kernel (its R, G, B slices, mid-grey at 0, scaled per kernel)");
  k->add_option("--model", a->model, "Model file")->required()->check(CLI::ExistingFile);
  k->add_option("--out", a->out, "Folder to write the pictures to (created if missing)")->required();
  k->callback([a] { kernels(*a); });

  auto* mp = show->add_subcommand(
      "maps",
      "Feature maps after every layer for one image, and the gradient maps dL/dA, a PNG each, and overview.png with "
      "every layer on one sheet; the input in grey (for a colour net in colour, and dL/d(input) as a colour map: R, "
      "G, B the channels' gradients, mid-grey at 0, beside each channel's)");
  mp->add_option("--model", a->model, "Model file")->required()->check(CLI::ExistingFile);
  mp->add_option("image", a->image, "Image file (PNG, JPEG, …)")->required()->check(CLI::ExistingFile);
  mp->add_option("--out", a->out, "Folder to write the pictures to (created if missing)")->required();
  mp->add_option("--label", a->label,
                 "The image's true class, by name or index: gradients for it (default: for the predicted class)");
  mp->add_option("--invert", a->invert, "auto, yes or no (as for cnn predict)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "yes", "no"}));
  mp->callback([a] { maps(*a); });

  auto* c =
      show->add_subcommand("curves", "Loss and accuracy per epoch from a metrics file (cnn train --metrics) as SVG");
  c->add_option("metrics", a->metrics, "Metrics file (.csv or .jsonl)")->required()->check(CLI::ExistingFile);
  c->add_option("--out", a->out, "SVG file to write")->required();
  c->add_option("--title", a->title, "Title (default: the metrics file's name)");
  c->callback([a] { curves(*a); });

  auto* cf = show->add_subcommand("confusion", "The confusion matrix on the test images as a PNG");
  cf->add_option("--model", a->model, "Model file")->required()->check(CLI::ExistingFile);
  cf->add_option("--data", a->data, "Data folder (default: the model's, else Debian's Fashion-MNIST)");
  cf->add_option("--limit", a->limit, "Use only the first N test images (0: all)")->check(CLI::NonNegativeNumber);
  cf->add_option("--out", a->out, "PNG file to write")->required();
  cf->callback([a] { confusion(*a); });
}

const RegisterVerb reg("show", add);

}  // namespace
}  // namespace cnn::tool
