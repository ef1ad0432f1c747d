// Conv2D: C_in → C_out feature maps, kernel kh×kw, stride, zero padding (`valid`, `same` or four explicit pads), and
// one bias per output map unless it is made without.
//   Z = A ⊗ W + b            (⊗: the seeds' sliding-window multiply-and-sum, i.e. cross-correlation)
//   dW = A ⊗ dZ, db = ΣdZ, dA = pad(dZ) ⊗ rot180(W)   (seeds 000 and 004; strides by dilating dZ)
// Output size (seed 004): valid w_o = ceil((W − w + 1)/stride); same w_o = ceil(W/stride), the padding split
// as evenly as possible with any odd pixel at the bottom/right (the TensorFlow/Keras and ONNX SAME_UPPER rule);
// explicit pads w_o = (W + left + right − w)/stride + 1, rounded down (PyTorch's and ONNX's rule).
#pragma once

#include <memory>

#include "cnn/layer.h"

namespace cnn {

enum class Padding { valid, same, explicit_pads };
Padding parse_padding(const std::string& s);  // "valid" | "same", throws otherwise
std::string to_string(Padding p);             // "valid", "same", "explicit"

struct KernelSize {
  int h, w;
};

namespace kernels {
class ConvPlan;
}

class Conv2D : public Layer {
 public:
  // Conv2D(6, 5): 6 maps, 5×5 kernel;  Conv2D(3, {3, 2}, 2, Padding::same): 3×2 kernel, stride 2, same padding;
  // Conv2D(16, 3, 2, Pads{1, 1, 1, 1}, false): 3×3, stride 2, one pixel of zeros all round, no bias.
  Conv2D(int out_channels, KernelSize kernel, int stride = 1, Padding padding = Padding::valid, bool bias = true);
  Conv2D(int out_channels, KernelSize kernel, int stride, Pads pads, bool bias = true);
  Conv2D(int out_channels, int kernel, int stride = 1, Padding padding = Padding::valid, bool bias = true)
      : Conv2D(out_channels, KernelSize{kernel, kernel}, stride, padding, bias) {}
  Conv2D(int out_channels, int kernel, int stride, Pads pads, bool bias = true)
      : Conv2D(out_channels, KernelSize{kernel, kernel}, stride, pads, bias) {}
  ~Conv2D() override;

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
  // Z = A ⊗ W' + b' (and R = ReLU(Z) when relu is not null) with weights and bias the caller gives in this layer's
  // layout, w' [C_out, C_in, kh, kw] and b' [C_out] (never null): a batch normalisation folded in for inference,
  // W' = scale·W, b' = scale·b + shift. The same kernels as forward.
  void forward_with(const Tensor& x, const float* w, const float* b, Tensor& z, Tensor* relu);
  // The matching backward: dZ = dR where Z ≥ 0, else 0 (written to dz, image by image while it is in cache), then
  // the Conv2D backward from dZ.
  void backward_relu(const Tensor& x, const Tensor& z, const Tensor& dr, Tensor& dz, Tensor* dx);
  // The kernels this layer's shape takes (kernels::ConvPlan::describe): "im2col" (im2col + SGEMM), or "direct"
  // (stride-1 AVX-512) with its variants, e.g. "direct, dW over channels, dA over the batch".
  std::string kernel_name() const;

  int out_channels() const { return out_c_; }
  int kernel_h() const { return kh_; }
  int kernel_w() const { return kw_; }
  int stride() const { return stride_; }
  Padding padding() const { return padding_; }
  // The pads in use: explicit ones as given, `same` ones once the input size is known.
  int pad_top() const { return pads_.top; }
  int pad_left() const { return pads_.left; }
  int pad_bottom() const { return pads_.bottom; }
  int pad_right() const { return pads_.right; }
  bool has_bias() const { return has_bias_; }
  // Views into the network's buffers: weight [C_out, C_in, kh, kw], bias [C_out] (without a bias: empty tensors).
  Tensor weight() const;
  Tensor bias() const;
  Tensor weight_grad() const;
  Tensor bias_grad() const;

 protected:
  Shape infer(Shape input) override;

 private:
  int out_c_, kh_, kw_, stride_;
  Padding padding_;
  Pads pads_;
  bool has_bias_;
  float *w_ = nullptr, *b_ = nullptr, *dw_ = nullptr, *db_ = nullptr;
  std::unique_ptr<kernels::ConvPlan> plan_;  // made in infer(), once the input shape is known

  std::string pads_str() const;  // "1" when all four are equal, else "[top,left,bottom,right]"
  void run_forward(const Tensor& x, const float* w, const float* b, Tensor& z, Tensor* relu);
  void run_backward(const Tensor& x, const Tensor& dy, Tensor* dx, const Tensor* relu_z, Tensor* dz_out);
};

}  // namespace cnn
