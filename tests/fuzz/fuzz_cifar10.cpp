// CIFAR-10 binary batches and batches.meta.txt (src/io/cifar10.cpp). The first byte chooses which of the folder's
// seven files is the fuzzed input; the others hold one valid record (or the ten class names).
#include "cnn/dataset.h"
#include "fuzz_common.h"

namespace {
const char* const kFiles[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                              "data_batch_5.bin", "test_batch.bin",   "batches.meta.txt"};
std::string valid(int i) {
  if (i == 6) return "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
  std::string r(3073, '\x80');
  r[0] = char(i);
  return r;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int which = data[0] % 7;
  const std::string dir = (fuzz::scratch_dir() / "cifar").string();
  static int fuzzed = [&] {  // the folder starts valid; afterwards only the file the last input replaced is restored
    std::filesystem::create_directories(dir);
    for (int i = 0; i < 7; ++i) fuzz::write_file(std::string("cifar/") + kFiles[i], valid(i));
    return -1;
  }();
  if (fuzzed >= 0 && fuzzed != which) fuzz::write_file(std::string("cifar/") + kFiles[fuzzed], valid(fuzzed));
  fuzz::write_file(std::string("cifar/") + kFiles[which], data + 1, size - 1);
  fuzzed = which;
  try {
    const cnn::DataSplit s = cnn::load_cifar10_folder(dir);
    if (s.train.images.size() != s.train.count() * 3072 || s.test.class_names.size() != 10) __builtin_trap();
  } catch (const cnn::Error&) {
  }
  return 0;
}
