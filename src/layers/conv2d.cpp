// Conv2D forward and backward (seeds 000, 004). Stride-1 layers run the direct AVX-512 kernels straight from the
// image rows; others (and CPUs without AVX-512) unfold each image by im2col so that the seeds' ⊗ becomes one
// matrix product. src/reference/reference.cpp computes the same formulas literally and the tests compare.
#include "cnn/layers/conv2d.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

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
  // The kernel family for this shape, and the workspaces it needs (sized here, once).
  direct_ = kernels::conv_uses_direct(stride_, wo, in.c, kh_, kw_);
  const std::size_t P = std::size_t(out_c_) * in.c * kh_ * kw_ + out_c_;
  pad_h_ = ho + kh_ - 1, pad_w_ = wo + kw_ - 1;
  const bool padded = pad_top_ || pad_left_ || pad_bottom_ || pad_right_;
  col_at_ = P;
  // dA: across the batch where there is no padding (one layer's backward with and without dA, batch 50: LeNet-5's
  // C3 80 against 55 GFLOP/s as a forward convolution, seed5's C3 60–80 against 56 tap by tap), else as a forward
  // convolution where dA's rows fill the vectors clearly better than dZ's, else tap by tap
  const std::size_t bv_work = kernels::conv_input_grad_bv_work(out_c_, ho, wo, in.c, kh_, kw_);
  da_batch_vectors_ = direct_ && kernels::conv_input_grad_uses_batch_vectors(padded, kw_, bv_work);
  da_as_forward_ = direct_ && !da_batch_vectors_ && kernels::conv_da_as_forward(wo, in.w);
  dzpad_h_ = in.h + kh_ - 1, dzpad_w_ = in.w + kw_ - 1;
  dzpad_at_ = P;
  wrot_.assign(da_as_forward_ ? P - out_c_ : 0, 0.0f);
  cv_forward_ = direct_ && kernels::conv_forward_uses_channel_vectors(out_c_, wo, kw_);
  cv_weight_grad_ = direct_ && kernels::conv_weight_grad_uses_channel_vectors(out_c_, kw_);
  wt_.assign(cv_forward_ ? P - out_c_ : 0, 0.0f);
  dwt_at_ = dzpad_at_ + (da_as_forward_      ? std::size_t(out_c_) * dzpad_h_ * dzpad_w_
                         : da_batch_vectors_ ? bv_work
                                             : 0);
  const std::size_t opad = std::size_t(out_c_ + 7) / 8 * 8;  // the channel axis of dwT and dzT, padded to whole vectors
  dzt_at_ = dwt_at_ + (cv_weight_grad_ ? opad * in.c * kh_ * kw_ : 0);
  chunk_floats_ = direct_ ? dzt_at_ + (cv_weight_grad_ ? opad * ho * wo : 0)
                          : col_at_ + std::size_t(in.c) * kh_ * kw_ * ho * wo;
  chunk_floats_ = (chunk_floats_ + 15) / 16 * 16;  // chunks start on separate cache lines
  work_.assign(chunk_floats_ * kernels::kMaxChunks, 0.0f);
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

// Image n of x, copied into the interior of its zero-bordered plane in xpad_ (the border is never written, so it
// stays zero); returns the copy.
const float* Conv2D::padded_copy(const Tensor& x, int n) {
  const int C = in_.c, H = in_.h, W = in_.w;
  const float* in = x.sample(n);
  float* xp = xpad_.data() + std::size_t(n) * C * pad_h_ * pad_w_;
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < H; ++r)
      std::copy(in + (std::size_t(c) * H + r) * W, in + (std::size_t(c) * H + r + 1) * W,
                xp + (std::size_t(c) * pad_h_ + r + pad_top_) * pad_w_ + pad_left_);
  return xp;
}

