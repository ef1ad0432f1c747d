// Tensor: NCHW float32, owning or a view into someone else's memory.
//
// A Shape is always four numbers (n, c, h, w). Fully connected data uses c = features, h = w = 1, so every
// layer sees the same four-dimensional layout and a newcomer never has to ask "which rank is this?".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cnn/error.h"

namespace cnn {

struct Shape {
  int n = 1, c = 1, h = 1, w = 1;

  std::size_t size() const { return std::size_t(n) * c * h * w; }
  std::size_t sample_size() const { return std::size_t(c) * h * w; }  // one image: c·h·w
  Shape with_batch(int batch) const { return {batch, c, h, w}; }
  bool same_sample(const Shape& o) const { return c == o.c && h == o.h && w == o.w; }
  bool operator==(const Shape& o) const = default;
  std::string str() const;         // "50x6x24x24"
  std::string sample_str() const;  // "6x24x24"
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, float fill = 0.0f);
  // A non-owning view; the caller keeps `data` alive for as long as the view is used.
  static Tensor view(float* data, Shape shape);
  static Tensor view(const float* data, Shape shape) { return view(const_cast<float*>(data), shape); }

  Tensor(const Tensor& other);  // deep copy when `other` owns, else copies the view
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;

  const Shape& shape() const { return shape_; }
  std::size_t size() const { return shape_.size(); }
  bool empty() const { return size() == 0 || data_ == nullptr; }
  bool owns() const { return !storage_.empty() || data_ == nullptr; }
  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](std::size_t i) { return data_[i]; }
  float operator[](std::size_t i) const { return data_[i]; }
  float& at(int n, int c, int h, int w) { return data_[index(n, c, h, w)]; }
  float at(int n, int c, int h, int w) const { return data_[index(n, c, h, w)]; }
  std::size_t index(int n, int c, int h, int w) const {
    return ((std::size_t(n) * shape_.c + c) * shape_.h + h) * shape_.w + w;
  }
  float* sample(int n) { return data_ + std::size_t(n) * shape_.sample_size(); }
  const float* sample(int n) const { return data_ + std::size_t(n) * shape_.sample_size(); }

  // Owning tensors only: change the shape, reallocating only when the new size exceeds what was ever held,
  // so a workspace sized once for the largest batch never allocates again.
  void resize(Shape shape);
  // Same number of elements, new shape (owning or view).
  void reshape(Shape shape);
  void fill(float v);

 private:
  Shape shape_{0, 0, 0, 0};
  std::vector<float> storage_;
  float* data_ = nullptr;
};

// Throws cnn::Error("<where>: expected <expected>, got <actual>") unless the per-sample shapes agree.
void check_sample_shape(const std::string& where, const Shape& expected, const Shape& actual);
void check_shape(const std::string& where, const Shape& expected, const Shape& actual);

}  // namespace cnn
