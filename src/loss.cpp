#include "cnn/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cnn/layers/activation.h"

namespace cnn {

void Loss::check_labels(const std::string& who, const Tensor& out, const int* labels) {
  const int K = int(out.shape().sample_size());
  for (int n = 0; n < out.shape().n; ++n)
    if (labels[n] < 0 || labels[n] >= K)
      throw Error(who + ": label " + std::to_string(labels[n]) + " of sample " + std::to_string(n) +
                  " is outside 0.." + std::to_string(K - 1));
}

void Loss::probabilities(const Tensor& out, Tensor& probs) const {
  probs.resize(out.shape());
  std::copy(out.data(), out.data() + out.size(), probs.data());
}

// L = −log O_t with O = softmax(z);  dL/dz_i = (O_i − [i = t]) / N
double SoftmaxCrossEntropy::compute(const Tensor& out, const int* labels, Tensor* dout) const {
  check_labels("softmax cross-entropy", out, labels);
  const int N = out.shape().n, K = int(out.shape().sample_size());
  if (dout) dout->resize(out.shape());
  double total = 0.0;
  float o_buf[4096];
  std::vector<float> big;
  float* o = o_buf;
  if (K > 4096) {
    big.resize(K);
    o = big.data();
  }
  for (int n = 0; n < N; ++n) {
    const float* z = out.sample(n);
    // log O_t = z_t − m − log Σ e^(z_j − m): exact even when O_t underflows to 0 in float.
    const float m = *std::max_element(z, z + K);
    double sum = 0.0;
    for (int i = 0; i < K; ++i) sum += std::exp(double(z[i]) - m);
    total += -(double(z[labels[n]]) - m - std::log(sum));
    if (dout) {
      softmax(z, o, K);
      float* d = dout->sample(n);
      for (int i = 0; i < K; ++i) d[i] = (o[i] - (i == labels[n] ? 1.0f : 0.0f)) / float(N);
    }
  }
  return total / N;
}

void SoftmaxCrossEntropy::probabilities(const Tensor& out, Tensor& probs) const {
  probs.resize(out.shape());
  const int K = int(out.shape().sample_size());
  for (int n = 0; n < out.shape().n; ++n) softmax(out.sample(n), probs.sample(n), K);
}

// L = ½Σ_i (t_i − y_i)², t = one-hot(label);  dL/dy_i = (y_i − t_i) / N
double SquaredError::compute(const Tensor& out, const int* labels, Tensor* dout) const {
  check_labels("squared error", out, labels);
  const int N = out.shape().n, K = int(out.shape().sample_size());
  if (dout) dout->resize(out.shape());
  double total = 0.0;
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < K; ++i) {
      const std::size_t at = std::size_t(n) * K + i;
      const double e = double(out[at]) - (i == labels[n] ? 1.0 : 0.0);
      total += 0.5 * e * e;
      if (dout) (*dout)[at] = float(e) / float(N);
    }
  return total / N;
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
