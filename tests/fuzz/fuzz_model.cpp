// Model files (src/io/model.cpp). With the first byte odd the CRC-32 at the end is recomputed before loading, so
// mutations of the header and the parameters get past the checksum to the JSON, the counts and the network; a model
// that loads runs one forward pass.
#include <zlib.h>

#include "cnn/model.h"
#include "fuzz_common.h"
#include "fuzz_net.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) && bytes.size() >= 4) {
    const auto* b = reinterpret_cast<const Bytef*>(bytes.data());
    const std::uint32_t crc = std::uint32_t(crc32(0, b, uInt(bytes.size() - 4)));
    for (int k = 0; k < 4; ++k) bytes[bytes.size() - 4 + std::size_t(k)] = char(crc >> (8 * k));
  }
  const std::string path = fuzz::write_file("model.cnn", bytes);
  try {
    cnn::Model m = cnn::load_model(path);
    fuzz::forward_once(m.net);
  } catch (const cnn::Error&) {
  }
  return 0;
}
