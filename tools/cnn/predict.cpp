// cnn predict: the three most likely classes of each image, one line per image.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <numeric>

#include "cnn/onnx.h"
#include "common.h"

namespace cnn::tool {
namespace {

struct PredictArgs {
  std::string model, invert = "auto", fit = "auto";
  std::vector<std::string> images;
  int top = 3;
};

// What was done to the picture about its tones, in words that are true whichever way --invert went.
std::string inversion_note(const PictureNotes& n, Invert inv) {
  if (n.inverted && n.dark_on_light) return "  (inverted: dark on light)";
  if (n.inverted) return "  (inverted as --invert yes asks, though it looks light on dark)";
  if (inv == Invert::never && n.dark_on_light)
    return "  (not inverted as --invert no asks, though it looks dark on light)";
  return "";
}

void run(const PredictArgs& a) {
  set_threads(1);
  Model m = open_model(a.model);
  const int K = int(m.net.output_shape().sample_size());
  const auto names = class_names_for(m.class_names, K);
  const Invert inv = a.invert == "yes" ? Invert::always : a.invert == "no" ? Invert::never : Invert::automatic;
  // Pictures meet the input as the training pictures did: a model trained on a picture folder saved its fit, and
  // a 28×28 grey model's digits were fitted the MNIST way.
  const Fit fit =
      a.fit == "auto" ? default_fit(m.net.input_fit(), m.net.input_shape(), m.class_names) : parse_fit(a.fit);
  Tensor probs;
  std::size_t failed = 0;
  for (const std::string& path : a.images) {
    PictureNotes notes;
    Tensor x;
    try {
      x = load_picture(path, m.net.input_shape(), inv, fit, &notes);
    } catch (const Error& e) {  // one unreadable file costs its own line, not the others' answers
      if (a.images.size() == 1) throw;
      std::cout.flush();
      std::cerr << "cnn: error: " << e.what() << std::endl;
      ++failed;
      continue;
    }
    if (notes.uniform) {
      std::cout.flush();
      std::cerr << "cnn: warning: " << path << ": the picture is blank or of one tone; its answer means nothing"
                << std::endl;
    }
    m.net.loss().probabilities(m.net.forward(x), probs);
    std::vector<int> order(static_cast<std::size_t>(K));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int i, int j) { return probs[std::size_t(i)] > probs[std::size_t(j)]; });
    std::cout << path << ":";
    for (int i = 0; i < std::min(a.top, K); ++i)
      std::cout << (i ? "," : "") << " " << names[std::size_t(order[std::size_t(i)])] << " "
                << fixed(100 * probs[std::size_t(order[std::size_t(i)])], 1) << "%";
    std::cout << inversion_note(notes, inv) << "\n";
  }
  if (failed)
    throw Error(std::to_string(failed) + " of " + std::to_string(a.images.size()) +
                " pictures could not be read (named above); the others were predicted");
}

void add(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* c =
      app.add_subcommand("predict", "Classify image files (PNG, JPEG, BMP, …): the top classes with probabilities");
  c->add_option("--model", a->model, "Model file (from cnn train), or an ONNX file (.onnx) as cnn import reads it")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option(
       "--invert", a->invert,
       "auto: invert dark ink on light paper, as the data sets are light on black (with --fit mnist the paper's tone "
       "decides, read so that a dim or unevenly lit page is still paper; else a light border); yes; no")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "yes", "no"}));
  c->add_option("--fit", a->fit,
                "How a picture meets the input size. auto: the model's own fit if it was trained on a picture "
                "folder, else mnist for a 28x28 grey model (not Fashion-MNIST's), else pad. mnist: flatten the paper's "
                "light, cut to the "
                "ink, fit it into 20x20 and centre it by mass in 28x28, as MNIST's digits were made (for photos of "
                "handwriting). pad: the whole picture, longer side to size, black borders. crop: shorter side to "
                "size, centre cut out (torchvision's Resize(n) + CenterCrop(n)). stretch: both sides to size "
                "(Keras's load_img(target_size=…), torchvision's Resize((h, w)))")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "mnist", "pad", "crop", "stretch"}));
  c->add_option("--top", a->top, "How many classes to show")->capture_default_str()->check(CLI::Range(1, 1000));
  c->add_option("images", a->images, "Image files")->required();
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("predict", add);

}  // namespace
}  // namespace cnn::tool
