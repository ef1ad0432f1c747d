// Single images for prediction: PNG/JPEG/BMP/… through OpenCV's imgcodecs.
#pragma once

#include <string>
#include <vector>

#include "cnn/tensor.h"

namespace cnn {

enum class Invert { automatic, always, never };

// How a picture of another size is brought to the network's h×w input:
//   crop    — the shorter side scaled to its input size, then the centre cut out (no borders, no distortion);
//   stretch — each side scaled to its input size (the whole picture, distorted; torchvision's Resize((h, w)));
//   pad     — the longer side scaled to its input size, then centred on black (the whole picture, undistorted);
//   mnist   — a photo of ink fitted the way MNIST's digits were made: the paper's uneven light flattened away, the
//             ink thresholded (Otsu), cut to its bounding box, scaled to fit 20×20 (of 28×28, in proportion for
//             other sizes) keeping its aspect, and placed with its centre of mass in the middle.
enum class Fit { crop, stretch, pad, mnist };
// "crop", "stretch", "pad" or "mnist"; cnn::Error listing them otherwise.
Fit parse_fit(const std::string& name);
std::string fit_name(Fit fit);
// The fit a model's pictures get unless told otherwise: the one it was trained with (`saved`, from a picture
// folder); else mnist for a 1×28×28 input (a model of MNIST-like data, whose pictures were made that way) unless its
// classes are Fashion-MNIST's (whose pictures fill the frame: mnist's 20×20 box costs them most of their accuracy);
// else pad.
Fit default_fit(const std::string& saved, Shape input, const std::vector<std::string>& class_names);

// Reads `path` as the network's input: grey for one channel (RGB order for three), fitted to h×w by `fit` (area
// interpolation when shrinking, bilinear when enlarging), scaled to [0, 1]: the bytes a picture folder of the same
// file gives the trainer. Inversion rule: MNIST-style data sets are light strokes on black, so with
// Invert::automatic a picture whose border is mostly light (mean border brightness above one half, i.e.
// dark-on-light like ink on paper) is inverted first; a colour (3-channel) picture is a photo and only
// Invert::always inverts it. `inverted` reports it. Inversion comes before fitting, so pad's borders stay black.
// With Fit::mnist the paper's tone decides instead (see load_picture).
Tensor load_image(const std::string& path, Shape sample, Invert invert = Invert::automatic, bool* inverted = nullptr,
                  Fit fit = Fit::pad);

// What reading a picture found out besides its pixels.
struct PictureNotes {
  bool inverted = false;       // it was inverted before fitting
  bool dark_on_light = false;  // the reading of the picture that Invert::automatic follows
  bool uniform = false;        // nothing stands out from the background (a blank or one-tone picture)
  bool transparent = false;    // it had transparent pixels, laid on paper: white under dark ink, black under light
};
// load_image, saying what it found. With Fit::mnist a picture is dark on light by the paper's tone, read so that a
// dim or unevenly lit page still reads as paper: where the border is of one tone and at one end of the picture's
// tones, ink lies the other way; otherwise ink is what lies well below or above the median around it, on the side
// with more of it.
Tensor load_picture(const std::string& path, Shape sample, Invert invert, Fit fit, PictureNotes* notes = nullptr);

// Writes a [0, 1] grey image (1×1×h×w, or one map of a batch) as PNG; used by tests and tools.
void save_grey_png(const std::string& path, const float* pixels, int h, int w);

}  // namespace cnn
