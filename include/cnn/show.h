// Pictures of what a network holds and does: its kernels, the feature maps and gradient maps of one image, the
// training curves, the confusion matrix, and what the seeds' classic kernels (Sobel, Laplacian, …) see.
//
// Layers never draw; the tools call these functions. PNGs are written through OpenCV (kept private to the
// library), line drawings as hand-written SVG. Colours: a diverging map (blue < 0 < red, white at zero, the same
// scale either side) for anything signed, so a weight's sign and size read at a glance.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cnn/image.h"
#include "cnn/network.h"
#include "cnn/tensor.h"

namespace cnn::show {

struct Rgb {
  std::uint8_t r, g, b;
};
// t in [−1, 1] (clamped): −1 dark blue, 0 white, +1 dark red (ColorBrewer's RdBu, reversed).
Rgb diverging(double t);
// t in [0, 1] (clamped): white to dark blue, for counts and non-negative values.
Rgb sequential(double t);

// ---- Kernels ----------------------------------------------------------------------------------------------
// One PNG per Conv2D layer, `kernels-layer<i>.png` in `dir`: a grid with one row per output map and one column
// per input channel, each kernel drawn weight by weight on one symmetric scale ±max|W| printed in a legend. A layer
// that reads one channel (a grey net's first) lays its kernels out as a near-square grid of numbered tiles instead
// of one tall column. The colour layer (colour_kernel_layer) is drawn as one colour patch per output map, as in the
// AlexNet paper's picture of its first-layer filters. Returns the files written; throws cnn::Error when the net has
// no Conv2D layer or a file cannot be written.
std::vector<std::string> write_kernels(const Network& net, const std::string& dir);
// The layer whose kernels look at colours: the first conv2d of a net whose input has 3 channels (R, G, B), when
// it reads 3 channels. -1 when there is none (a grey net).
int colour_kernel_layer(const Network& net);
// One weight of each of a kernel's R, G and B slices as one colour: mid-grey at zero, each channel
// 127.5 + 127.5·w/scale (clamped). `scale` is the kernel's own max|W| over all three slices, so one factor keeps
// the slices' proportions: a kernel that weighs red twice as much as green shows orange, not yellow.
Rgb kernel_colour(double r, double g, double b, double scale);

// ---- Feature maps and gradient maps ------------------------------------------------------------------------
struct LayerMaps {
  std::size_t layer = 0;
  std::string kind, summary;
  Tensor activation;  // the layer's output for the image, 1×c×h×w (a copy)
  Tensor gradient;    // ∂L/∂(that output) for the target class, same shape
};
struct MapsReport {
  Tensor input, input_gradient;  // the image and ∂L/∂image
  int target = 0;                // the class the gradients are for
  bool target_is_label = false;  // true: the image's given class; false: the predicted one
  std::vector<float> probabilities;
  std::vector<LayerMaps> layers;
};
// Runs `image` (1×c×h×w) forward and the loss for class `label` (or, when label < 0, the predicted class)
// backward, keeping every layer's output and its gradient dL/dA.
MapsReport compute_maps(Network& net, const Tensor& image, int label = -1);
// overview.png (every layer on one sheet: a row each, the input first, its first feature maps on the left and
// their gradients on the right, each on its own scale), input.png, input-gradient.png, then per layer
// maps-layer<i>-<kind>.png and grad-layer<i>-<kind>.png: every channel of the layer as one tile of a grid (a dense
// layer's units as one strip). A grey input (1 channel) is drawn as the grey picture it is (black 0, white 1); a
// colour input (3 channels) as the colour picture, and ∂L/∂input as a colour map (R, G, B the gradient of each
// channel, mid-grey at zero, kernel_colour's rule on the one scale max|∂L/∂input|) beside each channel's gradient
// in the diverging colours; the layers' maps stay one diverging tile per channel. Returns the files written, the
// overview first.
std::vector<std::string> write_maps(const MapsReport& report, const std::string& dir);

// ---- Training curves ---------------------------------------------------------------------------------------
struct EpochMetrics {
  int epoch = 0;
  double train_loss = 0, test_loss = 0, test_accuracy = 0, seconds = 0, images_per_second = 0;
};
// The metrics file `cnn train --metrics` writes: CSV with the header
// epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second — or JSON lines with those keys.
std::vector<EpochMetrics> read_metrics(const std::string& path);
// The last run in a file that holds several: epoch 1 starts a run; an epoch at or below the previous row's is a
// resumed run taking over from there (its rows replace those from that epoch on). `runs` gets how many began.
std::vector<EpochMetrics> last_run(const std::vector<EpochMetrics>& metrics, int* runs = nullptr);
// Two panels side by side: loss per epoch (train and test) and test accuracy per epoch, as an SVG document.
std::string curves_svg(const std::vector<EpochMetrics>& metrics, const std::string& title);
void write_curves(const std::vector<EpochMetrics>& metrics, const std::string& path, const std::string& title);

// ---- Confusion matrix --------------------------------------------------------------------------------------
// confusion[true][predicted] counts as a PNG: each cell shaded by its share of the true class's row, the count
// printed in it, class names on the rows, class numbers on the columns.
void write_confusion(const std::vector<std::vector<std::size_t>>& confusion, const std::vector<std::string>& names,
                     const std::string& path);

// ---- What a classic kernel sees (seed 004) -----------------------------------------------------------------
struct ClassicKernel {
  std::string name;         // file-name friendly: "sobel-x"
  std::string description;  // one line for people
  int h = 3, w = 3;
  std::vector<float> weights;  // row-major h×w
};
// Sobel X/Y, Scharr X/Y, Laplacian, Gaussian (σ = 1, 5×5, normalised to sum 1), edge 1 and 2, line, diagonal,
// and the "upper stroke of a 9" kernel, as seed 004 lists them.
std::vector<ClassicKernel> classic_kernels();
// response = image ⊗ kernel, computed by this library's own Conv2D (a one-layer network with the weights set by
// hand and `same` zero padding). image: 1×1×h×w; the response has the same shape.
Tensor apply_kernel(const Tensor& image, const ClassicKernel& kernel);
// A picture file as one grey image (1×1×h×w, values in [0, 1]) at its own size, shrunk (area interpolation) so
// that its longer side is at most max_side when max_side > 0. Decoded as cnn predict decodes it (a PNG's
// transparency laid on paper), and inverted by the rule cnn predict follows for a picture taken whole (its default
// for any fit but mnist: a border that is light on the whole is ink on paper) when `invert` is automatic, or always
// when it is Invert::always: the classic kernels, like the data sets, look for light strokes on black. `inverted`
// reports it. Throws cnn::Error naming the file.
Tensor load_grey(const std::string& path, int max_side = 0, Invert invert = Invert::never, bool* inverted = nullptr);
// The rows and columns of a response that `same` zero padding reached (the convolution's own Pads): the kernel's
// window there overlaps the zeros around the picture, so a light picture gets a bright frame that says nothing
// about the picture.
Pads padding_frame(const ClassicKernel& kernel);
// Smallest and largest value of `response` (1×1×h×w) inside the frame (all of it when the frame leaves nothing).
std::pair<float, float> inner_range(const Tensor& response, const Pads& frame);
// A titled picture of a grey image or a kernel's response: `title` and `note` above it, the map drawn with
// whole pixels per value so that its longer side reaches at least min_side pixels (small pictures are upscaled, never
// smoothed), and its colour bar beside it. `grey`: black 0 to white 1; else the diverging colours on
// ±max|v| over the values inside `frame` (the frame is drawn, clamped to that scale, and outlined).
void write_map_picture(const std::string& path, const Tensor& map, const std::string& title, const std::string& note,
                       bool grey, const Pads& frame = {}, int min_side = 320);

// ---- Plain images ------------------------------------------------------------------------------------------
// A signed map (h×w floats) as a PNG in the diverging colours, scaled so that ±max|v| reach the ends; each
// pixel drawn as a scale×scale block.
void write_signed_png(const std::string& path, const float* values, int h, int w, int scale = 1);

}  // namespace cnn::show
