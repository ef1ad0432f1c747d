// Single images for prediction: PNG/JPEG/BMP/… through OpenCV's imgcodecs.
#pragma once

#include <string>

#include "cnn/tensor.h"

namespace cnn {

enum class Invert { automatic, always, never };

// How a picture of another size is brought to the network's h×w input:
//   crop    — the shorter side scaled to its input size, then the centre cut out (no borders, no distortion);
//   stretch — each side scaled to its input size (the whole picture, distorted);
//   pad     — the longer side scaled to its input size, then centred on black (the whole picture, undistorted).
enum class Fit { crop, stretch, pad };
// "crop", "stretch" or "pad"; cnn::Error listing the three otherwise.
Fit parse_fit(const std::string& name);
std::string fit_name(Fit fit);

// Reads `path` as the network's input: grey for one channel (RGB order for three), fitted to h×w by `fit` (area
// interpolation when shrinking, bilinear when enlarging), scaled to [0, 1]: the bytes a picture folder of the same
// file gives the trainer. Inversion rule: MNIST-style data sets are light strokes on black, so with
// Invert::automatic a picture whose border is mostly light (mean border brightness above one half, i.e.
// dark-on-light like ink on paper) is inverted first; a colour (3-channel) picture is a photo and only
// Invert::always inverts it. `inverted` reports it. Inversion comes before fitting, so pad's borders stay black.
Tensor load_image(const std::string& path, Shape sample, Invert invert = Invert::automatic, bool* inverted = nullptr,
                  Fit fit = Fit::pad);

// Writes a [0, 1] grey image (1×1×h×w, or one map of a batch) as PNG; used by tests and tools.
void save_grey_png(const std::string& path, const float* pixels, int h, int w);

}  // namespace cnn
