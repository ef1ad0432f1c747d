// Network: the graph (layers, what each reads, one flat buffer of parameters, of gradients, of buffers) and the two
// loops that run its plan. Which layers fuse, and how gradients of shared values add up, is the plan's business
// (src/plan.cpp); nothing here depends on which layers the net holds.
#include "cnn/network.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "kernels/shard.h"

namespace cnn {

Network::Network(Shape input) : input_(input), shapes_{input} {
  input_.n = 1;
  shapes_[0].n = 1;
  if (input.c <= 0 || input.h <= 0 || input.w <= 0)
    throw Error("network: input shape " + input.sample_str() + " has an empty dimension");
  acts_.resize(1);
  grads_act_.resize(1);
}

Network::~Network() = default;

Network& Network::add(LayerPtr layer, std::vector<int> inputs) {
  const int index = int(layers_.size());
  const std::string who = "layer " + std::to_string(index) + " (" + layer->kind() + ")";
  if (inputs.empty()) inputs.push_back(index - 1);
  std::vector<int> values;
  std::vector<Shape> in;
  for (int i : inputs) {
    if (i < kInput || i >= index)
      throw Error(who + ": input " + std::to_string(i) + " is not the network input (" + std::to_string(kInput) +
                  ") or a layer added before it");
    values.push_back(i + 1);
    in.push_back(shapes_[std::size_t(i) + 1]);
  }
  Shape out;
  try {
    out = layer->setup(std::span<const Shape>(in));
  } catch (const Error& e) {
    throw Error(who + ": " + e.what());
  }
  layers_.push_back(std::move(layer));
  inputs_.push_back(std::move(values));
  names_.emplace_back();
  shapes_.push_back(out);
  offsets_.push_back(offsets_.back() + layers_.back()->param_count());
  buffer_offsets_.push_back(buffer_offsets_.back() + layers_.back()->buffer_count());
  acts_.emplace_back(Shape{0, 0, 0, 0});
  grads_act_.emplace_back(Shape{0, 0, 0, 0});
  params_.resize(offsets_.back());
  grads_.resize(offsets_.back());
  buffers_.resize(buffer_offsets_.back());
  rebind();
  plan_.reset();
  return *this;
}

std::vector<int> Network::layer_inputs(std::size_t layer) const {
  std::vector<int> out;
  for (int v : inputs_.at(layer)) out.push_back(v - 1);
  return out;
}

void Network::rebind() {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->bind(params_.data() + offsets_[i], grads_.data() + offsets_[i]);
    layers_[i]->bind_buffers(buffers_.data() + buffer_offsets_[i]);
  }
}

const Loss& Network::loss() const {
  if (!loss_) throw Error("network: no loss was set");
  return *loss_;
}

Loss& Network::loss() {
  if (!loss_) throw Error("network: no loss was set");
  return *loss_;
}

Shape Network::output_shape() const { return shapes_.back(); }

std::size_t Network::macs_per_sample() const {
  std::size_t total = 0;
  for (const auto& l : layers_) total += l->macs_per_sample();
  return total;
}

namespace {
Rng layer_rng(std::uint64_t seed, std::size_t layer) { return Rng(mix64(seed) + layer * 0x632be59bd9b4e019ULL); }
}  // namespace

void Network::init(std::uint64_t seed) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Rng rng = layer_rng(seed, i);
    layers_[i]->init(rng);
  }
}

void Network::reseed(std::uint64_t seed) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Rng rng = layer_rng(seed, i);
    layers_[i]->reseed(rng);
  }
}

void Network::set_need_input_gradient(bool on) {
  if (plan_options_.keep_all != on) plan_.reset();
  plan_options_.keep_all = on;
}

void Network::add_output(std::size_t layer) {
  if (layer >= layers_.size())
    throw Error("network output: layer " + std::to_string(layer) + " of " + std::to_string(layers_.size()));
  auto& outs = plan_options_.outputs;
  if (std::find(outs.begin(), outs.end(), int(layer)) != outs.end()) return;
  outs.push_back(int(layer));  // even the last layer for now: more may be added after it
  plan_.reset();
}

bool Network::is_output(std::size_t layer) const {
  return layer + 1 == layers_.size() || std::find(plan_options_.outputs.begin(), plan_options_.outputs.end(),
                                                  int(layer)) != plan_options_.outputs.end();
}

void Network::set_label_smoothing(float eps) { loss().set_label_smoothing(eps); }
float Network::label_smoothing() const { return loss_ ? loss_->label_smoothing() : 0.0f; }

Plan& Network::ensure_plan() {
  if (layers_.empty()) throw Error("network: no layers");
  if (!plan_) {
    plan_ = std::make_unique<Plan>(layers_, inputs_, acts_, grads_act_, plan_options_);
    if (profiling_) set_profiling(true);
  }
  return *plan_;
}

const Plan& Network::plan() { return ensure_plan(); }

void Network::set_profiling(bool on) {
  profiling_ = on;
  profile_.clear();
  if (!on || !plan_) return;
  for (const auto& s : plan_->steps()) profile_.push_back({s->name(), s->layers(), s->macs_per_sample()});
  profile_.push_back({"loss (" + (loss_ ? loss_->kind() : std::string("none")) + ")", {}, 0});
}