// Z = A ⊗ W + b. Each image is independent, so the batch is cut into chunks that run on the pool.
//   direct (stride 1): Z[o] = Σ_c pad(A[c]) ⊗ W[o][c] + b[o] read straight from the (zero-bordered) rows
//   im2col:            Z[C_out, Ho·Wo] = W[C_out, C·kh·kw] · im2col(A) + b
void Conv2D::run_forward(const Tensor& x, Tensor& z, Tensor* relu) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w, K = C * kh_ * kw_,
            HW = Ho * Wo;
  z.resize(out_.with_batch(N));
  if (relu) relu->resize(out_.with_batch(N));
  const bool padded = pad_top_ || pad_left_ || pad_bottom_ || pad_right_;
  if (direct_ && padded && xpad_.size() < std::size_t(N) * C * pad_h_ * pad_w_)
    xpad_.resize(std::size_t(N) * C * pad_h_ * pad_w_, 0.0f);  // once, for the largest batch
  if (cv_forward_)  // wt[c][i][j][o] = W[o][c][i][j]
    kernels::transpose(w_, out_c_, K, K, wt_.data(), out_c_);
  const int chunks = kernels::batch_chunks(N);
  kernels::parallel_for(chunks, [&](int chunk) {
    float* work = chunk_work(chunk);
    for (int n = kernels::chunk_begin(N, chunks, chunk); n < kernels::chunk_begin(N, chunks, chunk + 1); ++n) {
      float* zn = z.sample(n);
      float* rn = relu ? relu->sample(n) : nullptr;
      if (direct_) {
        const float* in = x.sample(n);
        int Hp = H, Wp = W;
        if (padded) {
          in = padded_copy(x, n);
          Hp = pad_h_, Wp = pad_w_;
        }
        if (cv_forward_) kernels::conv_forward_cv(in, C, Hp, Wp, wt_.data(), out_c_, kh_, kw_, b_, zn, rn, Ho, Wo);
        else kernels::conv_forward_direct(in, C, Hp, Wp, w_, out_c_, kh_, kw_, b_, zn, rn, Ho, Wo);
      } else {
        float* col = work + col_at_;
        kernels::im2col(x.sample(n), C, H, W, kh_, kw_, stride_, pad_top_, pad_left_, Ho, Wo, col);
        for (int o = 0; o < out_c_; ++o) std::fill(zn + std::size_t(o) * HW, zn + std::size_t(o + 1) * HW, b_[o]);
        kernels::gemm(false, false, out_c_, HW, K, 1.0f, w_, K, col, HW, 1.0f, zn, HW);
        if (rn) kernels::relu_forward(zn, rn, std::size_t(out_c_) * HW);
      }
    }
  });
}

void Conv2D::forward(const Tensor& x, Tensor& y, const Context&) { run_forward(x, y, nullptr); }
void Conv2D::forward_relu(const Tensor& x, Tensor& z, Tensor& r) { run_forward(x, z, &r); }

// dW = A ⊗ dZ:  dW[o][c] = Σ_n pad(A_n[c]) ⊗ dZ_n[o]      (im2col: dW[C_out, C·kh·kw] = Σ_n dZ_n · im2col(A_n)ᵀ)
// db = ΣdZ
// dA = pad(dZ) ⊗ rot180(W):  dA_n[c] = Σ_o pad(dZ_n[o], k − 1) ⊗ rot180(W[o][c])   (im2col: col2im(Wᵀ · dZ_n))
// Each chunk of the batch sums its own dW and db; the chunks' sums are then added in chunk order, so the result
// has the same bits whatever the number of threads.
void Conv2D::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  run_backward(x, dy, dx, nullptr, nullptr);
}

// dZ = dR where Z ≥ 0, else 0 (the ReLU's rule), then as above
void Conv2D::backward_relu(const Tensor& x, const Tensor& z, const Tensor& dr, Tensor& dz, Tensor* dx) {
  if (!out_.same_sample(dr.shape())) check_sample_shape("relu layer (backward)", out_, dr.shape());
  if (!(z.shape() == dr.shape())) check_shape("conv2d layer (fused relu)", z.shape(), dr.shape());
  dz.resize(dr.shape());
  run_backward(x, dr, dx, &z, &dz);
}

