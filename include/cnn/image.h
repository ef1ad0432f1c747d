// Single images for prediction: PNG/JPEG/BMP/… through OpenCV's imgcodecs.
#pragma once

#include <string>

#include "cnn/tensor.h"

namespace cnn {

enum class Invert { automatic, always, never };

// Reads `path` as the network's input: grey for one channel (RGB order for three), fitted to h×w keeping the
// aspect ratio (area interpolation, centred on black), scaled to [0, 1]. Inversion rule: MNIST-style data sets
// are light strokes on black, so with Invert::automatic a picture whose border is mostly light (mean border
// brightness above one half, i.e. dark-on-light like ink on paper) is inverted first; a colour (3-channel) picture
// is a photo and only Invert::always inverts it. `inverted` reports it.
Tensor load_image(const std::string& path, Shape sample, Invert invert = Invert::automatic, bool* inverted = nullptr);

// Writes a [0, 1] grey image (1×1×h×w, or one map of a batch) as PNG; used by tests and tools.
void save_grey_png(const std::string& path, const float* pixels, int h, int w);

}  // namespace cnn
