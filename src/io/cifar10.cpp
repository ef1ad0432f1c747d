// CIFAR-10's binary version, as cifar-10-binary.tar.gz extracts it: each record is a label byte and the 32×32
// R, G and B planes, which is already the Dataset's NCHW uint8 layout, so loading is a checked copy.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cnn/dataset.h"

namespace cnn {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kPixels = 3 * 32 * 32;
constexpr std::size_t kRecord = 1 + kPixels;
constexpr int kClasses = 10;
const char* const kSubfolder = "cifar-10-batches-bin";
const char* const kBatchFiles[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                   "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};

// 30700 → "30,700": byte counts in messages are read by people comparing them with 30,730,000.
std::string with_commas(std::uintmax_t v) {
  std::string s = std::to_string(v);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(std::size_t(i), ",");
  return s;
}

bool holds_cifar10_files(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : kBatchFiles)
    if (fs::is_regular_file(dir / name, ec)) return true;
  return fs::is_regular_file(dir / "batches.meta.txt", ec);
}

// The folder holding the batch files: `dir` itself, or the cifar-10-batches-bin/ the archive extracts into it.
fs::path batches_folder(const std::string& dir) {
  if (holds_cifar10_files(dir)) return dir;
  std::error_code ec;
  if (fs::is_directory(fs::path(dir) / kSubfolder, ec)) return fs::path(dir) / kSubfolder;
  return dir;
}

[[noreturn]] void missing(const fs::path& path) {
  throw Error(path.string() + ": no such file (CIFAR-10 needs data_batch_1.bin … data_batch_5.bin and test_batch.bin)");
}

// Appends every record of one batch file to `d`, refusing the whole file at its first bad record.
void read_batch(const fs::path& path, Dataset& d) {
  const std::string p = path.string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) missing(path);
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) throw Error(p + ": cannot read its size (" + ec.message() + ")");
  if (size == 0) throw Error(p + ": empty file (a CIFAR-10 batch holds 3,073-byte records)");
  if (size % kRecord != 0)
    throw Error(p + ": " + with_commas(size) + " bytes is not a whole number of 3,073-byte records");
  // Far beyond the genuine 30,730,000 bytes, so only a wrong file trips it before a huge allocation.
  if (size > (std::uintmax_t(1) << 33)) throw Error(p + ": " + with_commas(size) + " bytes is more than 8 GiB");
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(size));
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(p + ": cannot open");
  f.read(reinterpret_cast<char*>(buf.data()), std::streamsize(size));
  if (std::uintmax_t(f.gcount()) != size)
    throw Error(p + ": read " + with_commas(std::uintmax_t(f.gcount())) + " of its " + with_commas(size) + " bytes");
  const std::size_t n = buf.size() / kRecord;
  for (std::size_t r = 0; r < n; ++r)
    if (buf[r * kRecord] >= kClasses)
      throw Error(p + ": record " + std::to_string(r) + " has label " + std::to_string(buf[r * kRecord]) +
                  ", expected 0..9");
  const std::size_t first = d.labels.size();
  d.labels.resize(first + n);
  d.images.resize((first + n) * kPixels);
  for (std::size_t r = 0; r < n; ++r) {
    d.labels[first + r] = buf[r * kRecord];
    std::copy_n(buf.data() + r * kRecord + 1, kPixels, d.images.data() + (first + r) * kPixels);
  }
}

std::vector<std::string> read_class_names(const fs::path& folder) {
  const fs::path path = folder / "batches.meta.txt";
  std::error_code ec;
  if (!fs::exists(path, ec)) return cifar10_class_names();
  std::ifstream f(path);
  if (!f) throw Error(path.string() + ": cannot open");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(f, line)) {
    // the genuine file pads its lines with spaces; a copy edited on Windows may end them with \r
    const auto end = line.find_last_not_of(" \t\r");
    const auto begin = line.find_first_not_of(" \t\r");
    if (end == std::string::npos) continue;
    names.push_back(line.substr(begin, end - begin + 1));
  }
  if (names.size() != std::size_t(kClasses))
    throw Error(path.string() + ": " + std::to_string(names.size()) +
                " class names (one a line), expected 10, one for each label 0..9");
  return names;
}

Dataset empty_split(const std::string& name, const std::vector<std::string>& class_names) {
  Dataset d;
  d.name = name;
  d.sample = {1, 3, 32, 32};
  d.classes = kClasses;
  d.class_names = class_names;
  return d;
}

}  // namespace

std::vector<std::string> cifar10_class_names() {
  return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
}

bool is_cifar10_folder(const std::string& dir) {
  std::error_code ec;
  return holds_cifar10_files(dir) || fs::is_directory(fs::path(dir) / kSubfolder, ec);
}

DataSplit load_cifar10_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": no such folder");
  const fs::path folder = batches_folder(dir);
  const std::vector<std::string> names = read_class_names(folder);
  DataSplit s{empty_split((folder / "data_batch_1.bin").string() + " … data_batch_5.bin", names),
              empty_split((folder / "test_batch.bin").string(), names)};
  // every file is checked for presence first, so a half-extracted archive is named before 150 MB are read
  for (const char* name : kBatchFiles)
    if (!fs::is_regular_file(folder / name, ec)) missing(folder / name);
  for (int b = 0; b < 5; ++b) read_batch(folder / kBatchFiles[b], s.train);
  read_batch(folder / "test_batch.bin", s.test);
  return s;
}

}  // namespace cnn
