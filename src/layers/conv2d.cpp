// Conv2D forward and backward (seeds 000, 004). Each sample is unfolded by im2col so that the seeds' ⊗ becomes
// one matrix product; src/reference/reference.cpp computes the same formulas literally and the tests compare.
#include "cnn/layers/conv2d.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "kernels/kernels.h"

namespace cnn {

Padding parse_padding(const std::string& s) {
  if (s == "valid") return Padding::valid;
  if (s == "same") return Padding::same;
  throw Error("padding: expected \"valid\" or \"same\", got \"" + s + "\"");
}

std::string to_string(Padding p) { return p == Padding::valid ? "valid" : "same"; }

Conv2D::Conv2D(int out_channels, KernelSize kernel, int stride, Padding padding)
    : out_c_(out_channels), kh_(kernel.h), kw_(kernel.w), stride_(stride), padding_(padding) {
  if (out_channels <= 0) throw Error("conv2d layer: filters must be positive, got " + std::to_string(out_channels));
  if (kh_ <= 0 || kw_ <= 0)
    throw Error("conv2d layer: kernel must be positive, got " + std::to_string(kh_) + "x" + std::to_string(kw_));
  if (stride <= 0) throw Error("conv2d layer: stride must be positive, got " + std::to_string(stride));
}

Shape Conv2D::infer(Shape in) {

  int ho, wo;
  if (padding_ == Padding::valid) {
    if (in.h < kh_ || in.w < kw_)
      throw Error("conv2d layer: input " + in.sample_str() + " is smaller than the " + std::to_string(kh_) + "x" +
                  std::to_string(kw_) + " kernel (valid padding)");
    ho = (in.h - kh_) / stride_ + 1;  // = ceil((H − kh + 1)/stride)
    wo = (in.w - kw_) / stride_ + 1;
    pad_top_ = pad_left_ = pad_bottom_ = pad_right_ = 0;
  } else {
    ho = (in.h + stride_ - 1) / stride_;  // = ceil(H/stride)
    wo = (in.w + stride_ - 1) / stride_;
    const int ph = std::max((ho - 1) * stride_ + kh_ - in.h, 0);
    const int pw = std::max((wo - 1) * stride_ + kw_ - in.w, 0);
    pad_top_ = ph / 2;
    pad_bottom_ = ph - ph / 2;
    pad_left_ = pw / 2;
    pad_right_ = pw - pw / 2;
  }
  return {1, out_c_, ho, wo};
}

std::string Conv2D::summary() const {
  return "conv2d " + std::to_string(out_c_) + "@" + std::to_string(kh_) + "x" + std::to_string(kw_) + " stride " +
         std::to_string(stride_) + " " + to_string(padding_);
}

nlohmann::json Conv2D::spec() const {
  nlohmann::json j = Layer::spec();
  j["filters"] = out_c_;
  if (kh_ == kw_) j["kernel"] = kh_;
  else j["kernel"] = {kh_, kw_};
  j["stride"] = stride_;
  j["padding"] = to_string(padding_);
  return j;
}

std::size_t Conv2D::param_count() const { return std::size_t(out_c_) * in_.c * kh_ * kw_ + out_c_; }

void Conv2D::bind(float* params, float* grads) {
  const std::size_t nw = std::size_t(out_c_) * in_.c * kh_ * kw_;
  w_ = params, b_ = params + nw, dw_ = grads, db_ = grads + nw;
}

Tensor Conv2D::weight() const { return Tensor::view(w_, {out_c_, in_.c, kh_, kw_}); }
Tensor Conv2D::bias() const { return Tensor::view(b_, {1, out_c_, 1, 1}); }
Tensor Conv2D::weight_grad() const { return Tensor::view(dw_, {out_c_, in_.c, kh_, kw_}); }
Tensor Conv2D::bias_grad() const { return Tensor::view(db_, {1, out_c_, 1, 1}); }

std::vector<ParamView> Conv2D::params() {
  return {{"weight", weight(), weight_grad()}, {"bias", bias(), bias_grad()}};
}

void Conv2D::init(Rng& rng) {
  const float bound = 1.0f / std::sqrt(float(in_.c * kh_ * kw_));
  const std::size_t nw = std::size_t(out_c_) * in_.c * kh_ * kw_;
  for (std::size_t i = 0; i < nw; ++i) w_[i] = rng.uniform(-bound, bound);
  for (int o = 0; o < out_c_; ++o) b_[o] = rng.uniform(-bound, bound);
}

std::size_t Conv2D::macs_per_sample() const { return out_.sample_size() * in_.c * kh_ * kw_; }

// Z = A ⊗ W + b: per sample, Z[C_out, Ho·Wo] = W[C_out, C·kh·kw] · im2col(A) + b.
void Conv2D::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, K = C * kh_ * kw_, HW = out_.h * out_.w;
  y.resize(out_.with_batch(N));
  col_.resize(std::size_t(K) * HW);
  for (int n = 0; n < N; ++n) {
    kernels::im2col(x.sample(n), C, in_.h, in_.w, kh_, kw_, stride_, pad_top_, pad_left_, out_.h, out_.w,
                    col_.data());
    float* z = y.sample(n);
    kernels::gemm(false, false, out_c_, HW, K, 1.0f, w_, K, col_.data(), HW, 0.0f, z, HW);
    for (int o = 0; o < out_c_; ++o)
      for (int p = 0; p < HW; ++p) z[o * HW + p] += b_[o];
  }
}

// dW = A ⊗ dZ:  dW[C_out, C·kh·kw] = Σ_n dZ_n · im2col(A_n)ᵀ
// db = ΣdZ
// dA = pad(dZ) ⊗ rot180(W):  im2col(dA_n) = Wᵀ · dZ_n, folded back by col2im (the same sum, read the other way)
void Conv2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  check_sample_shape("conv2d layer (backward dZ)", out_, dy.shape());
  const int N = x.shape().n, C = in_.c, K = C * kh_ * kw_, HW = out_.h * out_.w;
  col_.resize(std::size_t(K) * HW);
  if (dx) {
    dx->resize(x.shape());
    dx->fill(0.0f);
  }
  for (int o = 0; o < out_c_; ++o) db_[o] = 0.0f;
  for (int n = 0; n < N; ++n) {
    const float* dz = dy.sample(n);
    for (int o = 0; o < out_c_; ++o) {
      float s = 0.0f;
      for (int p = 0; p < HW; ++p) s += dz[o * HW + p];
      db_[o] += s;
    }
    kernels::im2col(x.sample(n), C, in_.h, in_.w, kh_, kw_, stride_, pad_top_, pad_left_, out_.h, out_.w,
                    col_.data());
    kernels::gemm(false, true, out_c_, K, HW, 1.0f, dz, HW, col_.data(), HW, n == 0 ? 0.0f : 1.0f, dw_, K);
    if (dx) {
      kernels::gemm(true, false, K, HW, out_c_, 1.0f, w_, K, dz, HW, 0.0f, col_.data(), HW);
      kernels::col2im_add(col_.data(), C, in_.h, in_.w, kh_, kw_, stride_, pad_top_, pad_left_, out_.h, out_.w,
                          dx->sample(n));
    }
  }
}

}  // namespace cnn
