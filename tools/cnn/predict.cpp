// cnn predict: the three most likely classes of each image, one line per image.
#include <algorithm>
#include <iostream>
#include <numeric>

#include "common.h"

namespace cnn::tool {
namespace {

struct PredictArgs {
  std::string model, invert = "auto";
  std::vector<std::string> images;
  int top = 3;
};

void run(const PredictArgs& a) {
  set_threads(1);
  Model m = load_model(a.model);
  const int K = int(m.net.output_shape().sample_size());
  const auto names = class_names_for(m.class_names, K);
  const Invert inv = a.invert == "yes" ? Invert::always : a.invert == "no" ? Invert::never : Invert::automatic;
  // Pictures meet the input as the training pictures did (a model trained on a picture folder saved its fit).
  const Fit fit = m.net.input_fit().empty() ? Fit::pad : parse_fit(m.net.input_fit());
  Tensor probs;
  for (const std::string& path : a.images) {
    bool inverted = false;
    const Tensor x = load_image(path, m.net.input_shape(), inv, &inverted, fit);
    m.net.loss().probabilities(m.net.forward(x), probs);
    std::vector<int> order(static_cast<std::size_t>(K));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int i, int j) { return probs[std::size_t(i)] > probs[std::size_t(j)]; });
    std::cout << path << ":";
    for (int i = 0; i < std::min(a.top, K); ++i)
      std::cout << (i ? "," : "") << " " << names[std::size_t(order[std::size_t(i)])] << " "
                << fixed(100 * probs[std::size_t(order[std::size_t(i)])], 1) << "%";
    if (inverted) std::cout << "  (inverted: dark on light)";
    std::cout << "\n";
  }
}

void add(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* c =
      app.add_subcommand("predict", "Classify image files (PNG, JPEG, BMP, …): the top classes with probabilities");
  c->add_option("--model", a->model, "Model file (from cnn train)")->required()->check(CLI::ExistingFile);
  c->add_option(
       "--invert", a->invert,
       "auto: invert pictures with a light border (dark ink on paper), as the data sets are light on black; yes; no")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "yes", "no"}));
  c->add_option("--top", a->top, "How many classes to show")->capture_default_str()->check(CLI::Range(1, 1000));
  c->add_option("images", a->images, "Image files")->required();
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("predict", add);

}  // namespace
}  // namespace cnn::tool
