// Subsampling forward and backward (seed 002, "下采样层的梯度计算"): a trainable β and b per feature map on the
// k×k block sums; the residual goes back through up(·), the Kronecker product with a k×k block of ones.
#include "cnn/layers/subsampling.h"

#include <nlohmann/json.hpp>

#include "kernels/kernels.h"
#include "kernels/shard.h"

namespace cnn {

Subsampling::Subsampling(int kernel, int stride) : k_(kernel), stride_(stride ? stride : kernel) {
  if (k_ <= 0 || stride_ <= 0)
    throw Error("subsampling layer: kernel and stride must be positive, got " + std::to_string(k_) + " and " +
                std::to_string(stride_));
}

Shape Subsampling::infer(Shape in) {
  if (in.h < k_ || in.w < k_)
    throw Error("subsampling layer: input " + in.sample_str() + " is smaller than the " + std::to_string(k_) + "x" +
                std::to_string(k_) + " block");
  return {1, in.c, (in.h - k_) / stride_ + 1, (in.w - k_) / stride_ + 1};
}

std::string Subsampling::summary() const {
  return "subsampling " + std::to_string(k_) + "x" + std::to_string(k_) + " stride " + std::to_string(stride_) +
         " (β·sum + b per map)";
}

nlohmann::json Subsampling::spec() const {
  nlohmann::json j = Layer::spec();
  j["kernel"] = k_;
  j["stride"] = stride_;
  return j;
}

void Subsampling::bind(float* params, float* grads) {
  const int C = in_.c;
  beta_ = params, b_ = params + C, dbeta_ = grads, db_ = grads + C;
}

Tensor Subsampling::beta() const { return Tensor::view(beta_, {1, in_.c, 1, 1}); }
Tensor Subsampling::bias() const { return Tensor::view(b_, {1, in_.c, 1, 1}); }
Tensor Subsampling::beta_grad() const { return Tensor::view(dbeta_, {1, in_.c, 1, 1}); }
Tensor Subsampling::bias_grad() const { return Tensor::view(db_, {1, in_.c, 1, 1}); }

std::vector<ParamView> Subsampling::params() { return {{"beta", beta(), beta_grad()}, {"bias", bias(), bias_grad()}}; }

// β = 1/k², b = 0: a fresh layer is average pooling, so a net starts where LeNet's AvgPool version starts.
void Subsampling::init(Rng&) {
  for (int c = 0; c < in_.c; ++c) beta_[c] = 1.0f / float(k_ * k_), b_[c] = 0.0f;
}

// Z_j = β_j·down(A_j) + b_j,   down(A)[y][x] = Σ_{i,l<k} A[y·s + i][x·s + l]
void Subsampling::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  y.resize(out_.with_batch(N));
  for (int m = 0; m < N * C; ++m) {
    const int c = m % C;
    const float* a = x.data() + std::size_t(m) * H * W;
    float* z = y.data() + std::size_t(m) * Ho * Wo;
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        z[oy * Wo + ox] = beta_[c] * kernels::window_sum(a, W, oy * stride_, ox * stride_, k_) + b_[c];
      }
  }
}

// dβ_j = Σ (dZ_j ∘ down(A_j)),  db_j = Σ dZ_j,  dA_j = β_j·up(dZ_j) = β_j·(dZ_j ⊗ 1_{k×k})
void Subsampling::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  check_sample_shape("subsampling layer (backward dZ)", out_, dy.shape());
  const int N = x.shape().n, C = in_.c, H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  if (dx) {
    dx->resize(x.shape());
    dx->fill(0.0f);
  }
  // each chunk of the batch sums its maps (one map's sum in double, then the images in order), then the chunks' sums
  // are added up the shard's tree: the same result on any number of threads or processes
  const kernels::Shard& shard = kernels::shard_for(N);
  part_.assign(std::size_t(shard.local_chunks()) * 2 * C, 0.0f);  // per chunk: dβ, then db
  for (int j = 0; j < shard.local_chunks(); ++j)
    for (int m = shard.begin(j) * C; m < shard.begin(j + 1) * C; ++m) {
      const int c = m % C;
      const float* a = x.data() + std::size_t(m) * H * W;
      const float* dz = dy.data() + std::size_t(m) * Ho * Wo;
      float* da = dx ? dx->data() + std::size_t(m) * H * W : nullptr;
      double sb = 0.0, sbeta = 0.0;
      for (int oy = 0; oy < Ho; ++oy)
        for (int ox = 0; ox < Wo; ++ox) {
          const float g = dz[oy * Wo + ox];
          const float s = kernels::window_sum(a, W, oy * stride_, ox * stride_, k_);  // down(A) at (oy, ox)
          sb += g;
          sbeta += double(g) * s;
          if (da) {
            const float gb = beta_[c] * g;
            for (int i = 0; i < k_; ++i)
              for (int l = 0; l < k_; ++l) da[(oy * stride_ + i) * W + ox * stride_ + l] += gb;
          }
        }
      float* p = part_.data() + std::size_t(j) * 2 * C;
      p[c] += float(sbeta);
      p[C + c] += float(sb);
    }
  shard.fold_gradient([&](int j) { return part_.data() + std::size_t(j) * 2 * C; }, 2 * std::size_t(C), dbeta_);
}

}  // namespace cnn
