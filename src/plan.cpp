// The plan's steps and where fusion is decided. Each step is a named call in the forward sequence and its mirror in
// the backward one (llm.c's gpt2_forward / gpt2_backward); the only place that looks at which layers follow which is
// Plan::Plan, when the network is compiled.
#include "cnn/plan.h"

#include <algorithm>

#include "cnn/layers/activation.h"
#include "cnn/layers/batchnorm.h"
#include "cnn/layers/conv2d.h"
#include "cnn/layers/dense.h"
#include "cnn/layers/pool.h"
#include "kernels/kernels.h"

namespace cnn {

Tensor* Step::input_grad(int k) {
  Input& in = inputs_[std::size_t(k)];
  if (in.route == GradRoute::none) return nullptr;
  return in.route == GradRoute::add ? &in.scratch : &(*grads_)[std::size_t(in.value)];
}

// g_value += scratch, for the inputs whose gradient another step wrote first
void Step::add_input_grads() {
  for (Input& in : inputs_) {
    if (in.route != GradRoute::add) continue;
    Tensor& g = (*grads_)[std::size_t(in.value)];
    const float* s = in.scratch.data();
    float* d = g.data();
    for (std::size_t i = 0, n = g.size(); i < n; ++i) d[i] += s[i];
  }
}

namespace {

// One layer, any number of inputs.
class LayerStep : public Step {
 public:
  explicit LayerStep(Layer& layer) : layer_(layer) {}
  void forward(const Context& ctx) override {
    for (std::size_t k = 0; k < inputs_.size(); ++k) xs_[k] = &(*acts_)[std::size_t(inputs_[k].value)];
    layer_.forward(std::span<const Tensor* const>(xs_), out(), ctx);
  }
  void backward() override {
    for (std::size_t k = 0; k < inputs_.size(); ++k) {
      xs_[k] = &(*acts_)[std::size_t(inputs_[k].value)];
      dxs_[k] = input_grad(int(k));
    }
    layer_.backward(std::span<const Tensor* const>(xs_), out(), grad(), std::span<Tensor* const>(dxs_));
    add_input_grads();
  }
  void size_arrays() { xs_.assign(inputs_.size(), nullptr), dxs_.assign(inputs_.size(), nullptr); }

 private:
  Tensor& out() { return (*acts_)[std::size_t(layers_[0]) + 1]; }
  Tensor& grad() { return (*grads_)[std::size_t(layers_[0]) + 1]; }
  Layer& layer_;
  std::vector<const Tensor*> xs_;
  std::vector<Tensor*> dxs_;
};

// Conv2D → ReLU or Dense → ReLU: Z = A ⊗ W + b and R = max(Z, 0) in one pass over the output. Both are kept, so
// every activation is what the layers alone would give. Backward: Conv2D takes dZ = dR·[Z ≥ 0] in the same pass
// as its own backward; Dense has the ReLU's pass first.
template <class L>
class ReluFusedStep : public Step {
 public:
  ReluFusedStep(L& layer, ReLU& relu) : layer_(layer), relu_(relu) {}
  void forward(const Context&) override { layer_.forward_relu(x(), z(), r()); }
  void backward() override {
    if constexpr (std::is_same_v<L, Conv2D>) {
      layer_.backward_relu(x(), z(), dr(), dz(), input_grad(0));
    } else {
      relu_.backward(z(), r(), dr(), &dz());
      layer_.backward(x(), z(), dz(), input_grad(0));
    }
    add_input_grads();
  }

 private:
  Tensor& x() { return (*acts_)[std::size_t(inputs_[0].value)]; }
  Tensor& z() { return (*acts_)[std::size_t(layers_[0]) + 1]; }
  Tensor& r() { return (*acts_)[std::size_t(layers_[1]) + 1]; }
  Tensor& dz() { return (*grads_)[std::size_t(layers_[0]) + 1]; }
  Tensor& dr() { return (*grads_)[std::size_t(layers_[1]) + 1]; }
  L& layer_;
  ReLU& relu_;
};

// Conv2D → ReLU → MaxPool2D. Training: the pooling reads Z and pools max(z, 0) (the same outputs and argmax as
// pooling R), so R is never written (its tensor only takes its shape); backward, the pooling writes dZ with the
// ReLU's mask and the convolution takes it as it is. Evaluation keeps R, as the layers alone would.
class ConvReluPoolStep : public Step {
 public:
  ConvReluPoolStep(Conv2D& conv, MaxPool2D& pool) : conv_(conv), pool_(pool) {}
  void forward(const Context& ctx) override {
    folded_ = ctx.mode == Mode::train;
    if (folded_) {
      conv_.forward(x(), z(), ctx);
      r().resize(z().shape());
      pool_.forward_through_relu(z(), p());
    } else {
      conv_.forward_relu(x(), z(), r());
      pool_.forward(r(), p(), ctx);
    }
  }
  void backward() override {
    if (folded_) {
      pool_.backward_through_relu(r(), dp(), z(), dz());
      conv_.backward(x(), z(), dz(), input_grad(0));
    } else {
      pool_.backward(r(), p(), dp(), &dr());
      conv_.backward_relu(x(), z(), dr(), dz(), input_grad(0));
    }
    add_input_grads();
  }

