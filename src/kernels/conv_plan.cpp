// Which convolution kernels a shape takes, measured with bench/microbench.cpp (each layer of a batch of 50 timed with
// the kernels chosen and forced onto im2col + SGEMM), and the plan's calls into them.
#include "kernels/conv_plan.h"

#include <algorithm>

#include "kernels/conv_kernels.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace cnn::kernels {

// The direct kernels of one instruction set, so that a plan calls the set it was made for.
struct DirectKernels {
  decltype(&conv_forward_rows<Isa::avx512>) forward_rows;
  decltype(&conv_weight_grad_rows<Isa::avx512>) weight_grad_rows;
  decltype(&conv_input_grad_taps<Isa::avx512>) input_grad_taps;
  decltype(&conv_forward_channels<Isa::avx512>) forward_channels;
  decltype(&conv_weight_grad_channels<Isa::avx512>) weight_grad_channels;
  decltype(&conv_input_grad_batch<Isa::avx512>) input_grad_batch;
};

namespace {
// The share of the 8-float vector lanes a row of w pixels fills.
double lane_fill(int w) { return double(w) / (8 * ((w + 7) / 8)); }

#if defined(__x86_64__)
template <Isa I>
constexpr DirectKernels kDirect{&conv_forward_rows<I>,     &conv_weight_grad_rows<I>,     &conv_input_grad_taps<I>,
                                &conv_forward_channels<I>, &conv_weight_grad_channels<I>, &conv_input_grad_batch<I>};
// 16-float vectors along rows (conv_wide.cpp), the rest as avx512
constexpr DirectKernels kDirectWide{&conv_forward_rows<Isa::avx512_16>,      &conv_weight_grad_rows<Isa::avx512_16>,
                                    &conv_input_grad_taps<Isa::avx512>,      &conv_forward_channels<Isa::avx512>,
                                    &conv_weight_grad_channels<Isa::avx512>, &conv_input_grad_batch<Isa::avx512>};
#endif
}  // namespace

