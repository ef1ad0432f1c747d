// IDX files (the MNIST format): big-endian header, then raw bytes. zlib's gz* functions read gzip and plain
// files alike, so `.gz` is handled by the same code path.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <memory>

#include "cnn/dataset.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace cnn {

namespace {

struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

struct Idx {
  std::vector<int> dims;
  std::vector<std::uint8_t> data;
};

// Reads an IDX file of unsigned bytes with `want_dims` dimensions; checks everything a corrupt file could break.
Idx read_idx(const std::string& path, int want_dims) {
  if (!std::filesystem::exists(path)) throw Error(path + ": no such file");
  GzFile gz;
  gz.f = gzopen(path.c_str(), "rb");
  if (!gz.f) throw Error(path + ": cannot open");
  std::array<unsigned char, 4> magic{};
  if (gzread(gz.f, magic.data(), 4) != 4) throw Error(path + ": truncated IDX header (fewer than 4 bytes)");
  if (magic[0] != 0 || magic[1] != 0)
    throw Error(path + ": not an IDX file (magic number must start with two zero bytes)");
  if (magic[2] != 0x08)
    throw Error(path + ": IDX data type " + std::to_string(magic[2]) + " is not unsigned byte (0x08)");
  if (magic[3] != want_dims)
    throw Error(path + ": IDX file has " + std::to_string(magic[3]) + " dimensions, expected " +
                std::to_string(want_dims));
  Idx idx;
  std::size_t total = 1;
  for (int d = 0; d < want_dims; ++d) {
    std::array<unsigned char, 4> b{};
    if (gzread(gz.f, b.data(), 4) != 4) throw Error(path + ": truncated IDX header (dimension sizes)");
    const std::uint32_t v =
        (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
    if (v == 0 || v > (1u << 28))
      throw Error(path + ": IDX dimension " + std::to_string(d) + " has size " + std::to_string(v));
    idx.dims.push_back(int(v));
    total *= v;
    if (total > (std::size_t(1) << 33)) throw Error(path + ": IDX file claims more than 8 GiB of data");
  }
  // The buffer grows as the data arrives (64 KiB, then doubling), not to what the header promises: a 20-byte file
  // that claims 8 GiB is refused as truncated after reading 20 bytes, not after allocating and zeroing 8 GiB.
  std::size_t got = 0, step = std::size_t(1) << 16;
  while (got < total) {
    const std::size_t chunk = std::min(total - got, step);
    idx.data.resize(got + chunk);
    const int r = gzread(gz.f, idx.data.data() + got, unsigned(chunk));
    if (r < 0) {
      int err = 0;
      throw Error(path + ": corrupt compressed data (" + std::string(gzerror(gz.f, &err)) + ")");
    }
    got += std::size_t(r);
    if (std::size_t(r) < chunk) break;  // gzread gives less only at the end of the data
    step = std::min(step * 2, std::size_t(1) << 30);
  }
  idx.data.resize(got);
  if (got != total)
    throw Error(path + ": truncated: the header promises " + std::to_string(total) + " bytes of data, the file has " +
                std::to_string(got));
  unsigned char extra;
  const int r = gzread(gz.f, &extra, 1);
  if (r != 0) throw Error(path + ": " + (r < 0 ? "corrupt compressed data" : "longer than its header says"));
  return idx;
}

const char* const kMnistStems[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                   "t10k-labels-idx1-ubyte"};

// The file for one of the four names in `dir`, or "" when there is none.
std::string find_file(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const std::string& name : {stem, stem + ".gz"})
    if (fs::is_regular_file(fs::path(dir) / name, ec)) return (fs::path(dir) / name).string();
  // Some copies use a dot instead of the dash before "idx" (train-images.idx3-ubyte).
  std::string dotted = stem;
  dotted[dotted.rfind("-idx")] = '.';
  for (const std::string& name : {dotted, dotted + ".gz"})
    if (fs::is_regular_file(fs::path(dir) / name, ec)) return (fs::path(dir) / name).string();
  return "";
}

bool has_any_mnist_file(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return false;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    for (const char* stem : kMnistStems)
      if (n.starts_with(std::string(stem).substr(0, 11))) return true;  // "train-image", "t10k-labels", …
  }
  return false;
}

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path, int classes) {
  Idx im = read_idx(images_path, 3);
  Idx lb = read_idx(labels_path, 1);
  if (im.dims[0] != lb.dims[0])
    throw Error(images_path + ": holds " + std::to_string(im.dims[0]) + " images but " + labels_path + " holds " +
                std::to_string(lb.dims[0]) + " labels");
  for (std::size_t i = 0; i < lb.data.size(); ++i)
    if (lb.data[i] >= classes)
      throw Error(labels_path + ": label " + std::to_string(lb.data[i]) + " of item " + std::to_string(i) +
                  " is not below the number of classes (" + std::to_string(classes) + ")");
  Dataset d;
  d.name = images_path;
  d.sample = {1, 1, im.dims[1], im.dims[2]};
  d.classes = classes;
  d.images = std::move(im.data);
  d.labels = std::move(lb.data);
  return d;
}

