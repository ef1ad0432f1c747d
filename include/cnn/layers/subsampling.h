// Subsampling (seed 002, "下采样层"; LeNet-5's S2/S4): per feature map j a trainable multiplicative factor β_j and
// bias b_j on the k×k block sums of the map:
//   Z_j = β_j·down(A_j) + b_j                 down(A)[y][x] = Σ_{i,l<k} A[y·s + i][x·s + l]   (the block SUM)
//   dβ_j = Σ_{u,v} (dZ_j ∘ down(A_j))_{uv}     db_j = Σ_{u,v} (dZ_j)_{uv}      (summed over the batch too)
//   dA_j = β_j·up(dZ_j),  up(D) = D ⊗ 1_{k×k}  (Kronecker product: each residual copied k times across and down)
// down is the sum, not the mean: seed 002 follows Bouvrie's notes, where down(·) "sums over each distinct n×n
// block", and LeCun's LeNet-5 adds the four inputs of each S2 unit before its trainable coefficient. A mean would
// only rescale β by 1/k²; β starts at 1/k² and b at 0, so a fresh layer is exactly average pooling.
// The activation is a separate layer (out = f(Z) with f from the description file), as everywhere in this library.
// No padding; output floor((H − k)/s) + 1. s defaults to k (the seed's non-overlapping blocks, where up() is the
// exact Kronecker product); s < k overlaps the blocks and up() becomes the matching scatter-add.
#pragma once

#include "cnn/layer.h"

namespace cnn {

class Subsampling : public Layer {
 public:
  explicit Subsampling(int kernel = 2, int stride = 0);

  std::string kind() const override { return "subsampling"; }
  std::string summary() const override;
  nlohmann::json spec() const override;
  std::size_t param_count() const override { return 2 * std::size_t(in_.c); }
  void bind(float* params, float* grads) override;
  std::vector<ParamView> params() override;
  void init(Rng& rng) override;
  std::size_t macs_per_sample() const override { return out_.sample_size() * std::size_t(k_) * k_; }
  void forward(const Tensor& x, Tensor& y, const Context& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

  int kernel() const { return k_; }
  int stride() const { return stride_; }
  // Views into the network's buffers: β [C] and b [C], one per feature map.
  Tensor beta() const;
  Tensor bias() const;
  Tensor beta_grad() const;
  Tensor bias_grad() const;

 protected:
  Shape infer(Shape input) override;

 private:
  int k_, stride_;
  std::vector<float> part_;  // backward: each chunk's partial dβ and db
  float *beta_ = nullptr, *b_ = nullptr, *dbeta_ = nullptr, *db_ = nullptr;
};

}  // namespace cnn
