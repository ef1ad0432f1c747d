// What load_image and the picture-folder loader share, so that a picture reaches the network as the same bytes
// whichever path reads it: decoding to 8-bit grey or RGB, and fitting to the input size.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

#include "cnn/image.h"

namespace cnn::picture {

// `path` decoded as 8-bit grey (channels 1) or R, G, B (channels 3); an empty Mat when it cannot be read, and then
// `why` (when given) says why in the project's words.
cv::Mat decode(const std::string& path, int channels, std::string* why = nullptr);
// The same from a file's bytes.
cv::Mat decode_bytes(const std::string& bytes, int channels, std::string* why = nullptr);
// `img` (8-bit, 1 or 3 channels) brought to h×w by `fit`; a new Mat, never a view of `img`.
cv::Mat fit_to(const cv::Mat& img, int h, int w, Fit fit);
// An h×w 8-bit Mat of `channels` channels as planes: out[(c·h + y)·w + x] (the Dataset's layout).
void to_planes(const cv::Mat& img, std::uint8_t* out);

}  // namespace cnn::picture
