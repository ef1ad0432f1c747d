#include "cnn/loss.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "cnn/layers/activation.h"
#include "kernels/kernels.h"
#include "kernels/shard.h"

namespace cnn {

void Loss::check_labels(const char* who, const Tensor& out, const int* labels) {
  const int K = int(out.shape().sample_size());
  for (int n = 0; n < out.shape().n; ++n)
    if (labels[n] < 0 || labels[n] >= K)
      throw Error(std::string(who) + ": label " + std::to_string(labels[n]) + " of sample " + std::to_string(n) +
                  " is outside 0.." + std::to_string(K - 1));
}

namespace {
// Σ over the batch of chunk_total(n0, n1, N) (the loss of images [n0, n1), its gradient scaled by 1/N), divided by N:
// the chunks of the shard (kernels/shard.h), N its global batch, the sum the same bits on any number of processes.
template <class F>
double batch_mean(int n, F&& chunk_total) {
  const kernels::Shard& shard = kernels::shard_for(n);
  std::array<double, kernels::kMaxChunks> part{};
  for (int j = 0; j < shard.local_chunks(); ++j)
    part[std::size_t(j)] = chunk_total(shard.begin(j), shard.begin(j + 1), shard.global_n());
  double total = 0.0;
  shard.sum<double>([&](int j) { return part.data() + j; }, 1, &total);
  return total / shard.global_n();
}
}  // namespace

void Loss::probabilities(const Tensor& out, Tensor& probs) const {
  probs.resize(out.shape());
  std::copy(out.data(), out.data() + out.size(), probs.data());
}

void Loss::set_label_smoothing(float eps) {
  if (eps != 0.0f) throw Error("label smoothing needs the softmax_cross_entropy loss, not " + kind());
}

void SoftmaxCrossEntropy::set_label_smoothing(float eps) {
  if (!(eps >= 0.0f && eps < 1.0f)) throw Error("label smoothing must be in [0, 1), got " + std::to_string(eps));
  smoothing_ = eps;
}

// L = −log O_t with O = softmax(z) (or −Σ q_i log O_i with label smoothing);  dL/dz_i = (O_i − q_i) / N
// N is the global batch of a distributed step (kernels/shard.h); the loss is the chunks' sums added up its tree.
double SoftmaxCrossEntropy::compute(const Tensor& out, const int* labels, Tensor* dout) const {
  check_labels("softmax cross-entropy", out, labels);
  const int K = int(out.shape().sample_size());
  if (dout) dout->resize(out.shape());
  return batch_mean(out.shape().n, [&](int n0, int n1, int N) {
    return kernels::softmax_cross_entropy(out.data() + std::size_t(n0) * K, labels + n0, n1 - n0, K,
                                          dout ? dout->data() + std::size_t(n0) * K : nullptr, smoothing_, N);
  });
}

void SoftmaxCrossEntropy::probabilities(const Tensor& out, Tensor& probs) const {
  probs.resize(out.shape());
  const int K = int(out.shape().sample_size());
  for (int n = 0; n < out.shape().n; ++n) softmax(out.sample(n), probs.sample(n), K);
}

// L = ½Σ_i (t_i − y_i)², t = one-hot(label);  dL/dy_i = (y_i − t_i) / N
double SquaredError::compute(const Tensor& out, const int* labels, Tensor* dout) const {
  check_labels("squared error", out, labels);
  const int K = int(out.shape().sample_size());
  if (dout) dout->resize(out.shape());
  return batch_mean(out.shape().n, [&](int n0, int n1, int N) {
    double total = 0.0;
    for (int n = n0; n < n1; ++n)
      for (int i = 0; i < K; ++i) {
        const std::size_t at = std::size_t(n) * K + i;
        const double e = double(out[at]) - (i == labels[n] ? 1.0 : 0.0);
        total += 0.5 * e * e;
        if (dout) (*dout)[at] = float(e) / float(N);
      }
    return total;
  });
}

double SquaredError::compute_targets(const Tensor& out, const Tensor& targets, Tensor* dout) const {
  check_shape("squared error targets", out.shape(), targets.shape());
  const int N = out.shape().n;
  if (dout) dout->resize(out.shape());
  double total = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double e = double(out[i]) - targets[i];
    total += 0.5 * e * e;
    if (dout) (*dout)[i] = float(e) / float(N);
  }
  return total / N;
}

std::unique_ptr<Loss> make_loss(const std::string& kind) {
  if (kind == "softmax_cross_entropy" || kind == "cross_entropy") return std::make_unique<SoftmaxCrossEntropy>();
  if (kind == "squared_error" || kind == "mse") return std::make_unique<SquaredError>();
  throw Error("loss: unknown kind \"" + kind + "\" (expected softmax_cross_entropy or squared_error)");
}

}  // namespace cnn
