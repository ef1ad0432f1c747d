// The Layer interface: every layer of the seeds is one subclass, with forward and backward side by side in
// src/layers/<name>.cpp next to the formula each implements.
//
// Shapes are per sample (c, h, w); the batch size n may change from call to call. A layer learns its input shape
// once, in setup(), when it joins a network: that is where bad shapes are caught, not when data first flows.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cnn/random.h"
#include "cnn/tensor.h"

namespace cnn {

enum class Mode { train, eval };

// What a forward pass needs besides its input: train or eval, and which training step this is (dropout masks
// are a pure function of the layer's seed, the step and the element, so a resumed run draws the same masks).
struct Context {
  Mode mode = Mode::eval;
  std::uint64_t step = 0;
};

// A named block of parameters with its gradient, both views into the network's flat buffers.
// Rows above and below a layer's input, columns left and right of it: zeros for a convolution, −∞ for max pooling.
struct Pads {
  int top = 0, left = 0, bottom = 0, right = 0;
  bool any() const { return top || left || bottom || right; }
};

struct ParamView {
  std::string name;  // "weight", "bias", "beta"
  Tensor value;
  Tensor grad;
};

class Layer {
 public:
  virtual ~Layer() = default;

  virtual std::string kind() const = 0;  // "conv2d", "maxpool2d", …: the name used in description files
  virtual std::string summary() const;   // one line for `cnn info`: "conv2d 6@5x5 stride 1 valid"
  virtual nlohmann::json spec() const;   // the layer's description-file entry (kind + options)

  // Checks the per-sample input shape and returns the per-sample output shape. Throws cnn::Error.
  Shape setup(Shape input);
  // The same for a layer of a graph, which may take several inputs (add, concat); input_shape() is the first.
  Shape setup(std::span<const Shape> inputs);
  // How many inputs the layer takes: 1, or 0 for "two or more" (the merge layers).
  virtual int arity() const { return 1; }
  Shape input_shape() const { return in_; }
  Shape output_shape() const { return out_; }

  virtual std::size_t param_count() const { return 0; }
  // The network hands each layer its slice of the flat parameter and gradient buffers.
  virtual void bind(float* /*params*/, float* /*grads*/) {}
  virtual std::vector<ParamView> params() { return {}; }
  // Whether backward leaves the gradient summed over the whole global batch of a distributed step (batch
  // normalisation, whose backward needs those sums itself), rather than this process's share of it (kernels/shard.h).
  virtual bool gradient_is_global() const { return false; }
  // Default initialisation: the same rule as PyTorch's defaults, U(−1/√fan_in, 1/√fan_in).
  virtual void init(Rng& /*rng*/) {}
  // Draws again, from the rng init was given, the part of init's state that model files do not keep (dropout's mask
  // seed), so that a resumed run goes on as the uninterrupted one.
  virtual void reseed(Rng& /*rng*/) {}
  virtual std::size_t macs_per_sample() const { return 0; }
  // Non-trainable state that is saved with the model and never seen by the optimizer (PyTorch's buffers: batch
  // normalisation's running mean and variance). The network hands each layer its slice of one flat buffer.
  virtual std::size_t buffer_count() const { return 0; }
  virtual void bind_buffers(float* /*buffers*/) {}

  // y = f(x). `y` is resized by the layer (no allocation once it has held the largest batch).
  virtual void forward(const Tensor& x, Tensor& y, const Context& ctx) = 0;
  // Given dy = ∂L/∂y, sets this layer's parameter gradients (summed over the batch; the loss already divides by
  // the batch size, so they are the batch mean) and, when dx is not null, writes ∂L/∂x into it.
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) = 0;
  // The graph forms, one tensor per input (a null dx: that input's gradient is not needed). Single-input layers
  // need not override them.
  virtual void forward(std::span<const Tensor* const> xs, Tensor& y, const Context& ctx) { forward(*xs[0], y, ctx); }
  virtual void backward(std::span<const Tensor* const> xs, const Tensor& y, const Tensor& dy,
                        std::span<Tensor* const> dxs) {
    backward(*xs[0], y, dy, dxs[0]);
  }

  // An optional learning rate for this layer alone (seed 003's α, α2, α3); empty means the optimizer's.
  std::optional<double> learning_rate;

 protected:
  virtual Shape infer(Shape input) = 0;
  // Several inputs: merge layers override this; the default accepts exactly one and calls infer.
  virtual Shape infer(std::span<const Shape> inputs);
  // Throws unless x matches the input shape this layer was set up for.
  void check_input(const Tensor& x) const;
  Shape in_{0, 0, 0, 0}, out_{0, 0, 0, 0};
};

using LayerPtr = std::unique_ptr<Layer>;

}  // namespace cnn
