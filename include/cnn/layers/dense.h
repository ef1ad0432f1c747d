// Dense (fully connected), seed 004's notation with j an input and k an output neuron:
//   Z_k = Σ_j A_j·W_jk + B_k;   dA_j = Σ_k DZ_k·W_jk;   dW_jk = DZ_k·A_j;   dB_k = DZ_k
// W is stored as [inputs, outputs], row j holding every weight leaving input j, exactly as the seed indexes it.
// Any input shape is accepted and read as c·h·w features (a Flatten is implied).
#pragma once

#include <vector>

#include "cnn/layer.h"

namespace cnn {

class Dense : public Layer {
 public:
  explicit Dense(int outputs);

  std::string kind() const override { return "dense"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  std::size_t param_count() const override;
  void bind(float* params, float* grads) override;
  std::vector<ParamView> params() override;
  void init(Rng& rng) override;
  std::size_t macs_per_sample() const override;
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  // Z = A·W + B and R = ReLU(Z) in one pass (a network fuses Dense → ReLU this way; z keeps the pre-activation).
  void forward_relu(const Tensor& x, Tensor& z, Tensor& r);

  int inputs() const { return int(in_.sample_size()); }
  int outputs() const { return outputs_; }
  Tensor weight() const;  // [inputs, outputs]
  Tensor bias() const;    // [outputs]

 protected:
  Shape infer(Shape input) override;

 private:
  void run_forward(const Tensor& x, Tensor& y, Tensor* relu);
  int outputs_;
  float *w_ = nullptr, *b_ = nullptr, *dw_ = nullptr, *db_ = nullptr;
  bool small_ = false;     // W fits in L2: the register-tiled kernels (kernels::gemm_small) instead of SGEMM
  std::vector<float> wt_;  // small_: Wᵀ [outputs, inputs] for dA = DZ·Wᵀ (sized once in infer)
  std::vector<float> partial_, node_;  // backward: the chunks' partial dW and dB, and the subtrees' sums
};

}  // namespace cnn
