#include "cnn/tensor.h"

#include <algorithm>

namespace cnn {

std::string Shape::str() const {
  return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

std::string Shape::sample_str() const { return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w); }

Tensor::Tensor(Shape shape, float fill) : shape_(shape) {
  if (shape.n < 0 || shape.c < 0 || shape.h < 0 || shape.w < 0)
    throw Error("Tensor: negative dimension in shape " + shape.str());
  storage_.assign(shape.size(), fill);
  data_ = storage_.data();
}

Tensor Tensor::view(float* data, Shape shape) {
  Tensor t;
  t.shape_ = shape;
  t.data_ = data;
  return t;
}

Tensor::Tensor(const Tensor& other) : shape_(other.shape_), storage_(other.storage_), data_(other.data_) {
  if (!storage_.empty()) data_ = storage_.data();
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this == &other) return *this;
  shape_ = other.shape_;
  storage_ = other.storage_;
  data_ = storage_.empty() ? other.data_ : storage_.data();
  return *this;
}

Tensor::Tensor(Tensor&& other) noexcept
    : shape_(other.shape_), storage_(std::move(other.storage_)), data_(other.data_) {
  other.data_ = nullptr;
  other.shape_ = {0, 0, 0, 0};
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  shape_ = other.shape_;
  storage_ = std::move(other.storage_);
  data_ = other.data_;
  other.data_ = nullptr;
  other.shape_ = {0, 0, 0, 0};
  return *this;
}

void Tensor::resize(Shape shape) {
  if (!owns()) throw Error("Tensor::resize: a view cannot be resized (shape " + shape_.str() + ")");
  if (shape.size() > storage_.size()) storage_.resize(shape.size());
  shape_ = shape;
  data_ = storage_.data();
}

void Tensor::reshape(Shape shape) {
  if (shape.size() != size())
    throw Error("Tensor::reshape: " + shape_.str() + " has " + std::to_string(size()) + " elements, " + shape.str() +
                " needs " + std::to_string(shape.size()));
  shape_ = shape;
}

void Tensor::fill(float v) { std::fill(data_, data_ + size(), v); }

void check_sample_shape(const std::string& where, const Shape& expected, const Shape& actual) {
  if (!expected.same_sample(actual))
    throw Error(where + ": expected input of shape " + expected.sample_str() + " per sample, got " +
                actual.sample_str());
}

void check_shape(const std::string& where, const Shape& expected, const Shape& actual) {
  if (!(expected == actual)) throw Error(where + ": expected shape " + expected.str() + ", got " + actual.str());
}

}  // namespace cnn
