// Optimizers over the network's flat parameter buffer: one loop updates every layer.
//   SGD (seed 003):  w ← w − α·dw, with α per layer when a layer sets its own learning rate (α, α2, α3)
//   options (off by default, as in the seeds): weight decay g ← g + λw; momentum v ← μv + g, step v
//   (Nesterov: step g + μv); the PyTorch conventions, so the same options give the same updates.
//   Adam:  m ← β1·m + (1 − β1)g;  v ← β2·v + (1 − β2)g²;  w ← w − α·m̂/(√v̂ + ε), m̂ = m/(1 − β1ᵗ), v̂ = v/(1 − β2ᵗ)
// Learning-rate schedules: constant, step (×γ every k epochs), exponential (×γ every epoch), cosine (per epoch), or
// one-cycle (per batch), each optionally after a linear warm-up (per batch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnn/network.h"

namespace cnn {

struct LrSchedule {
  enum class Kind { constant, step, exponential, cosine, onecycle };
  Kind kind = Kind::constant;
  double gamma = 1.0;
  int step_epochs = 1;     // step: epochs per step; cosine and onecycle: the epochs their curve spans
  bool whole_run = false;  // "cos" or "onecycle" without a length: resolved() makes the curve span the run
  double warmup = 0.0;     // epochs of linear warm-up (0: none)
  double pct = 0.3;        // onecycle: the fraction of its steps spent rising
  // The factor of the base rate at batch `batch` (0-based) of `batches` in epoch `epoch` (0-based). The epoch-wise
  // schedules depend on the epoch alone; warm-up and one-cycle move every batch.
  double factor(int epoch, std::size_t batch = 0, std::size_t batches = 1) const;
  // The schedule of a run of `epochs` epochs: a whole-run curve gets that length, anything else is returned as is.
  LrSchedule resolved(int epochs) const;
  std::string str() const;  // "none", "step:3:0.5", "exp:0.9", "cos:10", "warmup:1,onecycle:30"
};
// [warmup:W,] then none | step:K:GAMMA | exp:GAMMA | cos[:E] | onecycle[:E[:PCT]]; throws cnn::Error otherwise.
//   cos:E     ½(1 + cos(π·epoch/E)), 0 from epoch E on: PyTorch's CosineAnnealingLR(T_max = E) stepped per epoch.
//   onecycle  PyTorch's OneCycleLR(max_lr = the rate, total_steps = E·batches, pct_start = PCT (0.3),
//             anneal_strategy "cos", div_factor 25, final_div_factor 1e4) stepped per batch, momentum not cycled
//             (cycle_momentum = False: the optimizer's momentum stays what it is given).
//   warmup:W  the factor × (t + 1)/(W·batches) for the first W epochs' steps t (W may be a fraction).
// Without E, cos and onecycle span the whole run (see resolved()).
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
  void set_epoch(int epoch) { set_position(epoch, 0, 1); }
  // Where the run is: batch `batch` of `batches` in epoch `epoch` (the schedule's factor depends on it).
  void set_position(int epoch, std::size_t batch, std::size_t batches) {
    epoch_ = epoch;
    batch_ = batch;
    batches_ = batches;
  }
  int epoch() const { return epoch_; }
  // A schedule that spans the whole run ("cos", "onecycle") learns the run's length here (the trainer calls it).
  void set_run_epochs(int epochs) { opt_.schedule = opt_.schedule.resolved(epochs); }
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
  std::size_t batch_ = 0, batches_ = 1;
  std::uint64_t t_ = 0;
  std::vector<float> state_;  // sgd+momentum: v; adam: m then v
};

}  // namespace cnn
