// The JSON bodies of `cnn serve`'s POST /api/predict (tools/cnn/web_body.cpp), for a grey 28×28 net and a colour
// 32×32 one, with and without a strip of test images. Every refusal is a BadRequest with a status for the client.
#include "web_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& [shape, strip] : {std::pair{cnn::Shape{1, 1, 28, 28}, std::size_t(0)},
                                     std::pair{cnn::Shape{1, 3, 32, 32}, std::size_t(48)}}) {
    try {
      const cnn::tool::web::PredictBody p = cnn::tool::web::parse_predict_body(text, shape, strip);
      if (p.sample) {
        if (*p.sample >= strip) __builtin_trap();
      } else {
        if (p.image.size() != shape.sample_size()) __builtin_trap();
        for (std::size_t i = 0; i < p.image.size(); ++i)
          if (!(p.image[i] >= 0.0f && p.image[i] <= 1.0f)) __builtin_trap();
      }
    } catch (const cnn::tool::web::BadRequest& e) {
      if (e.status != 400 && e.status != 422) __builtin_trap();
    }
  }
  return 0;
}
