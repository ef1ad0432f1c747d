#include "cnn/network.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "cnn/layers/activation.h"
#include "cnn/layers/conv2d.h"
#include "cnn/layers/dense.h"
#include "cnn/layers/dropout.h"
#include "cnn/layers/pool.h"
#include "kernels/kernels.h"

namespace cnn {

Network::Network(Shape input) : input_(input), shapes_{input} {
  input_.n = 1;
  shapes_[0].n = 1;
  if (input.c <= 0 || input.h <= 0 || input.w <= 0)
    throw Error("network: input shape " + input.sample_str() + " has an empty dimension");
  acts_.resize(1);
  grads_act_.resize(1);
}

Network& Network::add(LayerPtr layer) {
  const std::size_t index = layers_.size();
  Shape out;
  try {
    out = layer->setup(shapes_.back());
  } catch (const Error& e) {
    throw Error("layer " + std::to_string(index) + " (" + layer->kind() + "): " + e.what());
  }
  layers_.push_back(std::move(layer));
  shapes_.push_back(out);
  offsets_.push_back(offsets_.back() + layers_.back()->param_count());
  acts_.emplace_back(Shape{0, 0, 0, 0});
  grads_act_.emplace_back(Shape{0, 0, 0, 0});
  params_.resize(offsets_.back());
  grads_.resize(offsets_.back());
  rebind();
  // Conv2D/Dense → ReLU: the first computes both in one pass over its output (bias + ReLU fused); Conv2D → ReLU →
  // MaxPool2D: in training the pooling takes the ReLU over (see forward and backward).
  fused_.assign(layers_.size(), kNotFused);
  for (std::size_t i = 0; i + 1 < layers_.size(); ++i) {
    const bool conv = dynamic_cast<Conv2D*>(layers_[i].get()) != nullptr;
    if ((conv || dynamic_cast<Dense*>(layers_[i].get())) && dynamic_cast<ReLU*>(layers_[i + 1].get()) &&
        layers_[i + 1]->kind() == "relu")
      fused_[i] = conv && i + 2 < layers_.size() && dynamic_cast<MaxPool2D*>(layers_[i + 2].get()) ? kReluPool : kRelu;
  }
  return *this;
}

void Network::rebind() {
  for (std::size_t i = 0; i < layers_.size(); ++i)
    layers_[i]->bind(params_.data() + offsets_[i], grads_.data() + offsets_[i]);
}

const Loss& Network::loss() const {
  if (!loss_) throw Error("network: no loss was set");
  return *loss_;
}

Shape Network::output_shape() const { return shapes_.back(); }

std::size_t Network::macs_per_sample() const {
  std::size_t total = 0;
  for (const auto& l : layers_) total += l->macs_per_sample();
  return total;
}

void Network::init(std::uint64_t seed) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Rng rng(mix64(seed) + i * 0x632be59bd9b4e019ULL);
    layers_[i]->init(rng);
    if (auto* d = dynamic_cast<Dropout*>(layers_[i].get())) d->set_seed(mix64(seed ^ (i + 1)));
  }
}

void Network::set_profiling(bool on) {
  profiling_ = on;
  profile_.assign(layers_.size() + 1, LayerTime{});
}

namespace {
using clock = std::chrono::steady_clock;
double since(clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); }
}  // namespace

const Tensor& Network::forward(const Tensor& x, const Context& ctx) {
  if (layers_.empty()) throw Error("network: no layers");
  if (!input_.same_sample(x.shape())) check_sample_shape("network input", input_, x.shape());
  acts_[0] = Tensor::view(x.data(), x.shape());
  if (profiling_ && profile_.size() != layers_.size() + 1) profile_.assign(layers_.size() + 1, LayerTime{});
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto t0 = profiling_ ? clock::now() : clock::time_point{};
    if (ctx.mode == Mode::train && !need_input_grad_ && pooled_after_relu(i)) {
      // training, Conv2D → ReLU → MaxPool2D: the pooling reads Z and applies the ReLU itself, so R, the ReLU's
      // output, is never written (its tensor only takes its shape); backward folds the ReLU into the pooling likewise
      layers_[i]->forward(acts_[i], acts_[i + 1], ctx);
      acts_[i + 2].resize(acts_[i + 1].shape());
      const auto t1 = profiling_ ? clock::now() : clock::time_point{};
      static_cast<MaxPool2D&>(*layers_[i + 2]).forward_through_relu(acts_[i + 1], acts_[i + 3]);
      if (profiling_) {
        profile_[i].forward_s += std::chrono::duration<double>(t1 - t0).count();
        profile_[i + 2].forward_s += since(t1);
      }
      i += 2;
      continue;
    }
    if (fused_with_relu(i)) {
      if (auto* conv = dynamic_cast<Conv2D*>(layers_[i].get())) conv->forward_relu(acts_[i], acts_[i + 1], acts_[i + 2]);
      else static_cast<Dense&>(*layers_[i]).forward_relu(acts_[i], acts_[i + 1], acts_[i + 2]);
      if (profiling_) profile_[i].forward_s += since(t0);
      ++i;
      continue;
    }
    layers_[i]->forward(acts_[i], acts_[i + 1], ctx);
    if (profiling_) profile_[i].forward_s += since(t0);
  }
  return acts_.back();
}

