// What the ONNX tests share: running an ONNX file through OpenCV's dnn module, the independent reader.
#pragma once

#include <opencv2/dnn.hpp>
#include <string>

#include "cnn/tensor.h"

namespace cnn::test {

// The output of OpenCV's dnn for the serialized ONNX model `bytes` on the NCHW batch `x`.
inline cv::Mat run_opencv(const std::string& bytes, const Tensor& x) {
  cv::dnn::Net cvnet = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
  const int sizes[4] = {x.shape().n, x.shape().c, x.shape().h, x.shape().w};
  cv::Mat blob(4, sizes, CV_32F, const_cast<float*>(x.data()));
  cvnet.setInput(blob);
  return cvnet.forward().clone();
}

}  // namespace cnn::test