void Conv2D::run_backward(const Tensor& x, const Tensor& dy, Tensor* dx, const Tensor* relu_z, Tensor* dz_out) {
  check_input(x);
  if (!out_.same_sample(dy.shape())) check_sample_shape("conv2d layer (backward dZ)", out_, dy.shape());
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w, K = C * kh_ * kw_,
            HW = Ho * Wo, O = out_c_;
  const std::size_t nw = std::size_t(O) * K, P = nw + O;
  const bool padded = pad_top_ || pad_left_ || pad_bottom_ || pad_right_;
  if (dx) dx->resize(x.shape());
  if (direct_ && padded && xpad_.size() < std::size_t(N) * C * pad_h_ * pad_w_)
    xpad_.resize(std::size_t(N) * C * pad_h_ * pad_w_, 0.0f);
  if (dx && da_as_forward_)  // wrot[c][o][i][j] = W[o][c][kh−1−i][kw−1−j]
    for (int o = 0; o < O; ++o)
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < kh_; ++i)
          for (int j = 0; j < kw_; ++j)
            wrot_[((std::size_t(c) * O + o) * kh_ + i) * kw_ + j] =
                w_[((std::size_t(o) * C + c) * kh_ + (kh_ - 1 - i)) * kw_ + (kw_ - 1 - j)];
  const int chunks = kernels::batch_chunks(N);
  kernels::parallel_for(chunks, [&](int chunk) {
    float* work = chunk_work(chunk);
    float* dw = work;  // this chunk's partial dW, then db
    float* db = work + nw;
    std::fill(dw, dw + P, 0.0f);
    const int n0 = kernels::chunk_begin(N, chunks, chunk), n1 = kernels::chunk_begin(N, chunks, chunk + 1);
    const float* dz_all = relu_z ? dz_out->data() : dy.data();  // dZ of every image of the batch
    for (int n = n0; n < n1; ++n) {
      if (relu_z) kernels::relu_backward(relu_z->sample(n), dy.sample(n), dz_out->sample(n), std::size_t(O) * HW);
      const float* dz = dz_all + std::size_t(n) * O * HW;
      for (int o = 0; o < O; ++o) db[o] += kernels::sum(dz + std::size_t(o) * HW, std::size_t(HW));
    }
    if (direct_) {
      // dW over the whole chunk at once: the kernel's register sums run across its images
      const float* in = x.sample(n0);
      int Hp = H, Wp = W;
      std::size_t stride = in_.sample_size();
      if (padded) {
        for (int n = n0; n < n1; ++n) padded_copy(x, n);
        in = xpad_.data() + std::size_t(n0) * C * pad_h_ * pad_w_;
        Hp = pad_h_, Wp = pad_w_, stride = std::size_t(C) * pad_h_ * pad_w_;
      }
      if (cv_weight_grad_) {
        // dwT[c][i][j][o] += Σ_y Σ_x dzT[y·Wo + x][o]·A[c][y + i][x + j], image by image, then dW = dwTᵀ
        // (the channel axis is padded to Op, a whole number of vectors: the padding lanes of dzT are never written, so
        // stay zero, and those of dwT are never read)
        const int Op = (O + 7) / 8 * 8;
        float* dwt = work + dwt_at_;
        float* dzt = work + dzt_at_;
        std::fill(dwt, dwt + std::size_t(K) * Op, 0.0f);
        for (int n = n0; n < n1; ++n) {
          const float* dz = dz_all + std::size_t(n) * O * HW;
          kernels::transpose(dz, O, HW, HW, dzt, Op);
          kernels::conv_weight_grad_cv(in + std::size_t(n - n0) * stride, C, Hp, Wp, dzt, Op, kh_, kw_, Ho, Wo, dwt);
        }
        kernels::transpose(dwt, K, O, Op, dw, K);
      } else {
        kernels::conv_weight_grad_direct(in, stride, C, Hp, Wp, dz_all + std::size_t(n0) * O * HW, std::size_t(O) * HW,
                                         O, kh_, kw_, Ho, Wo, n1 - n0, dw);
      }
      if (dx && da_batch_vectors_) {
        kernels::conv_input_grad_bv(dz_all + std::size_t(n0) * O * HW, std::size_t(O) * HW, n1 - n0, O, Ho, Wo, w_, C,
                                    kh_, kw_, dx->sample(n0), in_.sample_size(), work + dzpad_at_);
      } else if (dx && da_as_forward_) {
        // dA[c] = Σ_o pad(dZ[o], k − 1) ⊗ rot180(W[o][c]): dZ row y sits at row y + kh − 1 − pt of its plane (whose
        // border stays zero: only the interior is ever written), and only those ho rows are read
        const int top = kh_ - 1 - pad_top_, left = kw_ - 1 - pad_left_;
        float* dzpad = work + dzpad_at_;
        for (int n = n0; n < n1; ++n) {
          const float* dz = dz_all + std::size_t(n) * O * HW;
          for (int o = 0; o < O; ++o)
            for (int y = 0; y < Ho; ++y)
              std::copy(dz + (std::size_t(o) * Ho + y) * Wo, dz + (std::size_t(o) * Ho + y + 1) * Wo,
                        dzpad + (std::size_t(o) * dzpad_h_ + y + top) * dzpad_w_ + left);
          kernels::conv_forward_direct(dzpad, O, dzpad_h_, dzpad_w_, wrot_.data(), C, kh_, kw_, nullptr, dx->sample(n),
                                       nullptr, H, W, top, Ho);
        }
      } else if (dx)
        for (int n = n0; n < n1; ++n)
          kernels::conv_input_grad_direct(dz_all + std::size_t(n) * O * HW, O, Ho, Wo, w_, C, kh_, kw_, H, W, pad_top_,
                                          pad_left_, dx->sample(n));
    } else {
      float* col = work + col_at_;
      for (int n = n0; n < n1; ++n) {
        const float* dz = dz_all + std::size_t(n) * O * HW;
        kernels::im2col(x.sample(n), C, H, W, kh_, kw_, stride_, pad_top_, pad_left_, Ho, Wo, col);
        kernels::gemm(false, true, O, K, HW, 1.0f, dz, HW, col, HW, 1.0f, dw, K);
        if (dx) {
          kernels::gemm(true, false, K, HW, O, 1.0f, w_, K, dz, HW, 0.0f, col, HW);
          float* dxn = dx->sample(n);
          std::fill(dxn, dxn + in_.sample_size(), 0.0f);
          kernels::col2im_add(col, C, H, W, kh_, kw_, stride_, pad_top_, pad_left_, Ho, Wo, dxn);
        }
      }
    }
  });
  // dW, db = Σ over chunks, in chunk order
  std::copy(chunk_work(0), chunk_work(0) + nw, dw_);
  std::copy(chunk_work(0) + nw, chunk_work(0) + P, db_);
  for (int c = 1; c < chunks; ++c) {
    const float* part = chunk_work(c);
    for (std::size_t i = 0; i < nw; ++i) dw_[i] += part[i];
    for (int o = 0; o < O; ++o) db_[o] += part[nw + o];
  }
}

}  // namespace cnn
