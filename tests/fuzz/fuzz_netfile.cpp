// Network descriptions (src/io/netfile.cpp): JSON text to a Network, which then runs one forward pass and prints
// its own description back, which must read again.
#include "cnn/netfile.h"
#include "fuzz_net.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    cnn::Network net = cnn::network_from_text(text, "fuzz");
    fuzz::forward_once(net);
    const std::string again = cnn::network_to_text(net);
    (void)cnn::network_from_text(again, "fuzz (printed back)");
  } catch (const cnn::Error&) {
  }
  return 0;
}
