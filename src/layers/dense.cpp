// Dense forward and backward (seed 004, "全连接层"): one matrix product per direction for the whole batch.
#include "cnn/layers/dense.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "kernels/kernels.h"

namespace cnn {

Dense::Dense(int outputs) : outputs_(outputs) {
  if (outputs <= 0) throw Error("dense layer: units must be positive, got " + std::to_string(outputs));
}

Shape Dense::infer(Shape) { return {1, outputs_, 1, 1}; }

std::string Dense::summary() const {
  return "dense " + std::to_string(in_.sample_size()) + "->" + std::to_string(outputs_);
}

nlohmann::json Dense::spec() const {
  nlohmann::json j = Layer::spec();
  j["units"] = outputs_;
  return j;
}

std::size_t Dense::param_count() const { return in_.sample_size() * outputs_ + outputs_; }

void Dense::bind(float* params, float* grads) {
  const std::size_t nw = in_.sample_size() * outputs_;
  w_ = params, b_ = params + nw, dw_ = grads, db_ = grads + nw;
}

Tensor Dense::weight() const { return Tensor::view(w_, {1, 1, inputs(), outputs_}); }
Tensor Dense::bias() const { return Tensor::view(b_, {1, outputs_, 1, 1}); }

std::vector<ParamView> Dense::params() {
  return {{"weight", weight(), Tensor::view(dw_, {1, 1, inputs(), outputs_})},
          {"bias", bias(), Tensor::view(db_, {1, outputs_, 1, 1})}};
}

void Dense::init(Rng& rng) {
  const float bound = 1.0f / std::sqrt(float(inputs()));
  const std::size_t nw = in_.sample_size() * outputs_;
  for (std::size_t i = 0; i < nw; ++i) w_[i] = rng.uniform(-bound, bound);
  for (int k = 0; k < outputs_; ++k) b_[k] = rng.uniform(-bound, bound);
}

std::size_t Dense::macs_per_sample() const { return in_.sample_size() * outputs_; }

// Z_k = Σ_j A_j·W_jk + B_k:  Z[N, out] = A[N, in] · W[in, out] + B
void Dense::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  const int N = x.shape().n, J = inputs(), K = outputs_;
  y.resize({N, K, 1, 1});
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) y[std::size_t(n) * K + k] = b_[k];
  kernels::gemm(false, false, N, K, J, 1.0f, x.data(), J, w_, K, 1.0f, y.data(), K);
}

// dW_jk = Σ_n DZ_k·A_j:  dW = Aᵀ · DZ      dB_k = Σ_n DZ_k      dA_j = Σ_k DZ_k·W_jk:  dA = DZ · Wᵀ
void Dense::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  check_sample_shape("dense layer (backward dZ)", out_, dy.shape());
  const int N = x.shape().n, J = inputs(), K = outputs_;
  kernels::gemm(true, false, J, K, N, 1.0f, x.data(), J, dy.data(), K, 0.0f, dw_, K);
  for (int k = 0; k < K; ++k) db_[k] = 0.0f;
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) db_[k] += dy[std::size_t(n) * K + k];
  if (dx) {
    dx->resize(x.shape());
    kernels::gemm(false, true, N, J, K, 1.0f, dy.data(), K, w_, K, 0.0f, dx->data(), J);
  }
}

}  // namespace cnn
