// What load_image and the picture-folder loader share, so that a picture reaches the network as the same bytes
// whichever path reads it: decoding to 8-bit grey or RGB, and fitting to the input size.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

#include "cnn/image.h"

namespace cnn::picture {

// `path` decoded as 8-bit grey (channels 1) or R, G, B (channels 3); an empty Mat when it cannot be read, and then
// `why` (when given) says why in the project's words. A PNG's transparent pixels become paper: white where the
// opaque pixels are dark on the whole (ink), black where they are light; `transparent` says when there were any.
cv::Mat decode(const std::string& path, int channels, std::string* why = nullptr, bool* transparent = nullptr);
// The same from a file's bytes.
cv::Mat decode_bytes(const std::string& bytes, int channels, std::string* why = nullptr, bool* transparent = nullptr);
// `img` (8-bit, 1 or 3 channels) brought to h×w by `fit`; a new Mat, never a view of `img`. Fit::mnist expects
// light ink on a dark ground (inverted first when it was ink on paper) and sets `blank` when it found no ink.
cv::Mat fit_to(const cv::Mat& img, int h, int w, Fit fit, bool* blank = nullptr);
// Whether a grey picture is dark ink on light paper, read robustly (see cnn::load_picture); `uniform` is set when
// it has no ink of either kind.
bool dark_on_light(const cv::Mat& grey, bool* uniform = nullptr);
// The reading Invert::automatic follows for a picture fitted by `fit` (cnn predict, cnn serve, cnn kernels): with
// Fit::mnist the robust reading above, else a border that is light on the whole (mean above one half).
bool dark_on_light(const cv::Mat& grey, Fit fit, bool* uniform = nullptr);
// An h×w 8-bit Mat of `channels` channels as planes: out[(c·h + y)·w + x] (the Dataset's layout).
void to_planes(const cv::Mat& img, std::uint8_t* out);

}  // namespace cnn::picture
