// Dense forward and backward (seed 004, "全连接层"): matrix products over the batch, a chunk of images at a time.
#include "cnn/layers/dense.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "kernels/shard.h"

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
// Every product is cut by the chunks of the batch (kernels/shard.h), the same cut on any number of threads or
// processes, so each image's rows are always computed by the same call. Products this small run the chunks one after
// another on the calling thread (a pool hand-off costs more than they do, tiny-dnn #714, Caffe #1539).
template <class F>
void for_chunks(const kernels::Shard& shard, std::size_t macs, F&& f) {
  if (macs < (std::size_t(1) << 20)) {
    for (int c = 0; c < shard.local_chunks(); ++c) f(c, shard.begin(c), shard.begin(c + 1));
    return;
  }
  kernels::parallel_for(shard.local_chunks(), [&](int c) { f(c, shard.begin(c), shard.begin(c + 1)); });
}
constexpr std::size_t kPartialFloats = std::size_t(1) << 21;  // the chunks' partial dW, a slab of columns at a time
}  // namespace

// Z_k = Σ_j A_j·W_jk + B_k:  Z[N, out] = A[N, in] · W[in, out] + B
void Dense::run_forward(const Tensor& x, Tensor& y, Tensor* relu) {
  check_input(x);
  const int N = x.shape().n, J = inputs(), K = outputs_;
  y.resize({N, K, 1, 1});
  if (relu) relu->resize({N, K, 1, 1});
  for_chunks(kernels::shard_for(N), std::size_t(N) * J * K, [&](int, int r0, int r1) {
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

// dW_jk = Σ_n DZ_k·A_j:  dW = Aᵀ · DZ, each chunk of the batch its own product, added up the shard's tree
// dB_k = Σ_n DZ_k      (per chunk, then the tree)
// dA_j = Σ_k DZ_k·W_jk:  dA = DZ · Wᵀ
void Dense::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  check_input(x);
  if (!out_.same_sample(dy.shape())) check_sample_shape("dense layer (backward dZ)", out_, dy.shape());
  const int N = x.shape().n, J = inputs(), K = outputs_;
  const kernels::Shard& shard = kernels::shard_for(N);
  const std::size_t L = std::size_t(shard.local_chunks()), macs = std::size_t(N) * J * K;
  // columns of dW per slab: all of them unless the chunks' partial products would pass kPartialFloats
  int width = K;
  if (L * J * K > kPartialFloats) width = std::clamp(int(kPartialFloats / (L * J)) / 16 * 16, 16, K);
  partial_.resize(L * J * width + L * K);
  float* const part_db = partial_.data() + L * J * width;
  node_.resize(std::size_t(std::max(shard.subtrees(), 1)) * J * width);
  for (int k0 = 0; k0 < K; k0 += width) {
    const int w = std::min(width, K - k0);
    const std::size_t nw = std::size_t(J) * w;
    for_chunks(shard, macs, [&](int c, int r0, int r1) {
      float* p = partial_.data() + std::size_t(c) * nw;
      if (small_)
        kernels::gemm_small(J, w, r1 - r0, x.data() + std::size_t(r0) * J, 1, J, dy.data() + std::size_t(r0) * K + k0,
                            K, p, w, false);
      else
        kernels::gemm(true, false, J, w, r1 - r0, 1.0f, x.data() + std::size_t(r0) * J, J,
                      dy.data() + std::size_t(r0) * K + k0, K, 0.0f, p, w);
    });
    shard.fold<float>([&](int c) { return partial_.data() + std::size_t(c) * nw; }, nw,
                      [&](int k) { return node_.data() + std::size_t(k) * nw; });
    for (int k = 0; k < shard.subtrees(); ++k) {  // subtree k's columns [k0, k0 + w) into its gradient slot
      float* slot = shard.gradient_slot(dw_, k);
      for (int j = 0; j < J; ++j)
        std::copy_n(node_.data() + std::size_t(k) * nw + std::size_t(j) * w, w, slot + std::size_t(j) * K + k0);
    }
  }
  for (std::size_t c = 0; c < L; ++c) {
    float* db = part_db + c * K;
    std::fill(db, db + K, 0.0f);
    for (int n = shard.begin(int(c)); n < shard.begin(int(c) + 1); ++n)
      for (int k = 0; k < K; ++k) db[k] += dy[std::size_t(n) * K + k];
  }
  shard.fold_gradient([&](int c) { return part_db + std::size_t(c) * K; }, std::size_t(K), db_);
  if (dx) {
    dx->resize(x.shape());
    if (small_) kernels::transpose(w_, J, K, K, wt_.data(), J);  // Wᵀ, so that B's rows are contiguous
    for_chunks(shard, macs, [&](int, int r0, int r1) {
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
