// IDX files (the MNIST format): big-endian header, then raw bytes. zlib's gz* functions read gzip and plain
// files alike, so `.gz` is handled by the same code path.
#include <zlib.h>

#include <array>
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

std::string find_file(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  for (const std::string& name : {stem, stem + ".gz"})
    if (fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  // Some copies use a dot instead of the dash before "idx" (train-images.idx3-ubyte).
  std::string dotted = stem;
  dotted[dotted.rfind("-idx")] = '.';
  for (const std::string& name : {dotted, dotted + ".gz"})
    if (fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  throw Error(dir + ": no " + stem + " (or " + stem + ".gz) in this folder");
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

DataSplit load_mnist_folder(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) throw Error(dir + ": no such folder");
  DataSplit s{load_idx(find_file(dir, "train-images-idx3-ubyte"), find_file(dir, "train-labels-idx1-ubyte")),
              load_idx(find_file(dir, "t10k-images-idx3-ubyte"), find_file(dir, "t10k-labels-idx1-ubyte"))};
  if (!s.train.sample.same_sample(s.test.sample))
    throw Error(dir + ": training images are " + s.train.sample.sample_str() + " but test images are " +
                s.test.sample.sample_str());
  if (dir.find("fashion") != std::string::npos) s.train.class_names = s.test.class_names = fashion_mnist_class_names();
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
