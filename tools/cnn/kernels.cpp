// cnn kernels: what the seeds' classic kernels see. Applies Sobel, Scharr, Laplacian, Gaussian, the edge, line
// and diagonal features and the "upper stroke of a 9" kernel to a picture with this project's own Conv2D
// (`same` zero padding), and writes each response as a PNG.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cnn/show.h"
#include "common.h"

namespace cnn::tool {
namespace {

struct KernelsArgs {
  std::string image, out;
  int max_side = 512;
};

void run(const KernelsArgs& a) {
  const Tensor img = show::load_grey(a.image, a.max_side);
  std::filesystem::create_directories(a.out);
  if (!std::filesystem::is_directory(a.out)) throw Error(a.out + ": cannot create the folder");
  namespace fs = std::filesystem;
  const std::string input = (fs::path(a.out) / "input.png").string();
  save_grey_png(input, img.data(), img.shape().h, img.shape().w);
  std::cout << a.image << ": " << img.shape().w << "x" << img.shape().h
            << " grey, each kernel applied by Conv2D with same zero padding\n";
  std::cout << "wrote " << input << "\n";
  for (const show::ClassicKernel& k : show::classic_kernels()) {
    const Tensor r = show::apply_kernel(img, k);
    const std::string path = (fs::path(a.out) / (k.name + ".png")).string();
    const bool smoothing = std::all_of(k.weights.begin(), k.weights.end(), [](float w) { return w >= 0; });
    if (smoothing) {
      // A blur's response is an image again: grey, same brightness scale as the input.
      save_grey_png(path, r.data(), r.shape().h, r.shape().w);
    } else {
      show::write_signed_png(path, r.data(), r.shape().h, r.shape().w);
    }
    const auto [lo, hi] = std::minmax_element(r.data(), r.data() + r.size());
    std::cout << "wrote " << path << "  (" << k.description << "; response " << fixed(*lo, 3) << " .. " << fixed(*hi, 3)
              << (smoothing ? ", grey" : ", blue < 0 < red") << ")\n";
  }
}

void add(CLI::App& app) {
  auto a = std::make_shared<KernelsArgs>();
  auto* c = app.add_subcommand(
      "kernels",
      "What the classic kernels (Sobel, Scharr, Laplacian, Gaussian, edges, lines, the 9's stroke) see in a picture");
  c->add_option("image", a->image, "Picture file (PNG, JPEG, …), read as grey")->required()->check(CLI::ExistingFile);
  c->add_option("--out", a->out, "Folder to write the responses to (created if missing)")->required();
  c->add_option("--max-side", a->max_side, "Shrink pictures whose longer side exceeds this (0: never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  c->callback([a] { run(*a); });
}

const RegisterVerb reg("kernels", add);

}  // namespace
}  // namespace cnn::tool
