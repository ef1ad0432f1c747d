// ONNX import (src/io/onnx_import.cpp): a ModelProto's bytes to a Network, which then runs one forward pass; the same
// bytes are read as a TensorProto (the .pb files of ONNX test cases) too.
#include "cnn/onnx.h"
#include "fuzz_net.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    cnn::OnnxImport m = cnn::import_onnx_bytes(bytes, "fuzz.onnx");
    fuzz::forward_once(m.net);
  } catch (const cnn::Error&) {
  }
  try {
    const cnn::OnnxTensor t = cnn::parse_onnx_tensor(bytes, "fuzz.pb");
    std::size_t n = 1;
    for (const auto d : t.dims) n *= std::size_t(d);
    if (n != t.values.size()) __builtin_trap();
  } catch (const cnn::Error&) {
  }
  return 0;
}
