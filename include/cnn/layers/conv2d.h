// Conv2D: C_in → C_out feature maps, kernel kh×kw, stride, `valid` or `same` padding, one bias per output map.
//   Z = A ⊗ W + b            (⊗: the seeds' sliding-window multiply-and-sum, i.e. cross-correlation)
//   dW = A ⊗ dZ, db = ΣdZ, dA = pad(dZ) ⊗ rot180(W)   (seeds 000 and 004; strides by dilating dZ)
// Output size (seed 004): valid w_o = ceil((W − w + 1)/stride); same w_o = ceil(W/stride), the padding split
// as evenly as possible with any odd pixel at the bottom/right (the TensorFlow/Keras and ONNX SAME_UPPER rule).
#pragma once

#include "cnn/layer.h"

namespace cnn {

enum class Padding { valid, same };
Padding parse_padding(const std::string& s);  // "valid" | "same", throws otherwise
std::string to_string(Padding p);

struct KernelSize {
  int h, w;
};

class Conv2D : public Layer {
 public:
  // Conv2D(6, 5): 6 maps, 5×5 kernel;  Conv2D(3, {3, 2}, 2, Padding::same): 3×2 kernel, stride 2, same padding.
  Conv2D(int out_channels, KernelSize kernel, int stride = 1, Padding padding = Padding::valid);
  Conv2D(int out_channels, int kernel, int stride = 1, Padding padding = Padding::valid)
      : Conv2D(out_channels, KernelSize{kernel, kernel}, stride, padding) {}

  std::string kind() const override { return "conv2d"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  std::size_t param_count() const override;
  void bind(float* params, float* grads) override;
  std::vector<ParamView> params() override;
  void init(Rng& rng) override;
  std::size_t macs_per_sample() const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  // Z = A ⊗ W + b and R = ReLU(Z) in one pass over the output (a network fuses Conv2D → ReLU this way; z keeps
  // the pre-activation, so the ReLU's backward and every activation stay exactly as without fusion).
  void forward_relu(const Tensor& x, Tensor& z, Tensor& r);
  // The matching backward: dZ = dR where Z ≥ 0, else 0 (written to dz, image by image while it is in cache), then
  // the Conv2D backward from dZ.
  void backward_relu(const Tensor& x, const Tensor& z, const Tensor& dr, Tensor& dz, Tensor* dx);
  // Which kernel family this layer's shape uses: "direct" (stride-1 AVX-512) or "im2col" (im2col + SGEMM).
  std::string kernel_name() const {
    if (!direct_) return "im2col";
    return std::string("direct") + (cv_forward_ ? ", forward over channels" : "") +
           (cv_weight_grad_ ? ", dW over channels" : "") + (da_as_forward_ ? ", dA as forward" : "") +
           (da_batch_vectors_ ? ", dA over the batch" : "");
  }

  int out_channels() const { return out_c_; }
  int kernel_h() const { return kh_; }
  int kernel_w() const { return kw_; }
  int stride() const { return stride_; }
  Padding padding() const { return padding_; }
  int pad_top() const { return pad_top_; }
  int pad_left() const { return pad_left_; }
  int pad_bottom() const { return pad_bottom_; }
  int pad_right() const { return pad_right_; }
  // Views into the network's buffers: weight [C_out, C_in, kh, kw], bias [C_out].
  Tensor weight() const;
  Tensor bias() const;
  Tensor weight_grad() const;
  Tensor bias_grad() const;

 protected:
  Shape infer(Shape input) override;

 private:
  int out_c_, kh_, kw_, stride_;
  Padding padding_;
  int pad_top_ = 0, pad_left_ = 0, pad_bottom_ = 0, pad_right_ = 0;
  float *w_ = nullptr, *b_ = nullptr, *dw_ = nullptr, *db_ = nullptr;

  void run_forward(const Tensor& x, Tensor& z, Tensor* relu);
  void run_backward(const Tensor& x, const Tensor& dy, Tensor* dx, const Tensor* relu_z, Tensor* dz_out);
  const float* padded_copy(const Tensor& x, int n);
  float* chunk_work(int chunk) { return work_.data() + std::size_t(chunk) * chunk_floats_; }
  // Workspaces, sized once in infer() for the most chunks a batch is ever cut into (kernels/parallel.h), so a
  // training step never allocates. Per chunk: the chunk's partial dW and db, then (im2col family only) one
  // image's im2col columns.
  bool direct_ = false;
  bool da_as_forward_ = false;   // direct dA as a forward convolution of the zero-bordered dZ with rot180(W)
  bool da_batch_vectors_ = false;  // direct dA with vectors across 8 images (valid padding; see kernels.h)
  int dzpad_h_ = 0, dzpad_w_ = 0;
  std::size_t dzpad_at_ = 0;     // where a chunk's dA workspace starts: zero-bordered dZ planes, or the batch-vector
                                 // kernel's dZ and dA
  bool cv_forward_ = false, cv_weight_grad_ = false;  // channel-vector kernels (see kernels.h)
  std::size_t dwt_at_ = 0, dzt_at_ = 0;  // a chunk's dW with the channel axis last, and one image's dZ likewise
  std::vector<float> wt_;        // W with the channel axis last: wt[c][i][j][o] = W[o][c][i][j]
  std::vector<float> wrot_;      // rot180(W) with the channel axes swapped: wrot[c][o][i][j] = W[o][c][kh−1−i][kw−1−j]
  int pad_h_ = 0, pad_w_ = 0;    // the padded input plane the direct kernels read: (H_out + kh − 1)×(W_out + kw − 1)
  std::size_t col_at_ = 0, chunk_floats_ = 0;
  std::vector<float> xpad_;      // "same" padding: every image of the batch in its zero-bordered plane (grows once)
  std::vector<float> work_;
};

}  // namespace cnn