void Network::backward(const Tensor& dout) {
  if (!(acts_.back().shape() == dout.shape())) check_shape("network backward (dL/doutput)", acts_.back().shape(), dout.shape());
  if (&dout != &grads_act_.back()) {
    grads_act_.back().resize(dout.shape());
    std::copy(dout.data(), dout.data() + dout.size(), grads_act_.back().data());
  }
  if (profiling_ && profile_.size() != layers_.size() + 1) profile_.assign(layers_.size() + 1, LayerTime{});
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const auto t0 = profiling_ ? clock::now() : clock::time_point{};
    Tensor* dx = (i > 0 || need_input_grad_) ? &grads_act_[i] : nullptr;
    if (i >= 2 && !need_input_grad_ && pooled_after_relu(i - 2)) {
      // Conv2D → ReLU → MaxPool2D: the pooling writes ∂L/∂Z with the ReLU's mask applied (one pass instead of two;
      // ∂L/∂R, between the ReLU and the pooling, is not kept: set_need_input_gradient(true) keeps every one)
      static_cast<MaxPool2D&>(*layers_[i]).backward_through_relu(acts_[i], grads_act_[i + 1], acts_[i - 1],
                                                                  grads_act_[i - 1]);
      const auto t1 = profiling_ ? clock::now() : clock::time_point{};
      Tensor* dx_conv = (i - 2 > 0 || need_input_grad_) ? &grads_act_[i - 2] : nullptr;
      layers_[i - 2]->backward(acts_[i - 2], acts_[i - 1], grads_act_[i - 1], dx_conv);
      if (profiling_) {
        profile_[i].backward_s += std::chrono::duration<double>(t1 - t0).count();
        profile_[i - 2].backward_s += since(t1);
        ++profile_[i].calls, ++profile_[i - 1].calls, ++profile_[i - 2].calls;
      }
      i -= 2;
      continue;
    }
    if (i > 0 && fused_with_relu(i - 1)) {
      if (auto* conv = dynamic_cast<Conv2D*>(layers_[i - 1].get())) {
        // Conv2D → ReLU backward in one pass; ∂L/∂Z is still written to grads_act_[i] for whoever reads it.
        Tensor* dx_conv = (i - 1 > 0 || need_input_grad_) ? &grads_act_[i - 1] : nullptr;
        conv->backward_relu(acts_[i - 1], acts_[i], grads_act_[i + 1], grads_act_[i], dx_conv);
        if (profiling_) {
          profile_[i - 1].backward_s += since(t0);
          ++profile_[i - 1].calls;
          ++profile_[i].calls;
        }
        --i;
        continue;
      }
    }
    layers_[i]->backward(acts_[i], acts_[i + 1], grads_act_[i + 1], dx);
    if (profiling_) {
      profile_[i].backward_s += since(t0);
      ++profile_[i].calls;
    }
  }
}

void Network::set_label_smoothing(float eps) {
  if (!(eps >= 0.0f && eps < 1.0f)) throw Error("label smoothing must be in [0, 1), got " + std::to_string(eps));
  smoothing_ = eps;
}

double Network::forward_backward(const Tensor& x, const int* labels, std::uint64_t step) {
  const Tensor& out = forward(x, {Mode::train, step});
  const auto t0 = profiling_ ? clock::now() : clock::time_point{};
  double l;
  const int N = out.shape().n, K = int(out.shape().sample_size());
  const bool labels_ok = std::all_of(labels, labels + N, [K](int t) { return t >= 0 && t < K; });
  const bool softmax_ce = dynamic_cast<const SoftmaxCrossEntropy*>(&loss()) != nullptr;
  if (smoothing_ > 0.0f && !softmax_ce)
    throw Error("label smoothing needs the softmax_cross_entropy loss, not " + loss().kind());
  if (labels_ok && softmax_ce) {
    // softmax fused with the loss and its gradient, into the workspace, with no allocation
    grads_act_.back().resize(out.shape());
    l = kernels::softmax_cross_entropy(out.data(), labels, N, K, grads_act_.back().data(), smoothing_) / N;
  } else {
    l = loss().compute(out, labels, &grads_act_.back());  // also names a bad label
  }
  if (profiling_) profile_.back().forward_s += since(t0);
  backward(grads_act_.back());
  return l;
}

nlohmann::json Network::spec() const {
  nlohmann::json j;
  j["input"] = {input_.c, input_.h, input_.w};
  j["layers"] = nlohmann::json::array();
  for (const auto& l : layers_) j["layers"].push_back(l->spec());
  if (loss_) j["loss"] = loss_->kind();
  return j;
}

}  // namespace cnn