namespace {
using clock = std::chrono::steady_clock;
double since(clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); }
}  // namespace

const Tensor& Network::forward(const Tensor& x, const Context& ctx) {
  Plan& plan = ensure_plan();
  if (!input_.same_sample(x.shape())) check_sample_shape("network input", input_, x.shape());
  acts_[0] = Tensor::view(x.data(), x.shape());
  auto& steps = plan.steps();
  for (std::size_t s = 0; s < steps.size(); ++s) {
    if (!profiling_) {
      steps[s]->forward(ctx);
      continue;
    }
    const auto t0 = clock::now();
    steps[s]->forward(ctx);
    profile_[s].forward_s += since(t0);
    ++profile_[s].forward_calls;
    profile_[s].samples += std::uint64_t(x.shape().n);
  }
  return acts_.back();
}

void Network::backward(const Tensor& dout) {
  Plan& plan = ensure_plan();
  if (!(acts_.back().shape() == dout.shape()))
    check_shape("network backward (dL/doutput)", acts_.back().shape(), dout.shape());
  if (&dout != &grads_act_.back()) {
    grads_act_.back().resize(dout.shape());
    std::copy(dout.data(), dout.data() + dout.size(), grads_act_.back().data());
  }
  auto& steps = plan.steps();
  for (std::size_t s = steps.size(); s-- > 0;) {
    if (!steps[s]->in_backward()) continue;
    if (!profiling_) {
      steps[s]->backward();
      continue;
    }
    const auto t0 = clock::now();
    steps[s]->backward();
    profile_[s].backward_s += since(t0);
    ++profile_[s].backward_calls;
  }
}

double Network::forward_backward(const Tensor& x, const int* labels, std::uint64_t step) {
  const Tensor& out = forward(x, {Mode::train, step});
  const auto t0 = profiling_ ? clock::now() : clock::time_point{};
  const double l = loss().compute(out, labels, &grads_act_.back());
  if (profiling_) {
    profile_.back().forward_s += since(t0);
    ++profile_.back().forward_calls;
  }
  backward(grads_act_.back());
  return l;
}

double Network::forward_backward(const Tensor& x, const int* labels, std::uint64_t step, const BatchPart& part) {
  if (!part.comm || part.comm->size() <= 1) {
    if (part.global_n != x.shape().n)
      throw Error("network: a batch of " + std::to_string(x.shape().n) + " images, not the " +
                  std::to_string(part.global_n) + " of the step");
    return forward_backward(x, labels, step);
  }
  kernels::Shard shard(part.global_n, part.comm);
  if (shard.local_n() != x.shape().n)
    throw Error("network: rank " + std::to_string(part.comm->rank()) + " holds " + std::to_string(x.shape().n) +
                " images of the global batch of " + std::to_string(part.global_n) + ", not its " +
                std::to_string(shard.local_n()));
  const std::size_t P = grads_.size();
  subtree_grads_.resize(std::size_t(std::max(shard.subtrees() - 1, 0)) * P);
  shard.set_gradient_slots(grads_.data(), subtree_grads_.data(), P);
  double loss;
  {
    kernels::ShardScope scope(&shard);
    loss = forward_backward(x, labels, step);
  }
  std::vector<std::pair<std::size_t, std::size_t>> global;  // gradients the layers summed over the global batch
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i]->gradient_is_global() && offsets_[i + 1] > offsets_[i])
      global.push_back({offsets_[i], offsets_[i + 1]});
  shard.combine_gradients(global);
  return loss;
}

void Network::set_input_fit(std::string fit) {
  if (!fit.empty() && fit != "crop" && fit != "stretch" && fit != "pad")
    throw Error("input fit: expected crop, stretch or pad, got \"" + fit + "\"");
  input_fit_ = std::move(fit);
}

nlohmann::json Network::spec() const {
  nlohmann::json j;
  j["input"] = {input_.c, input_.h, input_.w};
  if (!input_fit_.empty()) j["fit"] = input_fit_;
  j["layers"] = nlohmann::json::array();
  // A layer that another reads out of order is referred to by its name ("layer<i>" when it has none).
  auto name_of = [&](int v) {
    return v == 0                               ? std::string("input")
           : names_[std::size_t(v) - 1].empty() ? "layer" + std::to_string(v - 1)
                                                : names_[std::size_t(v) - 1];
  };
  std::vector<bool> referred(layers_.size() + 1, false);
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (inputs_[i] != std::vector<int>{int(i)})
      for (int v : inputs_[i]) referred[std::size_t(v)] = true;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    nlohmann::json l = layers_[i]->spec();
    if (!names_[i].empty() || referred[i + 1]) l["name"] = name_of(int(i) + 1);
    if (inputs_[i] != std::vector<int>{int(i)}) {
      l["inputs"] = nlohmann::json::array();
      for (int v : inputs_[i]) l["inputs"].push_back(name_of(v));
    }
    if (i + 1 < layers_.size() && is_output(i)) l["output"] = true;
    j["layers"].push_back(l);
  }
  if (loss_) j["loss"] = loss_->kind();
  if (!recipe_.empty()) j["recipe"] = recipe_.to_json();
  return j;
}

}  // namespace cnn