std::string find_mnist_folder(const std::string& dir) {
  const std::filesystem::path d(dir);
  for (const auto& f : {d, d / "raw", d / "MNIST" / "raw", d / "FashionMNIST" / "raw"})
    if (has_any_mnist_file(f)) return f.string();
  return "";
}

DataSplit load_mnist_folder(const std::string& given, bool need_train) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(given, ec))
    throw Error(given + ": is a file, not a folder (give the folder that holds the data files)");
  if (!std::filesystem::is_directory(given, ec)) throw Error(given + ": no such folder");
  const std::string found = find_mnist_folder(given), dir = found.empty() ? given : found;
  std::string paths[4], first, others;
  for (int i = 0; i < 4; ++i) paths[i] = find_file(dir, kMnistStems[i]);
  // half a training set is a broken copy even where only the test set is needed
  const bool test_only = !need_train && paths[0].empty() && paths[1].empty();
  for (int i = 0; i < 4; ++i) {
    if (!paths[i].empty() || (test_only && i < 2)) continue;
    if (first.empty())
      first = kMnistStems[i];
    else
      others += std::string(others.empty() ? ", nor " : ", ") + kMnistStems[i];
  }
  if (!first.empty())
    throw Error(dir + ": no " + first + " (or " + first + ".gz) in this folder" + others +
                " (an MNIST-format folder holds train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each plain or .gz; " +
                "other data: CIFAR-10's binary batches, or a folder of pictures DIR/train/<class>/, "
                "DIR/test/<class>/)");
  DataSplit s;
  s.test = load_idx(paths[2], paths[3]);
  if (!paths[0].empty() || !paths[1].empty()) {
    s.train = load_idx(paths[0], paths[1]);
    if (!s.train.sample.same_sample(s.test.sample))
      throw Error(dir + ": training images are " + s.train.sample.sample_str() + " but test images are " +
                  s.test.sample.sample_str());
  } else {  // a test-only folder: no training images, of the test images' size
    s.train.name = dir;
    s.train.sample = s.test.sample;
    s.train.classes = s.test.classes;
  }
  std::string lower = dir;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (lower.find("fashion") != std::string::npos)
    s.train.class_names = s.test.class_names = fashion_mnist_class_names();
  return s;
}

std::string default_data_dir() { return "/usr/share/datasets/fashion-mnist"; }

std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

void save_idx(const Dataset& data, const std::string& images_path, const std::string& labels_path) {
  auto write = [](const std::string& path, const std::vector<int>& dims, const std::vector<std::uint8_t>& bytes) {
    const bool gzip = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    GzFile gz;
    gz.f = gzopen(path.c_str(), gzip ? "wb" : "wbT");
    if (!gz.f) throw Error(path + ": cannot write");
    std::vector<unsigned char> head{0, 0, 0x08, (unsigned char)dims.size()};
    for (int v : dims)
      for (int s = 24; s >= 0; s -= 8) head.push_back((unsigned char)((unsigned(v) >> s) & 0xff));
    if (gzwrite(gz.f, head.data(), unsigned(head.size())) != int(head.size()) ||
        (!bytes.empty() && gzwrite(gz.f, bytes.data(), unsigned(bytes.size())) != int(bytes.size())))
      throw Error(path + ": write failed");
  };
  write(images_path, {int(data.count()), data.sample.h, data.sample.w}, data.images);
  write(labels_path, {int(data.count())}, data.labels);
}

void Dataset::batch(const std::uint32_t* indices, int n, Tensor& x, int* y) const {
  const std::size_t S = sample.sample_size();
  x.resize(sample.with_batch(n));
  constexpr float inv = 1.0f / 255.0f;
  // cut as the layers cut the batch, so each image lands in the cache of the core whose first layer reads it
  const int chunks = kernels::batch_chunks(n);
  kernels::parallel_for(chunks, [&](int c) {
    for (int i = kernels::chunk_begin(n, chunks, c); i < kernels::chunk_begin(n, chunks, c + 1); ++i) {
      const std::uint8_t* src = images.data() + std::size_t(indices[i]) * S;
      float* dst = x.sample(i);
      kernels::scale_u8(src, S, inv, dst);
      y[i] = labels[indices[i]];
    }
  });
}

void Dataset::prefetch(const std::uint32_t* indices, int n) const {
  const std::size_t S = sample.sample_size();
  for (int i = 0; i < n; ++i) {
    const std::uint8_t* src = images.data() + std::size_t(indices[i]) * S;
    for (std::size_t k = 0; k < S; k += 64) __builtin_prefetch(src + k);
    __builtin_prefetch(src + S - 1);
  }
}

Dataset Dataset::slice(std::size_t begin, std::size_t n) const {
  if (begin + n > count())
    throw Error(name + ": slice [" + std::to_string(begin) + ", " + std::to_string(begin + n) + ") is beyond its " +
                std::to_string(count()) + " images");
  Dataset d;
  d.name = name;
  d.sample = sample;
  d.classes = classes;
  d.class_names = class_names;
  const std::size_t S = sample.sample_size();
  d.images.assign(images.begin() + std::ptrdiff_t(begin * S), images.begin() + std::ptrdiff_t((begin + n) * S));
  d.labels.assign(labels.begin() + std::ptrdiff_t(begin), labels.begin() + std::ptrdiff_t(begin + n));
  return d;
}

}  // namespace cnn
