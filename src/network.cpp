#include "cnn/network.h"

#include <nlohmann/json.hpp>

#include "cnn/layers/dropout.h"

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

const Tensor& Network::forward(const Tensor& x, const Context& ctx) {
  if (layers_.empty()) throw Error("network: no layers");
  check_sample_shape("network input", input_, x.shape());
  acts_[0] = Tensor::view(x.data(), x.shape());
  for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i]->forward(acts_[i], acts_[i + 1], ctx);
  return acts_.back();
}

void Network::backward(const Tensor& dout) {
  check_shape("network backward (dL/doutput)", acts_.back().shape(), dout.shape());
  if (&dout != &grads_act_.back()) {
    grads_act_.back().resize(dout.shape());
    std::copy(dout.data(), dout.data() + dout.size(), grads_act_.back().data());
  }
  for (std::size_t i = layers_.size(); i-- > 0;) {
    Tensor* dx = (i > 0 || need_input_grad_) ? &grads_act_[i] : nullptr;
    layers_[i]->backward(acts_[i], acts_[i + 1], grads_act_[i + 1], dx);
  }
}

double Network::forward_backward(const Tensor& x, const int* labels, std::uint64_t step) {
  const Tensor& out = forward(x, {Mode::train, step});
  const double l = loss().compute(out, labels, &grads_act_.back());
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