ConvPlan::ConvPlan(const ConvShape& s) : s_(s) {
  const std::size_t P = s.params(), K = std::size_t(s.taps()), HW = std::size_t(s.Ho) * s.Wo;
#if defined(__x86_64__)
  // The direct kernels beat im2col + SGEMM for stride 1 while the vectors along an output row are mostly full (at
  // least 60% of the lanes: wo = 5, 6, 7, 8, 10, …) and the dot products are short (C·kh·kw up to a few hundred:
  // seed5, LeNet-5; a CIFAR ResNet's 3×3 pad 1 on 16, 32, 64 maps of 32, 16, 8 pixels, batch 50: forward 84 against
  // 25, 45, 61 GFLOP/s, backward 66–83 against 23–60); for long ones (AlexNet's 256·3·3) SGEMM's blocking wins.
  // The same thresholds for AVX2, whose tiles are smaller but whose alternative is the same SGEMM.
  const int lanes = 8 * ((s.Wo + 7) / 8);
  // Strided: the channel-vector kernels for the forward and dW, which only space the pixels they broadcast, where O
  // fills whole vectors (a CIFAR ResNet's stride-2 3×3 and 1×1 convolutions), and dA through im2col.
  const bool strided = s.stride > 1 && s.O % 8 == 0 && s.kw <= kChannelsMaxKW && s.taps() <= 600;
  const bool direct = simd_available() && ((s.stride == 1 && s.taps() <= 600 && s.Wo * 10 >= lanes * 6) || strided);
  if (direct) {
    isa_ = kernels::isa();
    direct_ = isa_ == Isa::avx2 ? &kDirect<Isa::avx2> : isa_ == Isa::avx512 ? &kDirect<Isa::avx512> : &kDirectWide;
  }
#else
  const bool direct = false, strided = false;
#endif
  if (!direct) {
    col_at_ = P;
    chunk_floats_ = P + K * HW;
  } else if (strided) {
    forward_ = ForwardKernel::channels;
    weight_grad_ = WeightGradKernel::channels;
    cv16_ = isa_ == Isa::avx512_16 && s.O % 16 == 0;
    pad_copies_ = s.padded();
    const std::size_t Op = std::size_t(channels_padded(s.O));
    col_at_ = P;
    dwt_at_ = col_at_ + K * HW;
    dzt_at_ = dwt_at_ + Op * K;
    chunk_floats_ = dzt_at_ + Op * HW;
    wt_.assign(s.weights(), 0.0f);
  } else {
    // Forward over channels for O a multiple of 8 and rows that leave more than 20% of the lanes idle (LeNet-5's
    // C3: 10 of 16); for full rows the row kernels are as fast.
    forward_ =
        s.O % 8 == 0 && s.kw <= kChannelsMaxKW && lane_fill(s.Wo) < 0.8 ? ForwardKernel::channels : ForwardKernel::rows;
    // dW over channels whenever at least ¾ of the lanes hold real channels (O = 8, 12, 16, 24, …: O is padded to
    // whole vectors); for 6 channels (seed5's and LeNet-5's C1: 76 against 53 GFLOP/s) the row kernels win.
    weight_grad_ = s.kw <= kChannelsMaxKW && s.O >= 8 && 4 * s.O >= 3 * channels_padded(s.O)
                       ? WeightGradKernel::channels
                       : WeightGradKernel::rows;
    // dA across the batch where there is no padding (one layer's backward with and without dA, batch 50: LeNet-5's
    // C3 80 against 55 GFLOP/s as a forward convolution, seed5's C3 60–80 against 56 tap by tap), while its
    // workspace stays within 1 MB a chunk (the seed nets need a few tens of KB, a 224×224 layer hundreds of MB).
    // Else as a forward convolution where dA's rows fill the vectors clearly better than dZ's (LeNet-5's C3: 14
    // against 10 pixels; it loses where dZ's rows are full, seed5) and every dZ pixel lands in dA's zero-bordered
    // plane (no pad wider than the kernel less one); also for "same" 3×3 convolutions of rows of 8 or more, where dA is
    // a forward convolution of the same shape (a CIFAR ResNet's, batch 128: 8–12 ms a layer against 15–18 tap by
    // tap). Else tap by tap, which takes any padding.
    const std::size_t batch_work = conv_input_grad_batch_work(s);
    const bool pads_fit = s.pad_top < s.kh && s.pad_bottom < s.kh && s.pad_left < s.kw && s.pad_right < s.kw;
    if (!s.padded() && s.kw <= kBatchMaxKW && batch_work <= (std::size_t(1) << 18))
      input_grad_ = InputGradKernel::batch;
    else if (pads_fit && (lane_fill(s.W) > lane_fill(s.Wo) + 0.2 || (s.W == s.Wo && s.W >= 8 && s.kw <= 3)))
      input_grad_ = InputGradKernel::as_forward;
    else
      input_grad_ = InputGradKernel::taps;
    pad_copies_ = s.padded();

    da_at_ = P;
    std::size_t da_floats = 0;
    if (input_grad_ == InputGradKernel::as_forward) {
      da_shape_ = ConvShape{.C = s.O,
                            .H = s.H + s.kh - 1,
                            .W = s.W + s.kw - 1,
                            .O = s.C,
                            .kh = s.kh,
                            .kw = s.kw,
                            .Ho = s.H,
                            .Wo = s.W,
                            .bias = false};
      da_floats = da_shape_.in_size();
      wrot_.assign(s.weights(), 0.0f);
    } else if (input_grad_ == InputGradKernel::batch) {
      da_floats = batch_work;
    }
    const std::size_t Op = std::size_t(channels_padded(s.O));
    const bool cv_dw = weight_grad_ == WeightGradKernel::channels;
    dwt_at_ = da_at_ + da_floats;
    dzt_at_ = dwt_at_ + (cv_dw ? Op * K : 0);
    chunk_floats_ = dzt_at_ + (cv_dw ? Op * HW : 0);
    // avx512_16: rows of 16 pixels where they fill whole vectors (the CIFAR nets' 32- and 16-pixel rows), else
    // pairs of channels × 8 pixels, whose weights are packed
    const auto px16 = [&](int wo) { return isa_ == Isa::avx512_16 && wo % 16 == 0; };
    rows16_ = forward_ == ForwardKernel::rows && px16(s.Wo);
    // and 16 channels a vector for rows shorter than 16 pixels where the channels fill whole vectors (a CIFAR
    // ResNet's 8-pixel rows of 64 maps: 70–76 GFLOP/s against the pairs' 55–60)
    if (isa_ == Isa::avx512_16 && s.Wo < 16 && s.O % 16 == 0 && s.kw <= kChannelsMaxKW) {
      forward_ = ForwardKernel::channels;
      cv16_ = true;
    }
    if (forward_ == ForwardKernel::channels) wt_.assign(s.weights(), 0.0f);
    da_rows16_ = input_grad_ == InputGradKernel::as_forward && px16(s.W);
    if (isa_ == Isa::avx512_16 && forward_ == ForwardKernel::rows && !rows16_)
      wp_.assign(weight_pairs_size(s.O, s.taps()), 0.0f);
    if (isa_ == Isa::avx512_16 && input_grad_ == InputGradKernel::as_forward && !da_rows16_)
      wrot_pairs_.assign(weight_pairs_size(s.C, s.O * s.kh * s.kw), 0.0f);
  }
  chunk_floats_ = (chunk_floats_ + 15) / 16 * 16;  // chunks start on separate cache lines
  work_.assign(chunk_floats_ * kMaxChunks, 0.0f);
}

