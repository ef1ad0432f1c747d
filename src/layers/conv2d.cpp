// Conv2D forward and backward (seeds 000, 004): the formulas, computed by the kernels its plan chose for its shape
// once, when it was set up (src/kernels/conv_plan.h: direct AVX-512 kernels straight from the image rows for stride
// 1, im2col + SGEMM otherwise and on CPUs without AVX-512). src/reference/reference.cpp computes the same formulas
// literally and the tests compare.
#include "cnn/layers/conv2d.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "kernels/conv_plan.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "kernels/shard.h"

namespace cnn {

Padding parse_padding(const std::string& s) {
  if (s == "valid") return Padding::valid;
  if (s == "same") return Padding::same;
  throw Error("padding: expected \"valid\" or \"same\", got \"" + s + "\"");
}

std::string to_string(Padding p) {
  switch (p) {
    case Padding::valid:
      return "valid";
    case Padding::same:
      return "same";
    case Padding::explicit_pads:
      break;
  }
  return "explicit";
}

namespace {
void check_conv_args(int out_channels, KernelSize k, int stride) {
  if (out_channels <= 0) throw Error("conv2d layer: filters must be positive, got " + std::to_string(out_channels));
  if (k.h <= 0 || k.w <= 0)
    throw Error("conv2d layer: kernel must be positive, got " + std::to_string(k.h) + "x" + std::to_string(k.w));
  if (stride <= 0) throw Error("conv2d layer: stride must be positive, got " + std::to_string(stride));
}
}  // namespace

Conv2D::Conv2D(int out_channels, KernelSize kernel, int stride, Padding padding, bool bias)
    : out_c_(out_channels), kh_(kernel.h), kw_(kernel.w), stride_(stride), padding_(padding), has_bias_(bias) {
  check_conv_args(out_channels, kernel, stride);
  if (padding == Padding::explicit_pads)
    throw Error("conv2d layer: explicit padding needs its four pads (Conv2D(filters, kernel, stride, Pads{…}))");
}

Conv2D::Conv2D(int out_channels, KernelSize kernel, int stride, Pads pads, bool bias)
    : out_c_(out_channels),
      kh_(kernel.h),
      kw_(kernel.w),
      stride_(stride),
      padding_(Padding::explicit_pads),
      pads_(pads),
      has_bias_(bias) {
  check_conv_args(out_channels, kernel, stride);
  if (pads.top < 0 || pads.left < 0 || pads.bottom < 0 || pads.right < 0)
    throw Error("conv2d layer: padding must not be negative, got " + pads_str());
}

Conv2D::~Conv2D() = default;

std::string Conv2D::pads_str() const {
  const Pads& p = pads_;
  if (p.top == p.left && p.top == p.bottom && p.top == p.right) return std::to_string(p.top);
  std::string s = "[";
  for (int v : {p.top, p.left, p.bottom}) s += std::to_string(v) + ",";
  return s + std::to_string(p.right) + "]";
}

Shape Conv2D::infer(Shape in) {
  int ho, wo;
  const std::string kernel = std::to_string(kh_) + "x" + std::to_string(kw_) + " kernel";
  switch (padding_) {
    case Padding::valid:
      if (in.h < kh_ || in.w < kw_)
        throw Error("conv2d layer: input " + in.sample_str() + " is smaller than the " + kernel + " (valid padding)");
      ho = (in.h - kh_) / stride_ + 1;  // = ceil((H − kh + 1)/stride)
      wo = (in.w - kw_) / stride_ + 1;
      pads_ = {};
      break;
    case Padding::same: {
      ho = (in.h + stride_ - 1) / stride_;  // = ceil(H/stride)
      wo = (in.w + stride_ - 1) / stride_;
      const int ph = std::max((ho - 1) * stride_ + kh_ - in.h, 0);
      const int pw = std::max((wo - 1) * stride_ + kw_ - in.w, 0);
      pads_ = {.top = ph / 2, .left = pw / 2, .bottom = ph - ph / 2, .right = pw - pw / 2};
      break;
    }
    case Padding::explicit_pads:
    default: {
      const int hp = in.h + pads_.top + pads_.bottom, wp = in.w + pads_.left + pads_.right;
      if (hp < kh_ || wp < kw_)
        throw Error("conv2d layer: input " + in.sample_str() + " with padding " + pads_str() + " is smaller than the " +
                    kernel);
      ho = (hp - kh_) / stride_ + 1;
      wo = (wp - kw_) / stride_ + 1;
      break;
    }
  }
  plan_ = std::make_unique<kernels::ConvPlan>(kernels::ConvShape{.C = in.c,
                                                                 .H = in.h,
                                                                 .W = in.w,
                                                                 .O = out_c_,
                                                                 .kh = kh_,
                                                                 .kw = kw_,
                                                                 .stride = stride_,
                                                                 .pad_top = pads_.top,
                                                                 .pad_left = pads_.left,
                                                                 .pad_bottom = pads_.bottom,
                                                                 .pad_right = pads_.right,
                                                                 .Ho = ho,
                                                                 .Wo = wo,
                                                                 .bias = has_bias_});
  return {1, out_c_, ho, wo};
}

std::string Conv2D::kernel_name() const { return plan_ ? plan_->describe() : "(not set up)"; }

std::string Conv2D::summary() const {
  const std::string padding = padding_ == Padding::explicit_pads ? "pad " + pads_str() : to_string(padding_);
  return "conv2d " + std::to_string(out_c_) + "@" + std::to_string(kh_) + "x" + std::to_string(kw_) + " stride " +
         std::to_string(stride_) + " " + padding + (has_bias_ ? "" : ", no bias");
}

nlohmann::json Conv2D::spec() const {
  nlohmann::json j = Layer::spec();
  j["filters"] = out_c_;
  if (kh_ == kw_)
    j["kernel"] = kh_;
  else
    j["kernel"] = {kh_, kw_};
  j["stride"] = stride_;
  const Pads& p = pads_;
  if (padding_ != Padding::explicit_pads)
    j["padding"] = to_string(padding_);
  else if (p.top == p.left && p.top == p.bottom && p.top == p.right)
    j["padding"] = p.top;
  else
    j["padding"] = {p.top, p.left, p.bottom, p.right};
  if (!has_bias_) j["bias"] = false;  // absent means a bias: every description written before stays as it was
  return j;
}

std::size_t Conv2D::param_count() const { return std::size_t(out_c_) * in_.c * kh_ * kw_ + (has_bias_ ? out_c_ : 0); }

void Conv2D::bind(float* params, float* grads) {
  const std::size_t nw = std::size_t(out_c_) * in_.c * kh_ * kw_;
  w_ = params, dw_ = grads;
  b_ = has_bias_ ? params + nw : nullptr;
  db_ = has_bias_ ? grads + nw : nullptr;
}

Tensor Conv2D::weight() const { return Tensor::view(w_, {out_c_, in_.c, kh_, kw_}); }
Tensor Conv2D::bias() const { return has_bias_ ? Tensor::view(b_, {1, out_c_, 1, 1}) : Tensor(); }
Tensor Conv2D::weight_grad() const { return Tensor::view(dw_, {out_c_, in_.c, kh_, kw_}); }
Tensor Conv2D::bias_grad() const { return has_bias_ ? Tensor::view(db_, {1, out_c_, 1, 1}) : Tensor(); }

std::vector<ParamView> Conv2D::params() {
  if (!has_bias_) return {{"weight", weight(), weight_grad()}};
  return {{"weight", weight(), weight_grad()}, {"bias", bias(), bias_grad()}};
}

void Conv2D::init(Rng& rng) {
  const float bound = 1.0f / std::sqrt(float(in_.c * kh_ * kw_));
  const std::size_t nw = std::size_t(out_c_) * in_.c * kh_ * kw_;
  for (std::size_t i = 0; i < nw; ++i) w_[i] = rng.uniform(-bound, bound);
  if (has_bias_)
    for (int o = 0; o < out_c_; ++o) b_[o] = rng.uniform(-bound, bound);
}

std::size_t Conv2D::macs_per_sample() const { return out_.sample_size() * in_.c * kh_ * kw_; }

// Z = A ⊗ W + b:  Z[o] = Σ_c pad(A[c]) ⊗ W[o][c] + b[o], sampled every `stride` pixels. Each image is independent,
// so the batch is cut into chunks that run on the pool.
void Conv2D::forward_with(const Tensor& x, const float* w, const float* b, Tensor& z, Tensor* relu) {
  run_forward(x, w, b, z, relu);
}

void Conv2D::run_forward(const Tensor& x, const float* w, const float* b, Tensor& z, Tensor* relu) {
  check_input(x);
  const int N = x.shape().n;
  z.resize(out_.with_batch(N));
  if (relu) relu->resize(out_.with_batch(N));
  plan_->prepare_forward(w, N, x.data());
  const kernels::Shard& shard = kernels::shard_for(N);  // the chunks of the batch (a distributed step's own)
  kernels::parallel_for(shard.local_chunks(), [&](int chunk) {
    const int n0 = shard.begin(chunk), n1 = shard.begin(chunk + 1);
    plan_->forward(chunk, n0, n1, x.data(), w, b, z.data(), relu ? relu->data() : nullptr);
  });
}

void Conv2D::forward(const Tensor& x, Tensor& y, const Context&) { run_forward(x, w_, b_, y, nullptr); }
void Conv2D::forward_relu(const Tensor& x, Tensor& z, Tensor& r) { run_forward(x, w_, b_, z, &r); }

void Conv2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  run_backward(x, dy, dx, nullptr, nullptr);
}

