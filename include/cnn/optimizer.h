// Optimizers over the network's flat parameter buffer: one loop updates every layer.
//   SGD (seed 003):  w ← w − α·dw, with α per layer when a layer sets its own learning rate (α, α2, α3)
//   options (off by default, as in the seeds): weight decay g ← g + λw; momentum v ← μv + g, step v
//   (Nesterov: step g + μv); the PyTorch conventions, so the same options give the same updates.
//   Adam:  m ← β1·m + (1 − β1)g;  v ← β2·v + (1 − β2)g²;  w ← w − α·m̂/(√v̂ + ε), m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ)
// Learning-rate decay per epoch: constant, step (×γ every k epochs), exponential (×γ every epoch) or cosine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnn/network.h"

namespace cnn {

struct LrSchedule {
  enum class Kind { constant, step, exponential, cosine };
  Kind kind = Kind::constant;
  double gamma = 1.0;
  int step_epochs = 1;             // step: epochs per step; cosine: epochs of the half cosine
  double factor(int epoch) const;  // multiplies the base rate in epoch `epoch` (0-based)
  std::string str() const;         // "none", "step:3:0.5", "exp:0.9", "cos:10"
};
// "none" | "step:K:GAMMA" | "exp:GAMMA" | "cos:E" (½(1 + cos(π·epoch/E)), 0 from epoch E on, as PyTorch's
// CosineAnnealingLR with T_max = E stepped once per epoch); throws cnn::Error otherwise.
LrSchedule parse_schedule(const std::string& text);

struct OptimizerOptions {
  std::string kind = "sgd";  // "sgd" | "adam"
  double lr = 0.1;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  LrSchedule schedule;
};

class Optimizer {
 public:
  explicit Optimizer(OptimizerOptions options);
  const OptimizerOptions& options() const { return opt_; }
  void set_epoch(int epoch) { epoch_ = epoch; }
  int epoch() const { return epoch_; }
  // The rate layer i uses now: its own rate (or the base rate) times the schedule's factor.
  double layer_lr(const Network& net, std::size_t layer) const;
  // One update from net.grads().
  void step(Network& net);

  // Everything needed to resume exactly: step count and the moment buffers.
  std::uint64_t steps() const { return t_; }
  const std::vector<float>& state() const { return state_; }
  void restore(std::uint64_t steps, std::vector<float> state);

 private:
  OptimizerOptions opt_;
  int epoch_ = 0;
  std::uint64_t t_ = 0;
  std::vector<float> state_;  // sgd+momentum: v; adam: m then v
};

}  // namespace cnn
