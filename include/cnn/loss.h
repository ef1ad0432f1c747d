// Losses. Each returns the mean over the batch and writes ∂L/∂output already divided by the batch size, so the
// parameter gradients that backward sums over the batch are the batch means of seed 003.
//   SoftmaxCrossEntropy  O = softmax(z), L = −log O_t,   dL/dz_i = O_i − [i = t]        (seed 004)
//                        with label smoothing ε: L = −Σ_i q_i log O_i, q = (1 − ε)·onehot + ε/K, dL/dz_i = O_i − q_i
//   SquaredError         L = ½Σ_i (t_i − y_i)²,         dL/dy_i = y_i − t_i             (seeds 001, 002)
// Seed 002's cost over N samples, E = 1/(2N) Σ_n Σ_i (t − y)², is exactly SquaredError's batch mean.
#pragma once

#include <memory>
#include <string>

#include "cnn/tensor.h"

namespace cnn {

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string kind() const = 0;  // "softmax_cross_entropy" | "squared_error"
  // Mean loss of the batch for class labels (one per sample, 0 ≤ label < outputs); dout may be null.
  virtual double compute(const Tensor& out, const int* labels, Tensor* dout) const = 0;
  // The class probabilities the network's outputs stand for (softmax for cross-entropy, the outputs otherwise).
  virtual void probabilities(const Tensor& out, Tensor& probs) const;
  // Label smoothing ε: the target becomes (1 − ε)·onehot + ε/K (PyTorch's CrossEntropyLoss(label_smoothing=ε)).
  // Only softmax cross-entropy has it; the others refuse any ε > 0.
  virtual void set_label_smoothing(float eps);
  float label_smoothing() const { return smoothing_; }

 protected:
  float smoothing_ = 0.0f;
  static void check_labels(const char* who, const Tensor& out, const int* labels);
};

// Allocation-free: the fused kernel (kernels::softmax_cross_entropy) computes the loss and dL/dz in one pass.
class SoftmaxCrossEntropy : public Loss {
 public:
  std::string kind() const override { return "softmax_cross_entropy"; }
  double compute(const Tensor& out, const int* labels, Tensor* dout) const override;
  void probabilities(const Tensor& out, Tensor& probs) const override;
  void set_label_smoothing(float eps) override;
};

class SquaredError : public Loss {
 public:
  std::string kind() const override { return "squared_error"; }
  // Targets are the one-hot vectors of the labels.
  double compute(const Tensor& out, const int* labels, Tensor* dout) const override;
  // Any targets of the output's shape.
  double compute_targets(const Tensor& out, const Tensor& targets, Tensor* dout) const;
};

std::unique_ptr<Loss> make_loss(const std::string& kind);  // throws cnn::Error on an unknown name

}  // namespace cnn
