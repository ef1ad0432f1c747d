// Dense forward and backward (seed 004, "全连接层"): one matrix product per direction for the whole batch.
#include "cnn/layers/dense.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace cnn {

Dense::Dense(int outputs) : outputs_(outputs) {
  if (outputs <= 0) throw Error("dense layer: units must be positive, got " + std::to_string(outputs));
}

Shape Dense::infer(Shape in) {
  // LeNet-5's 400→120 (N = 50), measured by bench/microbench.cpp: forward 68 → 88 GFLOP/s, backward 69 → 93;
  // OpenBLAS stays for weight matrices beyond L2 (AlexNet's 9216→4096), where its cache blocking pays
  small_ = kernels::gemm_small_fits(int(in.sample_size()), outputs_);
  wt_.assign(small_ ? in.sample_size() * outputs_ : 0, 0.0f);
  return {1, outputs_, 1, 1};
}

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

namespace {
// Products this small run on one thread (a pool hand-off costs more than they do, tiny-dnn #714, Caffe #1539);
// bigger ones are cut into slabs of at least ~1M multiply-adds each (so SGEMM keeps its efficiency), a number
// that depends on the shape only, never on the thread count.
int slabs(std::size_t macs, int most) {
  return int(std::clamp<std::size_t>(macs >> 20, 1, std::size_t(std::min(most, kernels::kMaxChunks))));
}
}  // namespace

// Z_k = Σ_j A_j·W_jk + B_k:  Z[N, out] = A[N, in] · W[in, out] + B   (cut by rows of the batch)
void Dense::run_forward(const Tensor& x, Tensor& y, Tensor* relu) {
  check_input(x);
  const int N = x.shape().n, J = inputs(), K = outputs_;
  y.resize({N, K, 1, 1});
  if (relu) relu->resize({N, K, 1, 1});
  const int chunks = slabs(std::size_t(N) * J * K, N);
  kernels::parallel_for(chunks, [&](int c) {
    const int r0 = kernels::chunk_begin(N, chunks, c), r1 = kernels::chunk_begin(N, chunks, c + 1);
    float* z = y.data() + std::size_t(r0) * K;
    for (int n = r0; n < r1; ++n) std::copy(b_, b_ + K, y.data() + std::size_t(n) * K);
    if (small_)
      kernels::gemm_small(r1 - r0, K, J, x.data() + std::size_t(r0) * J, J, 1, w_, K, z, K, true);
    else
      kernels::gemm(false, false, r1 - r0, K, J, 1.0f, x.data() + std::size_t(r0) * J, J, w_, K, 1.0f, z, K);
    if (relu) kernels::relu_forward(z, relu->data() + std::size_t(r0) * K, std::size_t(r1 - r0) * K);
  });
}

void Dense::forward(const Tensor& x, Tensor& y, const Context&) { run_forward(x, y, nullptr); }
void Dense::forward_relu(const Tensor& x, Tensor& z, Tensor& r) { run_forward(x, z, &r); }

// dW_jk = Σ_n DZ_k·A_j:  dW = Aᵀ · DZ   (cut by output columns k: every dW_jk is one whole sum over the batch)
// dB_k = Σ_n DZ_k
// dA_j = Σ_k DZ_k·W_jk:  dA = DZ · Wᵀ   (cut by rows of the batch)
void Dense::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  if (!out_.same_sample(dy.shape())) check_sample_shape("dense layer (backward dZ)", out_, dy.shape());
  const int N = x.shape().n, J = inputs(), K = outputs_;
  const int col_chunks = slabs(std::size_t(N) * J * K, K);
  kernels::parallel_for(col_chunks, [&](int c) {
    const int k0 = kernels::chunk_begin(K, col_chunks, c), k1 = kernels::chunk_begin(K, col_chunks, c + 1);
    if (small_)
      kernels::gemm_small(J, k1 - k0, N, x.data(), 1, J, dy.data() + k0, K, dw_ + k0, K, false);
    else
      kernels::gemm(true, false, J, k1 - k0, N, 1.0f, x.data(), J, dy.data() + k0, K, 0.0f, dw_ + k0, K);
  });
  for (int k = 0; k < K; ++k) db_[k] = 0.0f;
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) db_[k] += dy[std::size_t(n) * K + k];
  if (dx) {
    dx->resize(x.shape());
    const int row_chunks = slabs(std::size_t(N) * J * K, N);
    if (small_) kernels::transpose(w_, J, K, K, wt_.data(), J);  // Wᵀ, so that B's rows are contiguous
    kernels::parallel_for(row_chunks, [&](int c) {
      const int r0 = kernels::chunk_begin(N, row_chunks, c), r1 = kernels::chunk_begin(N, row_chunks, c + 1);
      if (small_)
        kernels::gemm_small(r1 - r0, J, K, dy.data() + std::size_t(r0) * K, K, 1, wt_.data(), J,
                            dx->data() + std::size_t(r0) * J, J, false);
      else
        kernels::gemm(false, true, r1 - r0, J, K, 1.0f, dy.data() + std::size_t(r0) * K, K, w_, K, 0.0f,
                      dx->data() + std::size_t(r0) * J, J);
    });
  }
}

}  // namespace cnn
