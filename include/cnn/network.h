// Network: a graph of layers added at run time, shapes inferred and checked as each layer is added, every parameter
// in one contiguous buffer and every gradient in another (layers hold views into them), and the non-trainable state
// (batch normalisation's running statistics) in a third. Before data first flows the graph is compiled into a Plan
// (cnn/plan.h), and forward and backward are loops over its steps. Activations and their gradients are kept in
// workspaces that stop allocating once they have held the largest batch.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cnn/collective.h"
#include "cnn/layer.h"
#include "cnn/loss.h"
#include "cnn/plan.h"
#include "cnn/recipe.h"

namespace cnn {

class Network {
 public:
  explicit Network(Shape input);  // per-sample input shape (c, h, w); n is ignored
  Network(Network&&) = default;
  Network& operator=(Network&&) = default;
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;
  ~Network();

  // The network's input, for `inputs` below.
  static constexpr int kInput = -1;
  // Appends a layer that reads the outputs of the layers `inputs` (indices of layers already added, or kInput);
  // empty: the layer added just before it (or the input), so a chain needs no indices. Checks that the layer
  // accepts those shapes; throws cnn::Error naming the layer index and kind when it does not. The last layer added
  // is the network's output.
  Network& add(LayerPtr layer, std::vector<int> inputs = {});
  template <class L, class... Args>
  Network& add(Args&&... args) {
    return add(std::make_unique<L>(std::forward<Args>(args)...));
  }
  // Names a layer (the "name" of description files, which "inputs" refer to).
  void set_layer_name(std::size_t layer, std::string name) { names_.at(layer) = std::move(name); }
  const std::string& layer_name(std::size_t layer) const { return names_.at(layer); }
  // Makes layer i's output one of the network's outputs besides the last layer's (an imported graph's other outputs,
  // description files' "output": true): it is always written, read with activation(i), and gets no gradient; such a
  // layer need not be read by another. The loss reads only the last layer.
  void add_output(std::size_t layer);
  bool is_output(std::size_t layer) const;  // the last layer, or one add_output named
  // The layers layer i reads (kInput for the network's input).
  std::vector<int> layer_inputs(std::size_t layer) const;
  void set_loss(std::unique_ptr<Loss> loss) { loss_ = std::move(loss); }
  const Loss& loss() const;
  Loss& loss();

  // Draws every parameter afresh (PyTorch's default rule, U(±1/√fan_in)), resets the buffers and reseeds dropout.
  void init(std::uint64_t seed);
  // What init(seed) draws that a model file does not keep (Layer::reseed), drawn again: for resuming a run.
  void reseed(std::uint64_t seed);

  // Forward pass; returns the last layer's output (the logits for a cross-entropy net).
  const Tensor& forward(const Tensor& x, const Context& ctx = {});
  // Forward in training mode, the loss, and backward: fills grads() with the batch-mean gradient.
  // `step` numbers the training step (dropout masks depend on it). Returns the mean loss.
  double forward_backward(const Tensor& x, const int* labels, std::uint64_t step = 0);
  // The same for one process's share of a global batch (cnn/collective.h): x holds images local_images(...) of the
  // global batch, and on return every process holds the same loss and the same gradients, those of the global batch,
  // bit for bit what one process computes for it (forward_backward above is this with one process).
  double forward_backward(const Tensor& x, const int* labels, std::uint64_t step, const BatchPart& part);
  // Backward from a given ∂L/∂output (for losses computed outside, e.g. gradient checks).
  void backward(const Tensor& dout);

