// cnn kernels: what the seeds' classic kernels see. Applies Sobel, Scharr, Laplacian, Gaussian, the edge, line
// and diagonal features and the "upper stroke of a 9" kernel to a picture with this project's own Conv2D
// (`same` zero padding), and writes each response as a titled PNG with its colour bar.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cnn/show.h"
#include "common.h"

namespace cnn::tool {
namespace {

struct KernelsArgs {
  std::string image, out, invert = "auto";
  int max_side = 512;
};

void run(const KernelsArgs& a) {
  const Invert inv = a.invert == "yes" ? Invert::always : a.invert == "no" ? Invert::never : Invert::automatic;
  bool inverted = false;
  const Tensor img = show::load_grey(a.image, a.max_side, inv, &inverted);
  std::filesystem::create_directories(a.out);
  if (!std::filesystem::is_directory(a.out)) throw Error(a.out + ": cannot create the folder");
  namespace fs = std::filesystem;
  const int h = img.shape().h, w = img.shape().w;
  const std::string size = std::to_string(w) + "x" + std::to_string(h);
  const std::string tones =
      inverted ? (inv == Invert::always ? "inverted as --invert yes asks" : "inverted: dark on light") : "";
  const std::string input = (fs::path(a.out) / "input.png").string();
  show::write_map_picture(input, img, "input: " + fs::path(a.image).filename().string(),
                          size + " grey, as the kernels see it (black 0, white 1)" + (inverted ? ", " + tones : ""),
                          true);
  std::cout << a.image << ": " << size << " grey" << (inverted ? " (" + tones + ")" : "")
            << ", each kernel applied by Conv2D with same zero padding\n";
  std::cout << "wrote " << input << "\n";
  for (const show::ClassicKernel& k : show::classic_kernels()) {
    const Tensor r = show::apply_kernel(img, k);
    const std::string path = (fs::path(a.out) / (k.name + ".png")).string();
    // A blur's response is an image again: grey, on the input's brightness scale.
    const bool smoothing = std::all_of(k.weights.begin(), k.weights.end(), [](float v) { return v >= 0; });
    const Pads frame = show::padding_frame(k);
    const auto [lo, hi] = show::inner_range(r, frame);
    std::ostringstream note;
    note << k.h << "x" << k.w << ", response " << fixed(lo, 3) << " .. " << fixed(hi, 3);
    if (smoothing)
      note << ", grey (black 0, white 1)";
    else
      note << " inside the zero-padding frame (the outlined border, clamped to that scale), blue < 0 < red";
    show::write_map_picture(path, r, k.name + ": " + k.description, note.str(), smoothing, frame);
    std::cout << "wrote " << path << "  (" << k.description << "; response " << fixed(lo, 3) << " .. " << fixed(hi, 3)
              << (smoothing ? ", grey" : " inside the padding frame, blue < 0 < red") << ")\n";
  }
}

void add(CLI::App& app) {
  auto a = std::make_shared<KernelsArgs>();
  auto* c = app.add_subcommand(
      "kernels",
      "What the classic kernels (Sobel, Scharr, Laplacian, Gaussian, edges, lines, the 9's stroke) see in a picture: "
      "one titled PNG per kernel with its colour bar");
  c->add_option("image", a->image, "Picture file (PNG, JPEG, …), read as grey")->required()->check(CLI::ExistingFile);
  c->add_option("--out", a->out, "Folder to write the responses to (created if missing)")->required();
  c->add_option("--max-side", a->max_side, "Shrink pictures whose longer side exceeds this (0: never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  c->add_option("--invert", a->invert,
                "auto: invert a dark-on-light picture (a light border, cnn predict's rule for a picture taken whole), "
                "as the kernels look for light strokes on black like the data sets; yes; no")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "yes", "no"}));
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("kernels", add);

}  // namespace
}  // namespace cnn::tool
