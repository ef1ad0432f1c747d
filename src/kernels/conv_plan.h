// A convolution layer's plan: which kernel family (conv_kernels.h) computes each of its three products for its
// shape on this CPU, and the workspaces they need, both decided once, when the layer is set up (Conv2D::infer), so a
// training step neither chooses nor allocates. Conv2D holds the formulas and calls the plan; the thresholds that
// choose, and the measurements behind them, are in conv_plan.cpp.
#pragma once

#include <string>
#include <vector>

#include "kernels/conv_shape.h"
#include "kernels/isa.h"

namespace cnn::kernels {

enum class ForwardKernel { im2col, rows, channels };
enum class WeightGradKernel { im2col, rows, channels };
// taps: conv_input_grad_taps; as_forward: a forward convolution of the zero-bordered dZ with rot180(W) along rows;
// batch: conv_input_grad_batch
enum class InputGradKernel { im2col, taps, as_forward, batch };
struct DirectKernels;  // one instruction set's direct kernels (conv_plan.cpp)

class ConvPlan {
 public:
  // Chooses for isa() as it is now (a plan made with SIMD switched off stays on the portable path, one made for
  // AVX2 on AVX2) and sizes the workspaces of kMaxChunks chunks (kernels/parallel.h).
  explicit ConvPlan(const ConvShape& s);

  const ConvShape& shape() const { return s_; }
  ForwardKernel forward_kernel() const { return forward_; }
  WeightGradKernel weight_grad_kernel() const { return weight_grad_; }
  InputGradKernel input_grad_kernel() const { return input_grad_; }
  // The instruction set of the direct kernels (portable for im2col)
  Isa isa() const { return isa_; }
  // "im2col", or "direct" and the direct variants chosen: ", forward over channels" (or "over 16 channels"), ", rows of
  // 16",
  // ", dW over channels",
  // ", dA as forward", ", dA over the batch", ", dA by im2col" (in that order).
  std::string describe() const;

  // Before a batch's chunks run, on the calling thread: W in the layouts the chosen kernels read, and room for the
  // zero-bordered copies of `batch` images where the direct kernels need them (grown once, for the largest batch).
  // x: the batch the pass reads. The forward's zero-bordered copies serve the backward that follows on the same x
  // (the network's backward reads the activations of its last forward), so dW copies nothing again.
  void prepare_forward(const float* w, int batch, const float* x);
  void prepare_backward(const float* w, int batch, bool input_grad, const float* x);

  // Images [n0, n1) of a batch, as chunk `chunk` (each chunk has its own workspace, so chunks run in parallel).
  // x, z, dz and dx hold whole batches, image after image.
  //   z_n = x_n ⊗ w + b   (b null: no bias);  relu not null: also relu_n = max(z_n, 0)
  void forward(int chunk, int n0, int n1, const float* x, const float* w, const float* b, float* z, float* relu);
  //   dw = Σ_n x_n ⊗ dz_n over the chunk's images (overwritten)
  void weight_grad(int chunk, int n0, int n1, const float* x, const float* dz, float* dw);
  //   dx_n = pad(dz_n) ⊗ rot180(w) for each of the chunk's images (overwritten)
  void input_grad(int chunk, int n0, int n1, const float* dz, const float* w, float* dx);
  // The chunk's own shape().params() floats, for its partial sums of dW, then db.
  float* partial(int chunk) { return work(chunk); }

 private:
  ConvShape s_;
  Isa isa_ = Isa::portable;
  const DirectKernels* direct_ = nullptr;  // null: im2col + SGEMM
  ConvShape da_shape_;                     // dA as a forward convolution: C maps from O zero-bordered dZ planes
  ForwardKernel forward_ = ForwardKernel::im2col;
  WeightGradKernel weight_grad_ = WeightGradKernel::im2col;
  InputGradKernel input_grad_ = InputGradKernel::im2col;
  bool rows16_ = false, da_rows16_ = false;  // avx512_16: the forward, or dA as forward, along rows of 16 pixels
  bool cv16_ = false;                        // avx512_16: the forward over channels with 16-float vectors
  bool pad_copies_ = false;                  // the direct kernels read each image from a zero-bordered copy
  // Where each part of a chunk's workspace starts: after the partial dW and db, the im2col columns of one image;
  // or the dA kernel's (zero-bordered dZ planes, or 8 images' dZ and dA), then dW and one image's dZ with the
  // channel axis last.
  std::size_t col_at_ = 0, da_at_ = 0, dwt_at_ = 0, dzt_at_ = 0, chunk_floats_ = 0;
  std::vector<float> work_;
  std::vector<float> wt_;  // wt[c][i][j][o] = W[o][c][i][j]
  std::vector<float> wrot_;  // rot180(W) with the channel axes swapped: wrot[c][o][i][j] = W[o][c][kh−1−i][kw−1−j]
  // avx512_16's forward along rows reads W (wp_) and, for dA as forward, wrot_ (wrot_pairs_) in channel pairs
  std::vector<float> wp_, wrot_pairs_;
  std::vector<float> xpad_;  // every image of the batch in its zero-bordered planes (the border is never written)
  const float* padded_from_ = nullptr;  // the batch whose copies xpad_ holds (the last forward's), and its size
  int padded_batch_ = 0;
  bool reuse_pad_ = false;  // this backward reads the copies the forward made

  float* work(int chunk) { return work_.data() + std::size_t(chunk) * chunk_floats_; }
  const float* padded_image(const float* x, int n);
};

}  // namespace cnn::kernels