std::string ConvPlan::describe() const {
  if (forward_ == ForwardKernel::im2col) return "im2col";
  std::string d = "direct";
  if (forward_ == ForwardKernel::channels) d += cv16_ ? ", forward over 16 channels" : ", forward over channels";
  if (rows16_) d += ", rows of 16";
  if (weight_grad_ == WeightGradKernel::channels) d += ", dW over channels";
  if (input_grad_ == InputGradKernel::as_forward) d += ", dA as forward";
  if (input_grad_ == InputGradKernel::batch) d += ", dA over the batch";
  if (input_grad_ == InputGradKernel::im2col) d += ", dA by im2col";
  return d;
}

void ConvPlan::prepare_forward(const float* w, int batch, const float* x) {
  if (pad_copies_ && xpad_.size() < std::size_t(batch) * s_.padded_size())
    xpad_.resize(std::size_t(batch) * s_.padded_size(), 0.0f);
  padded_from_ = pad_copies_ && forward_ != ForwardKernel::im2col ? x : nullptr;
  padded_batch_ = batch;
  if (forward_ == ForwardKernel::channels) transpose(w, s_.O, s_.taps(), s_.taps(), wt_.data(), s_.O);
  if (!wp_.empty()) pack_weight_pairs(w, s_.O, s_.taps(), wp_.data());
}