  Shape input_shape() const { return input_; }
  Shape output_shape() const;
  std::size_t size() const { return layers_.size(); }
  Layer& layer(std::size_t i) { return *layers_.at(i); }
  const Layer& layer(std::size_t i) const { return *layers_.at(i); }
  // The output of layer i from the last forward pass, and ∂L/∂(first input of layer i) from the last backward pass.
  const Tensor& activation(std::size_t i) const { return acts_.at(i + 1); }
  const Tensor& input_gradient(std::size_t i) const { return grads_act_.at(std::size_t(inputs_.at(i)[0])); }
  // ∂L/∂(network input) of the last backward pass (with set_need_input_gradient(true)).
  const Tensor& network_input_gradient() const { return grads_act_.at(0); }
  // Keep every activation and gradient, ∂L/∂(network input) included (PlanOptions::keep_all; off by default:
  // training needs neither, and Conv2D → ReLU → MaxPool2D then runs with the ReLU folded into the pooling).
  void set_need_input_gradient(bool on);
  // Label smoothing ε of the loss (softmax cross-entropy only; 0, the seeds' loss, by default).
  void set_label_smoothing(float eps);
  float label_smoothing() const;

  std::vector<float>& params() { return params_; }
  const std::vector<float>& params() const { return params_; }
  std::vector<float>& grads() { return grads_; }
  const std::vector<float>& grads() const { return grads_; }
  // Non-trainable state saved with the model (running means and variances), layer by layer.
  std::vector<float>& buffers() { return buffers_; }
  const std::vector<float>& buffers() const { return buffers_; }
  std::size_t param_offset(std::size_t layer) const { return offsets_.at(layer); }
  std::size_t param_count(std::size_t layer) const { return offsets_.at(layer + 1) - offsets_.at(layer); }
  std::size_t buffer_offset(std::size_t layer) const { return buffer_offsets_.at(layer); }
  std::size_t macs_per_sample() const;

  // The compiled plan (built on first use, and again after add or set_need_input_gradient).
  const Plan& plan();

  // The training recipe the description recommends (cnn/recipe.h; empty when it gives none).
  const Recipe& recipe() const { return recipe_; }
  void set_recipe(Recipe recipe) { recipe_ = std::move(recipe); }
  // How a picture of another size is fitted to the input ("crop", "stretch" or "pad", see cnn/image.h): set when the
  // net is trained on a folder of pictures, so that predicting and serving fit pictures the way training did; ""
  // when it was not.
  const std::string& input_fit() const { return input_fit_; }
  void set_input_fit(std::string fit);

  // The description of the net (input, fit, layers, loss, recipe) as written in description files.
  nlohmann::json spec() const;

  // Where the time goes: with profiling on, forward, backward and forward_backward add each plan step's wall time.
  // The last entry is the loss. Turning profiling on clears the counts.
  struct StepTime {
    std::string name;
    std::vector<int> layers;
    std::size_t macs_per_sample = 0;
    double forward_s = 0.0, backward_s = 0.0;
    std::uint64_t forward_calls = 0, backward_calls = 0, samples = 0;  // samples: summed over forward calls
  };
  void set_profiling(bool on);
  const std::vector<StepTime>& profile() const { return profile_; }

 private:
  Plan& ensure_plan();
  void rebind();

  Shape input_;
  std::vector<LayerPtr> layers_;
  std::vector<std::vector<int>> inputs_;  // inputs_[i]: the values layer i reads (0: the input, v: layer v − 1)
  std::vector<std::string> names_;
  Recipe recipe_;
  std::string input_fit_;
  std::vector<Shape> shapes_;            // shapes_[v]: the per-sample shape of value v
  std::vector<std::size_t> offsets_{0};  // layer i's parameters are params_[offsets_[i], offsets_[i+1])
  std::vector<std::size_t> buffer_offsets_{0};
  std::vector<float> params_, grads_, buffers_;
  std::vector<float> subtree_grads_;  // a distributed step's further gradient subtrees (kernels/shard.h)
  std::unique_ptr<Loss> loss_;
  std::vector<Tensor> acts_;       // acts_[0] = input view, acts_[i+1] = output of layer i
  std::vector<Tensor> grads_act_;  // grads_act_[v] = ∂L/∂acts_[v]
  PlanOptions plan_options_;
  std::unique_ptr<Plan> plan_;
  bool profiling_ = false;
  std::vector<StepTime> profile_;
};

}  // namespace cnn
