// Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/, from the project's own files: the MNIST
// digits the tests use, tests/data/*.cnn, nets/*.json, and pictures, ONNX graphs and request bodies made of them.
// Each seed starts with the byte its target reads first (which file, which fit, whether to fix checksums). Run by
//   build-fuzz/fuzz/make_corpus SOURCE_DIR MNIST_DIR OUT_DIR
// after scripts/fuzz.sh build; the corpus is checked in, so this runs only when a format grows.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "cnn/dataset.h"
#include "cnn/model.h"
#include "cnn/netfile.h"
#include "cnn/onnx.h"

namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string byte(int b) { return std::string(1, char(b)); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: make_corpus SOURCE_DIR MNIST_DIR OUT_DIR\n";
    return 2;
  }
  const fs::path src = argv[1], mnist = argv[2], out = argv[3];
  const fs::path tmp = fs::temp_directory_path() / "cnn-make-corpus";
  fs::create_directories(tmp);
  const cnn::Dataset digits =
      cnn::load_idx((mnist / "train-images-idx3-ubyte").string(), (mnist / "train-labels-idx1-ubyte").string())
          .slice(0, 3);

  // idx: three digits, plain and gzip
  for (const std::string ext : {"", ".gz"}) {
    const std::string im = (tmp / ("i" + ext)).string(), lb = (tmp / ("l" + ext)).string();
    cnn::save_idx(digits, im, lb);
    put(out / "idx", "images3" + ext, byte(0) + read(im));
    put(out / "idx", "labels3" + ext, byte(1) + read(lb));
  }

  // cifar10: records of the digits on a 32×32 canvas in three planes, and the class names
  std::string records;
  for (std::size_t k = 0; k < 2; ++k) {
    records += char(digits.labels[k]);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x)
          records += (y >= 2 && y < 30 && x >= 2 && x < 30) ? char(digits.images[k * 784 + (y - 2) * 28 + x - 2]) : 0;
  }
  put(out / "cifar10", "batch1-1record", byte(0) + records.substr(0, 3073));
  put(out / "cifar10", "test-2records", byte(5) + records);
  put(out / "cifar10", "meta",
      byte(6) + "airplane  \nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");

  // picture: the first digit in the formats OpenCV writes; PNGs with the checksum-fixing bit set
  cv::Mat grey(28, 28, CV_8UC1, const_cast<std::uint8_t*>(digits.images.data()));
  cv::Mat colour, alpha, wide;
  cv::merge(std::vector<cv::Mat>{grey, 255 - grey, grey / 2}, colour);
  cv::merge(std::vector<cv::Mat>{grey, grey, grey, 255 - grey}, alpha);
  grey.convertTo(wide, CV_16U, 257);
  const auto encode = [](const std::string& ext, const cv::Mat& m, std::vector<int> params = {}) {
    std::vector<std::uint8_t> b;
    cv::imencode(ext, m, b, params);
    return std::string(b.begin(), b.end());
  };
  put(out / "picture", "grey.png", byte(0x80) + encode(".png", grey, {cv::IMWRITE_PNG_COMPRESSION, 9}));
  put(out / "picture", "colour.png", byte(0x81) + encode(".png", colour));
  put(out / "picture", "alpha.png", byte(0x82) + encode(".png", alpha));
  put(out / "picture", "16bit.png", byte(0x80) + encode(".png", wide));
  put(out / "picture", "colour.jpg", byte(1) + encode(".jpg", colour, {cv::IMWRITE_JPEG_QUALITY, 50}));
  put(out / "picture", "grey.jpg", byte(2) + encode(".jpg", grey, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  put(out / "picture", "colour.bmp", byte(0) + encode(".bmp", colour(cv::Rect(0, 0, 12, 10))));
  put(out / "picture", "grey.pgm", byte(1) + encode(".pgm", grey));
  put(out / "picture", "colour.tiff", byte(2) + encode(".tiff", colour(cv::Rect(4, 4, 16, 16))));
  put(out / "picture", "colour.webp", byte(0) + encode(".webp", colour, {cv::IMWRITE_WEBP_QUALITY, 30}));

  // model: the two format versions the tests keep, checksum fixed or not
  for (const std::string v : {"v1", "v2"}) {
    const std::string m = read(src / "tests/data" / ("model_" + v + ".cnn"));
    put(out / "model", "model_" + v, byte(0) + m);
    put(out / "model", "model_" + v + "-fixcrc", byte(1) + m);
  }

  // netfile: the small presets, as shipped
  for (const std::string n : {"seed5", "seed002", "lenet5", "book6x6", "resnet8"})
    put(out / "netfile", n + ".json", read(src / "nets" / (n + ".json")));

  // onnx: the test models exported (with and without a final Softmax, batch norm folded and not), and a tensor
  for (const std::string v : {"v1", "v2"}) {
    const cnn::Model m = cnn::load_model((src / "tests/data" / ("model_" + v + ".cnn")).string());
    put(out / "onnx", "model_" + v + ".onnx", cnn::export_onnx_bytes(m.net, {.name = v}));
    put(out / "onnx", "model_" + v + "-softmax-nofold.onnx",
        cnn::export_onnx_bytes(m.net, {.name = v, .softmax_output = true, .fold_batchnorm = false}));
  }
  put(out / "onnx", "input.pb", cnn::serialize_onnx_tensor({"input", {1, 1, 2, 3}, {0, 0.5f, 1, 0.25f, 0.75f, 1}}));

  // api: the bodies the page sends (a drawn digit, a click on the strip) and near misses
  std::string image = "{\"image\": [";
  for (int i = 0; i < 784; ++i)
    image += (i ? "," : "") + std::to_string(digits.images[std::size_t(i)] / 255.0).substr(0, 4);
  put(out / "api", "image.json", image + "], \"maps\": false}");
  put(out / "api", "sample.json", "{\"sample\": 3, \"maps\": true}");
  put(out / "api", "bad-value.json", "{\"image\": [0.5, -1, 2, \"x\", null, 1e400]}");
  put(out / "api", "not-object.json", "[1, 2, 3]");
  fs::remove_all(tmp);
  return 0;
}