void ConvPlan::prepare_backward(const float* w, int batch, bool input_grad, const float* x) {
  if (pad_copies_ && xpad_.size() < std::size_t(batch) * s_.padded_size())
    xpad_.resize(std::size_t(batch) * s_.padded_size(), 0.0f);
  reuse_pad_ = padded_from_ != nullptr && padded_from_ == x && padded_batch_ == batch;
  if (pad_copies_ && weight_grad_ != WeightGradKernel::im2col) padded_from_ = x, padded_batch_ = batch;  // dW copies
  if (input_grad && input_grad_ == InputGradKernel::as_forward) {
    const int O = s_.O, C = s_.C, kh = s_.kh, kw = s_.kw;
    for (int o = 0; o < O; ++o)
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < kh; ++i)
          for (int j = 0; j < kw; ++j)
            wrot_[((std::size_t(c) * O + o) * kh + i) * kw + j] =
                w[((std::size_t(o) * C + c) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
    if (!wrot_pairs_.empty()) pack_weight_pairs(wrot_.data(), C, O * kh * kw, wrot_pairs_.data());
  }
}

// Image n of batch x as the direct kernels read it: copied into the interior of its zero-bordered planes when the
// shape is padded (the border is never written, so it stays zero), else as it is.
const float* ConvPlan::padded_image(const float* x, int n) {
  const float* in = x + std::size_t(n) * s_.in_size();
  if (!pad_copies_) return in;
  const int C = s_.C, H = s_.H, W = s_.W, Hp = s_.Hp(), Wp = s_.Wp();
  float* xp = xpad_.data() + std::size_t(n) * s_.padded_size();
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < H; ++r)
      std::copy(in + (std::size_t(c) * H + r) * W, in + (std::size_t(c) * H + r + 1) * W,
                xp + (std::size_t(c) * Hp + r + s_.pad_top) * Wp + s_.pad_left);
  return xp;
}

void ConvPlan::forward(int chunk, int n0, int n1, const float* x, const float* w, const float* b, float* z,
                       float* relu) {
  const int O = s_.O, K = s_.taps(), HW = s_.Ho * s_.Wo;
  const std::size_t out = s_.out_size();
  for (int n = n0; n < n1; ++n) {
    float* zn = z + std::size_t(n) * out;
    float* rn = relu ? relu + std::size_t(n) * out : nullptr;
    if (forward_ == ForwardKernel::im2col) {  // Z[O, Ho·Wo] = W[O, C·kh·kw] · im2col(A) + b
      float* col = work(chunk) + col_at_;
      im2col(s_, x + std::size_t(n) * s_.in_size(), col);
      if (b)
        for (int o = 0; o < O; ++o) std::fill(zn + std::size_t(o) * HW, zn + std::size_t(o + 1) * HW, b[o]);
      gemm(false, false, O, HW, K, 1.0f, w, K, col, HW, b ? 1.0f : 0.0f, zn, HW);
      if (rn) relu_forward(zn, rn, out);
      continue;
    }
#if defined(__x86_64__)
    const float* xn = padded_image(x, n);
    if (cv16_)
      conv_forward_channels16(s_, xn, wt_.data(), b, zn, rn);
    else if (forward_ == ForwardKernel::channels)
      direct_->forward_channels(s_, xn, wt_.data(), b, zn, rn);
    else if (rows16_)
      conv_forward_rows16(s_, xn, w, b, zn, rn, 0, -1);
    else
      direct_->forward_rows(s_, xn, wp_.empty() ? w : wp_.data(), b, zn, rn, 0, -1);
#endif
  }
}

void ConvPlan::weight_grad(int chunk, int n0, int n1, const float* x, const float* dz, float* dw) {
  const int O = s_.O, K = s_.taps(), HW = s_.Ho * s_.Wo;
  const std::size_t out = s_.out_size();
  if (weight_grad_ == WeightGradKernel::im2col) {  // dW[O, C·kh·kw] = Σ_n dZ_n · im2col(A_n)ᵀ
    std::fill(dw, dw + s_.weights(), 0.0f);
    float* col = work(chunk) + col_at_;
    for (int n = n0; n < n1; ++n) {
      im2col(s_, x + std::size_t(n) * s_.in_size(), col);
      gemm(false, true, O, K, HW, 1.0f, dz + std::size_t(n) * out, HW, col, HW, 1.0f, dw, K);
    }
    return;
  }
#if defined(__x86_64__)
  // the chunk's images one after another, as the direct kernels read them
  const float* xs =
      pad_copies_ ? xpad_.data() + std::size_t(n0) * s_.padded_size() : x + std::size_t(n0) * s_.in_size();
  if (pad_copies_ && !reuse_pad_)
    for (int n = n0; n < n1; ++n) padded_image(x, n);
  if (weight_grad_ == WeightGradKernel::channels) {
    // dwT[c][i][j][o] = Σ_n Σ_y Σ_x dzT_n[y·Wo + x][o]·A_n[c][y + i][x + j], image by image, then dW = dwTᵀ (the
    // channel axis padded to whole vectors: the padding lanes of dzT are never written, so stay zero)
    const int Op = channels_padded(O);
    float* dwt = work(chunk) + dwt_at_;
    float* dzt = work(chunk) + dzt_at_;
    std::fill(dwt, dwt + std::size_t(K) * Op, 0.0f);
    for (int n = n0; n < n1; ++n) {
      transpose(dz + std::size_t(n) * out, O, HW, HW, dzt, Op);
      direct_->weight_grad_channels(s_, xs + std::size_t(n - n0) * s_.padded_size(), dzt, dwt);
    }
    transpose(dwt, K, O, Op, dw, K);
  } else {  // the whole chunk in one call: the register sums run across its images
    std::fill(dw, dw + s_.weights(), 0.0f);
    direct_->weight_grad_rows(s_, xs, dz + std::size_t(n0) * out, n1 - n0, dw);
  }
#endif
}