 private:
  Tensor& x() { return (*acts_)[std::size_t(inputs_[0].value)]; }
  Tensor& z() { return (*acts_)[std::size_t(layers_[0]) + 1]; }
  Tensor& r() { return (*acts_)[std::size_t(layers_[1]) + 1]; }
  Tensor& p() { return (*acts_)[std::size_t(layers_[2]) + 1]; }
  Tensor& dz() { return (*grads_)[std::size_t(layers_[0]) + 1]; }
  Tensor& dr() { return (*grads_)[std::size_t(layers_[1]) + 1]; }
  Tensor& dp() { return (*grads_)[std::size_t(layers_[2]) + 1]; }
  Conv2D& conv_;
  MaxPool2D& pool_;
  bool folded_ = false;
};

// Conv2D → BatchNorm2D (→ ReLU). Training runs the layers one after the other (the batch statistics need the
// convolution's whole output). Evaluation folds the normalisation into the convolution, W' = scale·W and
// b' = scale·b + shift per map (scale = γ/√(running σ² + ε), shift = β − running μ·scale), and runs one convolution
// that writes the normalised (and rectified) maps; the convolution's own output is then not written. A backward
// after such a pass runs the layers' eval forwards first, so it sees every value it needs.
class ConvBatchNormStep : public Step {
 public:
  ConvBatchNormStep(Conv2D& conv, BatchNorm2D& bn, ReLU* relu) : conv_(conv), bn_(bn), relu_(relu) {
    const Tensor w = conv.weight();
    w_.assign(w.size(), 0.0f);
    b_.assign(std::size_t(conv.out_channels()), 0.0f);
  }
  void forward(const Context& ctx) override {
    folded_ = ctx.mode == Mode::eval;
    if (!folded_) return unfolded(ctx);
    const Tensor w = conv_.weight(), b = conv_.bias();
    const std::size_t per_map = w.size() / b_.size();
    for (std::size_t o = 0; o < b_.size(); ++o) {
      const float scale = bn_.eval_scale(int(o)), shift = bn_.eval_shift(int(o));
      for (std::size_t k = 0; k < per_map; ++k) w_[o * per_map + k] = scale * w[o * per_map + k];
      b_[o] = (conv_.has_bias() ? scale * b[o] : 0.0f) + shift;
    }
    z().resize(conv_.output_shape().with_batch(x().shape().n));
    conv_.forward_with(x(), w_.data(), b_.data(), y(), relu_ ? &r() : nullptr);
  }
  void backward() override {
    if (folded_) unfolded({Mode::eval, 0});
    if (relu_ && trained_) {  // the normalisation takes dR and finds the ReLU's mask itself
      bn_.backward_relu(z(), dr(), &dz());
    } else {
      if (relu_) relu_->backward(y(), r(), dr(), &dy());
      bn_.backward(z(), y(), dy(), &dz());
    }
    conv_.backward(x(), z(), dz(), input_grad(0));
    add_input_grads();
  }

