// IDX files (src/io/idx.cpp), plain or gzip. The first byte chooses which of the pair is the fuzzed input (even:
// the images, odd: the labels); the other is a valid file of one 2×2 image, so a count mismatch is reached too.
#include "cnn/dataset.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const std::string images =
      fuzz::write_file("fixed-images", std::string("\0\0\x08\x03\0\0\0\x01\0\0\0\x02\0\0\0\x02\x01\x02\x03\x04", 20));
  static const std::string labels = fuzz::write_file("fixed-labels", std::string("\0\0\x08\x01\0\0\0\x01\x07", 9));
  const bool fuzz_labels = data[0] & 1;
  const std::string input = fuzz::write_file("input", data + 1, size - 1);
  try {
    const cnn::Dataset d = fuzz_labels ? cnn::load_idx(images, input, 10) : cnn::load_idx(input, labels, 10);
    if (d.images.size() != d.count() * d.sample.sample_size()) __builtin_trap();
  } catch (const cnn::Error&) {
  }
  return 0;
}
