#include "cnn/image.h"

#include <png.h>

#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cnn/dataset.h"
#include "io/picture.h"

namespace cnn {

Fit parse_fit(const std::string& name) {
  if (name == "crop") return Fit::crop;
  if (name == "stretch") return Fit::stretch;
  if (name == "pad") return Fit::pad;
  if (name == "mnist") return Fit::mnist;
  throw Error("fit: expected crop, stretch or pad, or mnist (ink fitted as MNIST's digits were), got \"" + name + "\"");
}

std::string fit_name(Fit fit) {
  switch (fit) {
    case Fit::crop:
      return "crop";
    case Fit::stretch:
      return "stretch";
    case Fit::pad:
      return "pad";
    case Fit::mnist:
      return "mnist";
  }
  return "pad";
}

Fit default_fit(const std::string& saved, Shape input, const std::vector<std::string>& class_names) {
  if (!saved.empty()) return parse_fit(saved);
  const bool mnist_like = input.c == 1 && input.h == 28 && input.w == 28;
  return mnist_like && class_names != fashion_mnist_class_names() ? Fit::mnist : Fit::pad;
}

namespace picture {

namespace {

// What libpng said about a PNG: the error that stopped it, and its warnings.
struct PngReport {
  std::string error;
  std::vector<std::string> warnings;
};

struct PngInput {
  const std::string& bytes;
  std::size_t at = 0;
  PngReport& report;
};

void png_on_error(png_structp png, png_const_charp message) {
  static_cast<PngInput*>(png_get_error_ptr(png))->report.error = message;
  png_longjmp(png, 1);
}
void png_on_warning(png_structp png, png_const_charp message) {
  static_cast<PngInput*>(png_get_error_ptr(png))->report.warnings.emplace_back(message);
}
void png_on_read(png_structp png, png_bytep out, png_size_t n) {
  auto* in = static_cast<PngInput*>(png_get_io_ptr(png));
  if (n > in->bytes.size() - in->at) png_error(png, "the file ends early");
  std::memcpy(out, in->bytes.data() + in->at, n);
  in->at += n;
}

// The reading itself, in a frame of its own: libpng's errors longjmp back into it, so nothing here may need a
// destructor or be read after the jump (the row lives in the caller).
void read_png(png_structp png, png_infop info, PngInput& in, std::vector<png_byte>& row) {
  if (setjmp(png_jmpbuf(png))) return;
  png_set_read_fn(png, &in, png_on_read);
  png_read_info(png, info);
  const std::uint64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (w * h > (std::uint64_t(1) << 30)) {  // OpenCV's own ceiling (CV_IO_MAX_IMAGE_PIXELS)
    in.report.error = std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the 2^30 OpenCV reads";
    return;
  }
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  row.resize(png_get_rowbytes(png, info));
  for (int p = 0; p < passes; ++p)
    for (std::uint64_t y = 0; y < h; ++y) png_read_row(png, row.data(), nullptr);
  png_read_end(png, info);
}

// Reads the whole PNG through libpng, row by row into one row's space, and reports what libpng says. OpenCV creates
// its PNG reader with no error or warning functions (png_create_read_struct(…, 0, 0, 0)), so libpng's defaults
// write "libpng error: …" and "libpng warning: …" to stderr, around the project's own message and from any thread;
// so a PNG reaches OpenCV only after this pass, whose functions keep the messages instead.
PngReport check_png(const std::string& bytes) {
  PngReport report;
  PngInput in{bytes, 0, report};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &in, png_on_error, png_on_warning);
  if (!png) return report;  // out of memory: OpenCV's own attempt will say so
  png_infop info = png_create_info_struct(png);
  std::vector<png_byte> row;
  if (info) read_png(png, info, in, row);
  png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  return report;
}

// The PNG without its ancillary chunk `name` (tEXt, iCCP, …: nothing OpenCV draws with), every copy of it.
std::string without_chunk(const std::string& b, const std::string& name) {
  std::string out = b.substr(0, 8);
  std::size_t at = 8;
  while (at + 12 <= b.size()) {
    const auto u8 = [&](std::size_t i) { return std::uint32_t(std::uint8_t(b[i])); };
    const std::uint32_t len = u8(at) << 24 | u8(at + 1) << 16 | u8(at + 2) << 8 | u8(at + 3);
    if (len > b.size() - at - 12) break;
    if (b.compare(at + 4, 4, name) != 0) out.append(b, at, 12 + len);
    at += 12 + std::size_t(len);
  }
  return out.append(b, std::min(at, b.size()));
}

// The ancillary chunk a libpng warning names ("tEXt: CRC error", "iCCP: known incorrect sRGB profile"), or "".
std::string ancillary_chunk_of(const std::string& warning) {
  if (warning.size() < 6 || warning.compare(4, 2, ": ") != 0) return "";
  const std::string name = warning.substr(0, 4);
  const bool letters = std::all_of(name.begin(), name.end(), [](char c) { return std::isalpha((unsigned char)c); });
  return letters && std::islower((unsigned char)name[0]) ? name : "";  // a lower-case first letter: ancillary
}

// Whether a PNG may hold transparent pixels: an alpha channel (colour types 4 and 6) or a tRNS chunk.
bool png_may_be_transparent(const std::string& b) {
  if (b.size() < 26 || b.compare(12, 4, "IHDR") != 0) return false;
  return (std::uint8_t(b[25]) & 4) != 0 || b.find("tRNS") != std::string::npos;
}

// The picture laid on paper, or an empty Mat when it has no transparent pixel. Paper is what the ink is not: white
// under opaque pixels that are dark on the whole, black under light ones.
cv::Mat on_paper(const std::string& bytes, int channels) {
  const cv::Mat buf(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat raw = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  if (raw.empty() || (raw.channels() != 4 && raw.channels() != 2)) return {};
  if (raw.depth() != CV_8U) raw.convertTo(raw, CV_8U, raw.depth() == CV_16U ? 1.0 / 257 : 1.0);
  std::vector<cv::Mat> planes;
  cv::split(raw, planes);
  const cv::Mat alpha = planes.back();
  planes.pop_back();
  double lowest = 0;
  cv::minMaxLoc(alpha, &lowest);
  if (lowest >= 255) return {};
  cv::Mat colour, grey;
  if (planes.size() == 1)
    cv::cvtColor(planes[0], colour, cv::COLOR_GRAY2BGR);
  else
    cv::merge(planes, colour);
  cv::cvtColor(colour, grey, cv::COLOR_BGR2GRAY);
  const double weight = cv::sum(alpha)[0];
  const bool ink_dark = weight <= 0 || grey.dot(alpha) / weight < 128;
  cv::Mat a, c;
  alpha.convertTo(a, CV_32F, 1.0 / 255);
  cv::cvtColor(a, a, cv::COLOR_GRAY2BGR);
  colour.convertTo(c, CV_32F);
  const cv::Mat paper(c.size(), CV_32FC3, cv::Scalar::all(ink_dark ? 255.0 : 0.0));
  cv::Mat laid = c.mul(a) + paper.mul(cv::Scalar::all(1.0) - a);
  laid.convertTo(laid, CV_8U);  // rounds and saturates
  if (channels == 1) cv::cvtColor(laid, laid, cv::COLOR_BGR2GRAY);
  return laid;
}

}  // namespace

cv::Mat decode_bytes(const std::string& given, int channels, std::string* why, bool* transparent) {
  const auto refuse = [&](const std::string& reason) {
    if (why) *why = reason;
    return cv::Mat();
  };
  if (given.empty()) return refuse("not a readable image (the file is empty)");
  std::string bytes = given;
  if (bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) {
    // A warning about an ancillary chunk (a damaged text, a known bad colour profile) costs that chunk, which the
    // decoder ignores anyway; any other message means the picture itself is damaged.
    for (int round = 0;; ++round) {
      const PngReport r = check_png(bytes);
      if (!r.error.empty()) return refuse("not a readable image (a damaged PNG: libpng says \"" + r.error + "\")");
      if (r.warnings.empty()) break;
      const std::string chunk = ancillary_chunk_of(r.warnings.front());
      if (chunk.empty() || round == 8)
        return refuse("not a readable image (a damaged PNG: libpng says \"" + r.warnings.front() + "\")");
      bytes = without_chunk(bytes, chunk);
    }
  }
  cv::Mat img;
  if (transparent) *transparent = false;
  try {
    // Read as grey or colour, a transparent pixel is its colour value, black in most files: ink on a transparent
    // page would be ink on black, and be lost. The pixels without transparency decode exactly as before.
    if (bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 && png_may_be_transparent(bytes)) img = on_paper(bytes, channels);
    if (!img.empty() && transparent) *transparent = true;
    if (img.empty()) {
      const cv::Mat buf(1, int(bytes.size()), CV_8U, bytes.data());
      img = cv::imdecode(buf, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
    }
  } catch (const cv::Exception&) {
    img = cv::Mat();
  }
  if (img.empty()) return refuse("not a readable image (PNG, JPEG, BMP, …)");
  if (channels == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  return img;
}

cv::Mat decode(const std::string& path, int channels, std::string* why, bool* transparent) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (why) *why = "cannot open";
    return {};
  }
  return decode_bytes(std::string(std::istreambuf_iterator<char>(f), {}), channels, why, transparent);
}

namespace {

// Area averaging when the picture shrinks (no aliasing of fine strokes), bilinear when it grows.
cv::Mat resized(const cv::Mat& img, int h, int w) {
  if (img.rows == h && img.cols == w) return img.clone();
  cv::Mat out;
  const bool shrinks = h <= img.rows && w <= img.cols;
  cv::resize(img, out, cv::Size(w, h), 0, 0, shrinks ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

// Less than this between the paper and the ink, of 255, is no ink.
constexpr int kFaintest = 24;

// The value below which a fraction `q` of an 8-bit one-channel picture's pixels (under `mask`) lie.
int percentile(const cv::Mat& grey, double q, const cv::Mat& mask = cv::Mat()) {
  cv::Mat hist;
  const int size = 256, channel = 0;
  const float range[] = {0, 256};
  const float* ranges = range;
  cv::calcHist(&grey, 1, &channel, mask, hist, 1, &size, &ranges);
  const double want = q * cv::sum(hist)[0];
  double seen = 0;
  for (int v = 0; v < 256; ++v)
    if ((seen += hist.at<float>(v)) > want) return v;
  return 255;
}

// A working copy of at most 512 pixels a side: enough for a 20-pixel digit, and cheap to filter.
cv::Mat working_copy(const cv::Mat& grey) {
  const double scale = std::min(1.0, 512.0 / std::max(grey.rows, grey.cols));
  if (scale >= 1) return grey.clone();
  return resized(grey, std::max(1, int(std::lround(grey.rows * scale))),
                 std::max(1, int(std::lround(grey.cols * scale))));
}

// MNIST's construction on a picture of light ink on a dark ground, grey out.
cv::Mat fit_mnist(const cv::Mat& grey_in, int h, int w, bool* blank) {
  if (blank) *blank = false;
  const cv::Mat grey = working_copy(grey_in);
  // The ground under uneven light: the median around each pixel, over half the picture's shorter side (ink is
  // the lesser part of that, unless a stroke is as wide as a quarter of it), follows gradients and the edge of a
  // shadow. Ink is its height above the ground, as a share of what the ground leaves (a shadowed page's ink counts
  // in full).
  const int k = std::max(3, std::min(grey.rows, grey.cols) / 2) | 1;
  cv::Mat ground, g, inkf;
  cv::medianBlur(grey, ground, std::min(k, 255));
  cv::min(ground, grey, ground);
  grey.convertTo(g, CV_32F);
  ground.convertTo(inkf, CV_32F);
  const cv::Mat room = cv::max(255.0 - inkf, 1.0);
  inkf = (g - inkf) / room * 255.0;
  cv::Mat ink;
  inkf.convertTo(ink, CV_8U);
  // The brightest ink, not the brightest grain of noise: a 3×3 median keeps strokes and drops lone pixels.
  cv::Mat smooth;
  cv::medianBlur(ink, smooth, 3);
  double peak = 0;
  cv::minMaxLoc(smooth, nullptr, &peak);
  cv::Mat mask;
  const double otsu = cv::threshold(ink, mask, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  // Otsu's level splits ink from paper; on a clean page it may sit in the noise, so never below a third of the ink.
  cv::threshold(ink, mask, std::max({otsu, peak / 3, double(kFaintest)}), 255, cv::THRESH_BINARY);
  // The digit is its strongest stroke and the strokes near it. Specks of dust are small beside it, and what is
  // left of a shadow's edge or a dark corner is faint beside ink: neither joins it.
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  const auto area = [&](int i) { return stats.at<int>(i, cv::CC_STAT_AREA); };
  const auto rect = [&](int i) {
    return cv::Rect(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                    stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
  };
  int largest = 0;
  for (int i = 1; i < n; ++i) largest = std::max(largest, area(i));
  std::vector<int> strong;
  for (int i = 1; i < n; ++i) {
    if (area(i) * 20 < largest) continue;
    double top = 0;
    cv::minMaxLoc(smooth(rect(i)), nullptr, &top, nullptr, nullptr, labels(rect(i)) == i);
    if (top * 2 >= peak) strong.push_back(i);
  }
  int main_part = 0;
  for (int i : strong)
    if (main_part == 0 || area(i) > area(main_part)) main_part = i;
  cv::Mat kept = cv::Mat::zeros(mask.size(), CV_8U);
  if (main_part > 0) {
    const cv::Rect m = rect(main_part);
    const int reach = std::max(m.width, m.height) / 2;
    const cv::Rect near(m.x - reach, m.y - reach, m.width + 2 * reach, m.height + 2 * reach);
    for (int i : strong)
      if ((rect(i) & near).area() > 0) kept.setTo(255, labels == i);
  }
  if (peak <= kFaintest || cv::countNonZero(kept) == 0) {
    if (blank) *blank = true;
    return cv::Mat::zeros(h, w, CV_8U);
  }
  // The strokes keep their soft edges (a pixel around the kept ink, stretched from the faintest ink to the
  // strongest), so a picture already at MNIST's scale stays as it was drawn.
  cv::Mat soft, around;
  cv::dilate(kept, around, cv::Mat());
  ink.convertTo(soft, CV_8U, 255.0 / (peak - kFaintest), -255.0 * kFaintest / (peak - kFaintest));
  soft.setTo(0, around == 0);
  const cv::Rect box = cv::boundingRect(soft);
  // The box's longer side to 20 of 28 (area averaging anti-aliases the edges as MNIST's were), then the strokes as
  // bright as MNIST's: its brightest pixel at 255.
  const double scale = std::min(h * 20.0 / 28 / box.height, w * 20.0 / 28 / box.width);
  const int bh = std::clamp(int(std::lround(box.height * scale)), 1, h),
            bw = std::clamp(int(std::lround(box.width * scale)), 1, w);
  cv::Mat digit = resized(soft(box), bh, bw);
  double top = 0;
  cv::minMaxLoc(digit, nullptr, &top);
  if (top > 0) digit.convertTo(digit, CV_8U, 255.0 / top);
  // Its centre of mass on the middle pixel (14, 14 of 28×28), to the nearest pixel as MNIST placed them.
  const cv::Moments mo = cv::moments(digit);
  const double cx = mo.m00 > 0 ? mo.m10 / mo.m00 : bw / 2.0, cy = mo.m00 > 0 ? mo.m01 / mo.m00 : bh / 2.0;
  const cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, std::lround(w / 2.0 - cx), 0, 1, std::lround(h / 2.0 - cy));
  cv::Mat out;
  cv::warpAffine(digit, out, shift, cv::Size(w, h), cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar(0));
  return out;
}

}  // namespace

bool dark_on_light(const cv::Mat& grey_in, bool* uniform) {
  const cv::Mat grey = working_copy(grey_in);
  // Where the light is even (the border is of one tone), the paper is the border and one end of the picture's
  // tones: ink lies the other way.
  const int bh = std::max(1, grey.rows / 10), bw = std::max(1, grey.cols / 10);
  cv::Mat border(grey.size(), CV_8U, cv::Scalar(255));
  border(cv::Rect(bw, bh, std::max(0, grey.cols - 2 * bw), std::max(0, grey.rows - 2 * bh))).setTo(0);
  const int paper = percentile(grey, 0.5, border), low = percentile(grey, 0.01), high = percentile(grey, 0.99);
  const bool even = percentile(grey, 0.9, border) - percentile(grey, 0.1, border) < kFaintest;
  const bool darkest = paper - low < kFaintest, lightest = high - paper < kFaintest;
  if (even && darkest != lightest) {
    if (uniform) *uniform = false;
    return lightest;
  }
  // Where it is not, the paper near each pixel is the median around it (ink is the lesser part of a sixth of a
  // page); ink is what lies well below it or well above it, and there is more of it, by depth, on its own side.
  // The inside of a loop is paper, as far from ink one way as the other.
  const int k = std::max(3, std::min(grey.rows, grey.cols) / 6) | 1;
  cv::Mat local, g, p;
  cv::medianBlur(grey, local, std::min(k, 255));
  grey.convertTo(g, CV_32F);
  local.convertTo(p, CV_32F);
  const cv::Mat d = g - p;
  cv::Mat below, above;
  cv::threshold(-d, below, kFaintest, 0, cv::THRESH_TOZERO);
  cv::threshold(d, above, kFaintest, 0, cv::THRESH_TOZERO);
  const double darker = cv::sum(below)[0], lighter = cv::sum(above)[0];
  const bool none = darker + lighter <= 0;
  if (uniform) *uniform = none;
  if (none) return cv::mean(grey)[0] > 127;
  return darker > lighter;
}

bool dark_on_light(const cv::Mat& grey, Fit fit, bool* uniform) {
  if (fit == Fit::mnist) return dark_on_light(grey, uniform);
  // Border brightness decides whether this is dark ink on a light page.
  const int bh = std::max(1, grey.rows / 10), bw = std::max(1, grey.cols / 10);
  cv::Mat mask = cv::Mat::ones(grey.size(), CV_8U) * 255;
  mask(cv::Rect(bw, bh, std::max(0, grey.cols - 2 * bw), std::max(0, grey.rows - 2 * bh))).setTo(0);
  if (uniform) dark_on_light(grey, uniform);  // only for whether it has ink at all
  return cv::mean(grey, mask)[0] / 255.0 > 0.5;
}

cv::Mat fit_to(const cv::Mat& img, int h, int w, Fit fit, bool* blank) {
  if (blank) *blank = false;
  if (fit == Fit::mnist) {
    if (img.channels() == 1) return fit_mnist(img, h, w, blank);
    cv::Mat grey, out;
    cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
    cv::cvtColor(fit_mnist(grey, h, w, blank), out, cv::COLOR_GRAY2RGB);
    return out;
  }
  if (fit == Fit::stretch) return resized(img, h, w);
  const double sy = double(h) / img.rows, sx = double(w) / img.cols;
  const double scale = fit == Fit::crop ? std::max(sy, sx) : std::min(sy, sx);
  const int nh = int(std::lround(img.rows * scale)), nw = int(std::lround(img.cols * scale));
  if (fit == Fit::crop) {
    // At least the input size, so rounding never leaves a row or column to fill.
    const cv::Mat big = resized(img, std::max(h, nh), std::max(w, nw));
    return big(cv::Rect((big.cols - w) / 2, (big.rows - h) / 2, w, h)).clone();
  }
  const cv::Mat small = resized(img, std::clamp(nh, 1, h), std::clamp(nw, 1, w));
  cv::Mat canvas = cv::Mat::zeros(h, w, img.type());
  small.copyTo(canvas(cv::Rect((w - small.cols) / 2, (h - small.rows) / 2, small.cols, small.rows)));
  return canvas;
}

void to_planes(const cv::Mat& img, std::uint8_t* out) {
  const int h = img.rows, w = img.cols, c = img.channels();
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* row = img.ptr<std::uint8_t>(y);
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) out[(std::size_t(k) * h + y) * w + x] = row[x * c + k];
  }
}

}  // namespace picture

Tensor load_picture(const std::string& path, Shape sample, Invert invert, Fit fit, PictureNotes* notes) {
  if (!std::filesystem::exists(path)) throw Error(path + ": no such file");
  if (sample.c != 1 && sample.c != 3)
    throw Error(path + ": the network takes " + std::to_string(sample.c) + " channels; images give 1 or 3");
  std::string why;
  PictureNotes found;
  cv::Mat img = picture::decode(path, sample.c, &why, &found.transparent);
  if (img.empty()) throw Error(path + ": " + why);

  cv::Mat grey;
  if (sample.c == 1)
    grey = img;
  else
    cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
  bool one_tone = false;
  found.dark_on_light = picture::dark_on_light(grey, fit, &one_tone);
  // A colour network was trained on photos, not on strokes: a photo with a bright sky is no page of ink, so `auto`
  // never inverts one (only `always` does); asked to fit ink the MNIST way, it is a page of ink.
  found.inverted = invert == Invert::always ||
                   (invert == Invert::automatic && (sample.c == 1 || fit == Fit::mnist) && found.dark_on_light);
  if (found.inverted) cv::bitwise_not(img, img);  // 255 − v, exact

  bool blank = false;
  const cv::Mat fitted = picture::fit_to(img, sample.h, sample.w, fit, &blank);
  found.uniform = one_tone || blank;
  if (notes) *notes = found;
  std::vector<std::uint8_t> planes(sample.sample_size());
  picture::to_planes(fitted, planes.data());
  Tensor x(sample.with_batch(1));
  constexpr float inv255 = 1.0f / 255.0f;  // as Dataset::batch scales, so the same picture gives the same floats
  for (std::size_t i = 0; i < planes.size(); ++i) x[i] = float(planes[i]) * inv255;
  return x;
}

Tensor load_image(const std::string& path, Shape sample, Invert invert, bool* inverted, Fit fit) {
  PictureNotes notes;
  Tensor x = load_picture(path, sample, invert, fit, &notes);
  if (inverted) *inverted = notes.inverted;
  return x;
}

void save_grey_png(const std::string& path, const float* pixels, int h, int w) {
  cv::Mat m(h, w, CV_8UC1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(std::lround(pixels[y * w + x] * 255.0f));
  if (!cv::imwrite(path, m)) throw Error(path + ": cannot write PNG");
}

}  // namespace cnn
