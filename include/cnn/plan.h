// A Plan is what a Network runs: its layers compiled into steps in topological order. A step is one layer or a fused
// group (Conv2D → ReLU, Dense → ReLU, Conv2D → ReLU → MaxPool2D, Conv2D → BatchNorm2D [→ ReLU], the normalisation
// folded into the convolution's weights for inference) with its own forward and backward; which groups
// fuse is decided here, once, when the plan is built, so the network's forward and backward are two short loops:
//   forward:  for step in plan            backward:  for step in reversed(plan)
// The steps read and write the network's values: value 0 is the network's input, value i + 1 layer i's output,
// each with its gradient. A value read by several layers (a residual block's input) gets the sum of their
// gradients: the first step to run backward writes it, the others add theirs, in plan order (so the same bits for
// any thread count).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cnn/layer.h"

namespace cnn {

struct PlanOptions {
  // Keep every activation and every gradient, ∂L/∂(network input) included (for pictures of the maps and gradient
  // checks). Off, the plan may skip values nobody reads: training through Conv2D → ReLU → MaxPool2D then pools
  // max(z, 0) straight from the convolution's output, and the ReLU's output and gradient are never written; an
  // evaluation through Conv2D → BatchNorm2D writes only the normalised maps.
  bool keep_all = false;
  // Layers whose outputs the network gives besides the last layer's (an imported graph's other outputs: Dropout's
  // mask, MaxPool's indices): always written, never fused away, and given no gradient of their own. Such a layer may
  // be read by no other.
  std::vector<int> outputs;
};

// How a step's input gradient reaches the value: not at all (the network input, unless kept), written, or added
// (the value feeds several layers and another step already wrote it).
enum class GradRoute : std::uint8_t { none, write, add };

class Step {
 public:
  virtual ~Step() = default;
  virtual void forward(const Context& ctx) = 0;
  virtual void backward() = 0;
  const std::string& name() const { return name_; }
  const std::vector<int>& layers() const { return layers_; }  // the layers it runs, in order
  std::size_t macs_per_sample() const { return macs_; }
  // Whether the step leads to the last layer's output, the one the loss reads: backward runs only the steps that do.
  bool in_backward() const { return in_backward_; }

 protected:
  struct Input {
    int value;
    GradRoute route = GradRoute::write;
    Tensor scratch;  // GradRoute::add: the gradient is written here, then added to the value's
  };
  // Where the gradient of input k goes in backward (null: not needed), and the adds once backward has written.
  Tensor* input_grad(int k);
  void add_input_grads();
  std::string name_;
  std::vector<int> layers_;
  std::size_t macs_ = 0;
  bool in_backward_ = true;
  std::vector<Input> inputs_;
  std::vector<Tensor>* acts_ = nullptr;
  std::vector<Tensor>* grads_ = nullptr;
  friend class Plan;
};

class Plan {
 public:
  // layers[i] reads the values inputs[i] (value 0: the network input, v > 0: layer v − 1's output) and writes value
  // i + 1; acts and grads hold one tensor per value. Throws cnn::Error for a layer whose output nobody reads that is
  // neither the last layer nor one of options.outputs.
  Plan(std::vector<LayerPtr>& layers, const std::vector<std::vector<int>>& inputs, std::vector<Tensor>& acts,
       std::vector<Tensor>& grads, PlanOptions options);
  std::vector<std::unique_ptr<Step>>& steps() { return steps_; }
  const std::vector<std::unique_ptr<Step>>& steps() const { return steps_; }
  const PlanOptions& options() const { return options_; }

 private:
  std::vector<std::unique_ptr<Step>> steps_;
  PlanOptions options_;
};

}  // namespace cnn
