// What the picture files of src/show share: colours as OpenCV pixels, tiles of values, text, a colour legend, and
// saving a PNG atomically (a failed write never leaves half a picture).
#pragma once

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "cnn/show.h"

namespace cnn::show::draw {

inline cv::Scalar bgr(Rgb c) { return {double(c.b), double(c.g), double(c.r)}; }
inline const cv::Scalar kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrey{110, 110, 110};

// A white canvas of w×h pixels.
cv::Mat canvas(int w, int h);
// values (h×w, row-major) drawn at (x, y), each value a cell×cell block coloured by diverging(v / scale).
void signed_tile(cv::Mat& img, int x, int y, const float* values, int h, int w, int cell, double scale);
// h×w pixels of a colour picture drawn at (x, y), each a cell×cell block: the R, G and B values are planes[i],
// planes[i + stride], planes[i + 2·stride] (i = r·w + c), intensities in [0, 1] (clamped) when `scale` is 0, else
// signed values drawn by kernel_colour(…, scale).
void colour_tile(cv::Mat& img, int x, int y, const float* planes, std::size_t stride, int h, int w, int cell,
                 double scale = 0.0);
// Text with its baseline at (x, y); scale 0.4 is about 9 px tall.
void text(cv::Mat& img, const std::string& s, int x, int y, double scale = 0.4, cv::Scalar colour = kBlack);
int text_width(const std::string& s, double scale = 0.4);
// values (h×w) drawn at (x, y) as grey, each a cell×cell block: `lo` black, `hi` white (clamped).
void grey_tile(cv::Mat& img, int x, int y, const float* values, int h, int w, int cell, double lo = 0.0,
               double hi = 1.0);
// A vertical grey bar from `hi` (white, top) to `lo` (black, bottom), labelled, `h` pixels tall at (x, y). Returns
// the width it took.
int grey_legend(cv::Mat& img, int x, int y, int h, double lo = 0.0, double hi = 1.0);
// A vertical colour bar from +scale (top) through 0 to −scale (bottom), labelled, `h` pixels tall at (x, y).
// Returns the width it took.
int legend(cv::Mat& img, int x, int y, int h, double scale);
// Largest |v| over n values, or 1 when all are zero (so a blank map stays white instead of dividing by zero).
double max_abs(const float* v, std::size_t n);
// "0.0123", "-1.5e-05": short, readable numbers for legends.
std::string number(double v);
// Encodes as PNG and writes it atomically; throws cnn::Error naming the file.
void save_png(const cv::Mat& img, const std::string& path);
// Creates `dir` (and its parents) unless it exists; throws cnn::Error naming it.
void make_dir(const std::string& dir);

}  // namespace cnn::show::draw