 private:
  // Training with a ReLU: the normalisation writes Y and R in one pass.
  void unfolded(const Context& ctx) {
    conv_.forward(x(), z(), ctx);
    trained_ = relu_ && ctx.mode == Mode::train;
    if (trained_) {
      bn_.forward_relu(z(), y(), r(), ctx);
    } else {
      bn_.forward(z(), y(), ctx);
      if (relu_) relu_->forward(y(), r(), ctx);
    }
    folded_ = false;
  }
  Tensor& x() { return (*acts_)[std::size_t(inputs_[0].value)]; }
  Tensor& z() { return (*acts_)[std::size_t(layers_[0]) + 1]; }
  Tensor& y() { return (*acts_)[std::size_t(layers_[1]) + 1]; }
  Tensor& r() { return (*acts_)[std::size_t(layers_[2]) + 1]; }
  Tensor& dz() { return (*grads_)[std::size_t(layers_[0]) + 1]; }
  Tensor& dy() { return (*grads_)[std::size_t(layers_[1]) + 1]; }
  Tensor& dr() { return (*grads_)[std::size_t(layers_[2]) + 1]; }
  Conv2D& conv_;
  BatchNorm2D& bn_;
  ReLU* relu_;
  std::vector<float> w_, b_;  // the folded weights and bias, sized once
  bool folded_ = false, trained_ = false;
};

}  // namespace

Plan::Plan(std::vector<LayerPtr>& layers, const std::vector<std::vector<int>>& inputs, std::vector<Tensor>& acts,
           std::vector<Tensor>& grads, PlanOptions options)
    : options_(options) {
  const int L = int(layers.size());
  std::vector<std::vector<int>> readers(std::size_t(L) + 1);  // readers[v]: the layers that read value v
  for (int i = 0; i < L; ++i)
    for (int v : inputs[std::size_t(i)]) readers[std::size_t(v)].push_back(i);
  for (int i : options.outputs) {
    if (i < 0 || i >= L) throw Error("network output " + std::to_string(i) + ": no such layer");
    readers[std::size_t(i) + 1].push_back(L);  // the caller reads it: no step may skip writing it
  }
  for (int i = 0; i + 1 < L; ++i)
    if (readers[std::size_t(i) + 1].empty())
      throw Error("layer " + std::to_string(i) + " (" + layers[std::size_t(i)]->kind() +
                  "): its output is read by no layer (only the last layer is the network's output)");
  // The layers backward runs: the last, and every layer some layer it runs reads.
  std::vector<bool> to_loss(std::size_t(L), false);
  to_loss[std::size_t(L) - 1] = true;
  for (int i = L - 2; i >= 0; --i)
    for (int j : readers[std::size_t(i) + 1])
      to_loss[std::size_t(i)] = to_loss[std::size_t(i)] || (j < L && to_loss[std::size_t(j)]);
  // layer j reads only layer i's output, and nothing else reads it: the pair can run as one step
  auto sole_reader = [&](int i, int j) {
    return j < L && inputs[std::size_t(j)] == std::vector<int>{i + 1} &&
           readers[std::size_t(i) + 1] == std::vector<int>{j};
  };
  auto relu_at = [&](int j) -> ReLU* {
    return j < L && layers[std::size_t(j)]->kind() == "relu" ? dynamic_cast<ReLU*>(layers[std::size_t(j)].get())
                                                             : nullptr;
  };
  for (int i = 0; i < L;) {
    Layer& layer = *layers[std::size_t(i)];
    auto* conv = dynamic_cast<Conv2D*>(&layer);
    auto* dense = dynamic_cast<Dense*>(&layer);
    ReLU* relu = (conv || dense) && sole_reader(i, i + 1) ? relu_at(i + 1) : nullptr;
    auto* pool = conv && relu && !options.keep_all && sole_reader(i + 1, i + 2)
                     ? dynamic_cast<MaxPool2D*>(layers[std::size_t(i) + 2].get())
                     : nullptr;
    auto* bn = conv && !relu && !options.keep_all && sole_reader(i, i + 1)
                   ? dynamic_cast<BatchNorm2D*>(layers[std::size_t(i) + 1].get())
                   : nullptr;
    ReLU* bn_relu = bn && sole_reader(i + 1, i + 2) ? relu_at(i + 2) : nullptr;
    std::unique_ptr<Step> step;
    int covers = 1;
    if (bn) {
      step = std::make_unique<ConvBatchNormStep>(*conv, *bn, bn_relu);
      covers = bn_relu ? 3 : 2;
    } else if (pool) {
      step = std::make_unique<ConvReluPoolStep>(*conv, *pool);
      covers = 3;
    } else if (relu && conv) {
      step = std::make_unique<ReluFusedStep<Conv2D>>(*conv, *relu);
      covers = 2;
    } else if (relu) {
      step = std::make_unique<ReluFusedStep<Dense>>(*dense, *relu);
      covers = 2;
    } else {
      auto s = std::make_unique<LayerStep>(layer);
      for (int v : inputs[std::size_t(i)]) s->inputs_.push_back({v});
      s->size_arrays();
      step = std::move(s);
    }
    if (step->inputs_.empty()) step->inputs_.push_back({inputs[std::size_t(i)][0]});
    for (int k = 0; k < covers; ++k) {
      Layer& l = *layers[std::size_t(i + k)];
      step->layers_.push_back(i + k);
      step->name_ += (k ? " + " : "") + l.summary();
      step->macs_ += l.macs_per_sample();
    }
    step->acts_ = &acts;
    step->grads_ = &grads;
    step->in_backward_ = to_loss[std::size_t(i + covers) - 1];
    steps_.push_back(std::move(step));
    i += covers;
  }
  // Gradient routes, in backward order: the first step to reach a value writes its gradient, later ones add. A value
  // with no parameter before it (the input, a normalisation of the input) needs none, unless every one is kept.
  std::vector<bool> after_params(std::size_t(L) + 1, false);
  for (int i = 0; i < L; ++i) {
    bool any = layers[std::size_t(i)]->param_count() > 0;
    for (int v : inputs[std::size_t(i)]) any = any || after_params[std::size_t(v)];
    after_params[std::size_t(i) + 1] = any;
  }
  std::vector<bool> written(std::size_t(L) + 1, false);
  for (auto it = steps_.rbegin(); it != steps_.rend(); ++it)
    for (Step::Input& in : (*it)->inputs_) {
      if (!(*it)->in_backward_ || (!after_params[std::size_t(in.value)] && !options.keep_all)) {
        in.route = GradRoute::none;
        continue;
      }
      in.route = written[std::size_t(in.value)] ? GradRoute::add : GradRoute::write;
      written[std::size_t(in.value)] = true;
    }
}

}  // namespace cnn
