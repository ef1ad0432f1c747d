// Network: layers appended at run time, shapes inferred and checked as each layer is added, every parameter in
// one contiguous buffer and every gradient in another (layers hold views into them), activations and their
// gradients kept in workspaces that stop allocating once they have held the largest batch.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cnn/layer.h"
#include "cnn/loss.h"

namespace cnn {

class Network {
 public:
  explicit Network(Shape input);  // per-sample input shape (c, h, w); n is ignored
  Network(Network&&) = default;
  Network& operator=(Network&&) = default;
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Appends a layer after checking that it accepts the current output shape. Throws cnn::Error naming the
  // layer index and kind when it does not.
  Network& add(LayerPtr layer);
  template <class L, class... Args>
  Network& add(Args&&... args) {
    return add(std::make_unique<L>(std::forward<Args>(args)...));
  }
  void set_loss(std::unique_ptr<Loss> loss) { loss_ = std::move(loss); }
  const Loss& loss() const;

  // Draws every parameter afresh (PyTorch's default rule, U(±1/√fan_in)) and reseeds dropout.
  void init(std::uint64_t seed);

  // Forward pass; returns the last layer's output (the logits for a cross-entropy net).
  const Tensor& forward(const Tensor& x, const Context& ctx = {});
  // Forward in training mode, the loss, and backward: fills grads() with the batch-mean gradient.
  // `step` numbers the training step (dropout masks depend on it). Returns the mean loss.
  double forward_backward(const Tensor& x, const int* labels, std::uint64_t step = 0);
  // Backward from a given ∂L/∂output (for losses computed outside, e.g. gradient checks).
  void backward(const Tensor& dout);

  Shape input_shape() const { return input_; }
  Shape output_shape() const;
  std::size_t size() const { return layers_.size(); }
  Layer& layer(std::size_t i) { return *layers_.at(i); }
  const Layer& layer(std::size_t i) const { return *layers_.at(i); }
  // The output of layer i from the last forward pass, and ∂L/∂(input of layer i) from the last backward pass.
  const Tensor& activation(std::size_t i) const { return acts_.at(i + 1); }
  const Tensor& input_gradient(std::size_t i) const { return grads_act_.at(i); }
  // Also compute ∂L/∂(network input) in backward, and keep every activation and input gradient (off by default:
  // nobody needs them when training; then Conv2D → ReLU → MaxPool2D run with the ReLU folded into the pooling, so
  // a training pass keeps neither the ReLU's output nor the gradient between the ReLU and the pooling).
  void set_need_input_gradient(bool on) { need_input_grad_ = on; }
  // Label smoothing ε for training with softmax cross-entropy (forward_backward only; 0, the seeds' loss, by default).
  void set_label_smoothing(float eps);
  float label_smoothing() const { return smoothing_; }

  std::vector<float>& params() { return params_; }
  const std::vector<float>& params() const { return params_; }
  std::vector<float>& grads() { return grads_; }
  const std::vector<float>& grads() const { return grads_; }
  std::size_t param_offset(std::size_t layer) const { return offsets_.at(layer); }
  std::size_t param_count(std::size_t layer) const { return offsets_.at(layer + 1) - offsets_.at(layer); }
  std::size_t macs_per_sample() const;

  // The description of the net (input, layers, loss) as written in description files.
  nlohmann::json spec() const;

  // Where the time goes: with profiling on, forward, backward and forward_backward add each layer's wall time
  // (a Conv2D or Dense fused with the ReLU after it counts both; the ReLU then shows 0 forward). The last entry
  // is the loss. Turning profiling on clears the counts.
  struct LayerTime {
    double forward_s = 0.0, backward_s = 0.0;
    std::uint64_t calls = 0;  // backward passes timed
  };
  void set_profiling(bool on);
  const std::vector<LayerTime>& profile() const { return profile_; }

 private:
  void rebind();
  // Whether layer i is a Conv2D or Dense followed by a ReLU, computed together in one pass.
  bool fused_with_relu(std::size_t i) const { return i + 1 < fused_.size() && fused_[i] != kNotFused; }
  // layer i is a Conv2D whose ReLU (i + 1) a MaxPool2D (i + 2) follows
  bool pooled_after_relu(std::size_t i) const { return i + 2 < fused_.size() && fused_[i] == kReluPool; }

  Shape input_;
  std::vector<LayerPtr> layers_;
  std::vector<Shape> shapes_;          // shapes_[i] = input shape of layer i; shapes_.back() = output shape
  std::vector<std::size_t> offsets_{0};  // layer i's parameters are params_[offsets_[i], offsets_[i+1])
  std::vector<float> params_, grads_;
  std::unique_ptr<Loss> loss_;
  std::vector<Tensor> acts_;           // acts_[0] = input view, acts_[i+1] = output of layer i
  std::vector<Tensor> grads_act_;      // grads_act_[i] = ∂L/∂acts_[i]
  bool need_input_grad_ = false;
  float smoothing_ = 0.0f;
  enum Fusion : std::uint8_t { kNotFused, kRelu, kReluPool };
  std::vector<std::uint8_t> fused_;    // fused_[i]: layer i (Conv2D or Dense) computes layer i + 1's ReLU too;
                                       // kReluPool: a Conv2D, and layer i + 2 is a MaxPool2D
  bool profiling_ = false;
  std::vector<LayerTime> profile_;
};

}  // namespace cnn