// dZ = dR where Z ≥ 0, else 0 (the ReLU's rule), then as below
void Conv2D::backward_relu(const Tensor& x, const Tensor& z, const Tensor& dr, Tensor& dz, Tensor* dx) {
  if (!out_.same_sample(dr.shape())) check_sample_shape("relu layer (backward)", out_, dr.shape());
  if (!(z.shape() == dr.shape())) check_shape("conv2d layer (fused relu)", z.shape(), dr.shape());
  dz.resize(dr.shape());
  run_backward(x, dr, dx, &z, &dz);
}

// Each chunk of the batch sums its own dW and db; the chunks' sums are then added up a fixed tree (kernels/shard.h),
// so the result has the same bits whatever the number of threads or processes.
void Conv2D::run_backward(const Tensor& x, const Tensor& dy, Tensor* dx, const Tensor* relu_z, Tensor* dz_out) {
  check_input(x);
  if (!out_.same_sample(dy.shape())) check_sample_shape("conv2d layer (backward dZ)", out_, dy.shape());
  const int N = x.shape().n, O = out_c_;
  const std::size_t HW = std::size_t(out_.h) * out_.w, nw = std::size_t(O) * in_.c * kh_ * kw_;
  if (dx) dx->resize(x.shape());
  plan_->prepare_backward(w_, N, dx != nullptr, x.data());
  const float* dz = relu_z ? dz_out->data() : dy.data();  // dZ of every image of the batch
  const kernels::Shard& shard = kernels::shard_for(N);
  kernels::parallel_for(shard.local_chunks(), [&](int chunk) {
    const int n0 = shard.begin(chunk), n1 = shard.begin(chunk + 1);
    float* dw = plan_->partial(chunk);  // this chunk's Σ dW, then Σ db
    float* db = dw + nw;
    // db = ΣdZ (each image's dZ summed while it is in cache from the ReLU's rule)
    if (has_bias_) std::fill(db, db + O, 0.0f);
    for (int n = n0; n < n1; ++n) {
      if (relu_z) kernels::relu_backward(relu_z->sample(n), dy.sample(n), dz_out->sample(n), std::size_t(O) * HW);
      if (has_bias_)
        for (int o = 0; o < O; ++o) db[o] += kernels::sum(dz + (std::size_t(n) * O + o) * HW, HW);
    }
    // dW = A ⊗ dZ:  dW[o][c] = Σ_n pad(A_n[c]) ⊗ dZ_n[o]   (strides: dZ dilated)
    plan_->weight_grad(chunk, n0, n1, x.data(), dz, dw);
    // dA = pad(dZ) ⊗ rot180(W):  dA_n[c] = Σ_o pad(dZ_n[o], k − 1) ⊗ rot180(W[o][c]), the input padding cropped away
    if (dx) plan_->input_grad(chunk, n0, n1, dz, w_, dx->data());
  });
  // dW, db = Σ over the chunks, added up the shard's fixed tree (dW then db: the layer's gradients are contiguous)
  shard.fold_gradient([&](int chunk) { return plan_->partial(chunk); }, nw + (has_bias_ ? O : 0), dw_);
}

}  // namespace cnn