void ConvPlan::input_grad(int chunk, int n0, int n1, const float* dz, const float* w, float* dx) {
  const int O = s_.O, K = s_.taps(), HW = s_.Ho * s_.Wo;
  const std::size_t out = s_.out_size(), in = s_.in_size();
  switch (input_grad_) {
    case InputGradKernel::im2col: {  // dA_n = col2im(Wᵀ · dZ_n)
      float* col = work(chunk) + col_at_;
      for (int n = n0; n < n1; ++n) {
        gemm(true, false, K, HW, O, 1.0f, w, K, dz + std::size_t(n) * out, HW, 0.0f, col, HW);
        float* dxn = dx + std::size_t(n) * in;
        std::fill(dxn, dxn + in, 0.0f);
        col2im_add(s_, col, dxn);
      }
      return;
    }
#if defined(__x86_64__)
    case InputGradKernel::batch:
      direct_->input_grad_batch(s_, dz + std::size_t(n0) * out, n1 - n0, w, dx + std::size_t(n0) * in,
                                work(chunk) + da_at_);
      return;
    case InputGradKernel::as_forward: {
      // dA[c] = Σ_o pad(dZ[o], k − 1) ⊗ rot180(W[o][c]) once the input padding is cropped away: dZ row y sits at row
      // y + kh − 1 − pt of its plane (whose border stays zero: only the interior is ever written), and only those
      // Ho rows are read
      const int top = s_.kh - 1 - s_.pad_top, left = s_.kw - 1 - s_.pad_left;
      const int Hd = da_shape_.H, Wd = da_shape_.W, Ho = s_.Ho, Wo = s_.Wo;
      float* dzpad = work(chunk) + da_at_;
      for (int n = n0; n < n1; ++n) {
        const float* dzn = dz + std::size_t(n) * out;
        for (int o = 0; o < O; ++o)
          for (int y = 0; y < Ho; ++y)
            std::copy(dzn + (std::size_t(o) * Ho + y) * Wo, dzn + (std::size_t(o) * Ho + y + 1) * Wo,
                      dzpad + (std::size_t(o) * Hd + y + top) * Wd + left);
        if (da_rows16_)
          conv_forward_rows16(da_shape_, dzpad, wrot_.data(), nullptr, dx + std::size_t(n) * in, nullptr, top, Ho);
        else
          direct_->forward_rows(da_shape_, dzpad, wrot_pairs_.empty() ? wrot_.data() : wrot_pairs_.data(), nullptr,
                                dx + std::size_t(n) * in, nullptr, top, Ho);
      }
      return;
    }
    case InputGradKernel::taps:
      for (int n = n0; n < n1; ++n)
        direct_->input_grad_taps(s_, dz + std::size_t(n) * out, w, dx + std::size_t(n) * in);
      return;
#else
    default:
      return;
#endif
  }
}

}  // namespace cnn::kernels
