#include "cnn/api.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "cnn/layers/normalize.h"
#include "cnn/netfile.h"
#include "cnn/runtime.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace cnn {

namespace {

// x ← images[indices[i]] as floats (bytes scaled by 1/255 exactly as Dataset::batch scales them), y ← labels.
void gather(const Images& images, std::span<const int> labels, const std::uint32_t* indices, int n, Tensor& x, int* y) {
  const std::size_t S = images.sample.sample_size();
  x.resize(images.sample.with_batch(n));
  const int chunks = kernels::batch_chunks(n);
  kernels::parallel_for(chunks, [&](int c) {
    for (int i = kernels::chunk_begin(n, chunks, c); i < kernels::chunk_begin(n, chunks, c + 1); ++i) {
      const std::size_t image = indices[i], at = image * S;
      if (images.type == Images::Type::u8)
        kernels::scale_u8(static_cast<const std::uint8_t*>(images.data) + at, S, 1.0f / 255.0f, x.sample(i));
      else
        std::memcpy(x.sample(i), static_cast<const float*>(images.data) + at, S * sizeof(float));
      if (y) y[i] = labels[image];
    }
  });
}

// The caller's images and labels as the trainer's source (both must outlive it).
BatchSource source(const Images& images, std::span<const int> labels, const std::string& name) {
  return {name,
          images.sample,
          0,
          images.count,
          [&images, labels](const std::uint32_t* indices, int n, Tensor& x, int* y) {
            gather(images, labels, indices, n, x, y);
          },
          {}};
}

// What channel_statistics computes for a Dataset, over the caller's images: exact integer sums for bytes.
ChannelStatistics statistics(const Images& images) {
  const int C = images.sample.c;
  const std::size_t HW = std::size_t(images.sample.h) * std::size_t(images.sample.w);
  ChannelStatistics st;
  const double M = double(images.count) * double(HW);
  for (int c = 0; c < C; ++c) {
    double mean = 0, var = 0;
    if (images.type == Images::Type::u8) {
      std::uint64_t s = 0, q = 0;
      for (std::size_t n = 0; n < images.count; ++n) {
        const std::uint8_t* p = static_cast<const std::uint8_t*>(images.data) + (n * C + std::size_t(c)) * HW;
        for (std::size_t i = 0; i < HW; ++i) s += p[i], q += std::uint64_t(p[i]) * p[i];
      }
      mean = double(s) / M;
      var = std::max(0.0, double(q) / M - mean * mean);
      mean /= 255.0, var /= 255.0 * 255.0;
    } else {
      double s = 0, q = 0;
      for (std::size_t n = 0; n < images.count; ++n) {
        const float* p = static_cast<const float*>(images.data) + (n * C + std::size_t(c)) * HW;
        for (std::size_t i = 0; i < HW; ++i) s += p[i], q += double(p[i]) * p[i];
      }
      mean = s / M;
      var = std::max(0.0, q / M - mean * mean);
    }
    st.mean.push_back(float(mean));
    st.std.push_back(float(std::sqrt(var)));
  }
  return st;
}

}  // namespace

Net::Net(Network network, std::string name, bool fresh)
    : net_(std::move(network)), name_(std::move(name)), fresh_(fresh), statistics_pending_(fresh) {
  if (fresh_) net_.init(1);
}

Net::Net(Network network, std::string name, std::vector<std::string> class_names)
    : net_(std::move(network)),
      name_(std::move(name)),
      class_names_(std::move(class_names)),
      statistics_pending_(true) {}

Net::Net(Net&&) noexcept = default;
Net& Net::operator=(Net&&) noexcept = default;
Net::~Net() = default;

Net Net::preset(const std::string& name) {
  const auto names = preset_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw Error("no preset named \"" + name + "\" (presets: " + list + ")");
  }
  return Net(network_from_text(preset_text(name), name), name, true);
}

Net Net::from_file(const std::string& description_path) {
  if (!std::filesystem::is_regular_file(description_path)) throw Error(description_path + ": no such file");
  return Net(load_network(description_path), std::filesystem::path(description_path).stem().string(), true);
}

Net Net::from_json(const std::string& description_text, const std::string& name) {
  return Net(network_from_text(description_text, name.empty() ? "description" : name), name, true);
}

Net Net::load(const std::string& model_path) {
  Model m = load_model(model_path);
  Net n(std::move(m.net), std::move(m.name), false);
  n.class_names_ = std::move(m.class_names);
  n.training_ = std::move(m.training);
  return n;
}

void Net::init(std::uint64_t seed) {
  net_.init(seed);
  fresh_ = false;
}

void Net::check_images(const char* what, const Images& images) const {
  const Shape in = net_.input_shape();
  if (!images.sample.same_sample(in))
    throw Error(std::string(what) + ": images of " + images.sample.sample_str() + " (channels x height x width), but " +
                "the network takes " + in.sample_str());
  if (images.count > 0 && images.data == nullptr) throw Error(std::string(what) + ": no image data");
  if (images.count > std::size_t(UINT32_MAX)) throw Error(std::string(what) + ": more than 2^32 images");
}

void Net::check_labels(const char* what, const Images& images, std::span<const int> labels) const {
  if (labels.size() != images.count)
    throw Error(std::string(what) + ": " + std::to_string(labels.size()) + " labels for " +
                std::to_string(images.count) + " images (one label per image expected)");
  const int K = outputs();
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= K)
      throw Error(std::string(what) + ": label " + std::to_string(labels[i]) + " of image " + std::to_string(i) +
                  " is not a class of the network (0 to " + std::to_string(K - 1) + ")");
}

FitResult Net::fit(const Images& images, std::span<const int> labels, const FitOptions& o, const Images* validation,
                   std::span<const int> validation_labels) {
  check_images("training images", images);
  check_labels("training labels", images, labels);
  if (images.count == 0) throw Error("training images: none given");
  if (validation) {
    check_images("validation images", *validation);
    check_labels("validation labels", *validation, validation_labels);
  }
  if (o.epochs && *o.epochs < 1) throw Error("epochs must be at least 1, got " + std::to_string(*o.epochs));
  if (o.batch && *o.batch < 1) throw Error("batch must be at least 1, got " + std::to_string(*o.batch));
  if (o.threads < 0) throw Error("threads must be 0 (all cores) or more, got " + std::to_string(o.threads));
  if (o.eval_batch < 1) throw Error("eval_batch must be at least 1, got " + std::to_string(o.eval_batch));

  const Recipe& recipe = net_.recipe();
  TrainingState state;
  int start_epoch = 0, total = 0;
  if (training_) {
    // the run goes on with the settings it was started with, as `cnn train --resume` does
    const std::pair<bool, const char*> given[] = {
        {bool(o.batch), "batch"},       {bool(o.optimizer), "optimizer"}, {bool(o.lr), "lr"},
        {bool(o.momentum), "momentum"}, {bool(o.nesterov), "nesterov"},   {bool(o.weight_decay), "weight_decay"},
        {bool(o.schedule), "schedule"}, {bool(o.augment), "augment"},     {bool(o.label_smoothing), "label_smoothing"},
        {bool(o.seed), "seed"}};
    for (const auto& [set, what] : given)
      if (set)
        throw Error(std::string(what) + " cannot be changed: this net continues the run it was trained by (after " +
                    std::to_string(training_->epoch) + " epochs, its settings saved with it); start a new net for " +
                    "other settings");
    state = *training_;
    start_epoch = state.epoch;
    total = start_epoch + o.epochs.value_or(recipe.epochs.value_or(10));
  } else {
    if (fresh_) net_.init(o.seed.value_or(1));
    total = o.epochs.value_or(recipe.epochs.value_or(10));
    state.seed = o.seed.value_or(1);
    state.batch = o.batch.value_or(recipe.batch.value_or(50));
    state.optimizer.kind = o.optimizer.value_or(recipe.optimizer.value_or("sgd"));
    if (state.optimizer.kind != "sgd" && state.optimizer.kind != "adam")
      throw Error("optimizer must be sgd or adam, got \"" + state.optimizer.kind + "\"");
    state.optimizer.lr = o.lr.value_or(recipe.lr.value_or(0.1));
    state.optimizer.momentum = o.momentum.value_or(recipe.momentum.value_or(0.0));
    state.optimizer.nesterov = o.nesterov.value_or(recipe.nesterov.value_or(false));
    state.optimizer.weight_decay = o.weight_decay.value_or(recipe.weight_decay.value_or(0.0));
    if (!(state.optimizer.lr > 0)) throw Error("lr must be above 0, got " + std::to_string(state.optimizer.lr));
    if (!(state.optimizer.momentum >= 0 && state.optimizer.momentum < 1))
      throw Error("momentum must be in [0, 1), got " + std::to_string(state.optimizer.momentum));
    if (!(state.optimizer.weight_decay >= 0))
      throw Error("weight_decay must be 0 or more, got " + std::to_string(state.optimizer.weight_decay));
    if (state.optimizer.nesterov && !(state.optimizer.momentum > 0))
      throw Error("nesterov needs momentum above 0 (Nesterov momentum with no momentum is plain SGD)");
    try {
      state.optimizer.schedule = parse_schedule(o.schedule.value_or(recipe.schedule.value_or("none"))).resolved(total);
    } catch (const Error& e) {
      throw Error(std::string("schedule: ") + e.what());
    }
    try {
      state.augment = parse_augment(o.augment.value_or(recipe.augment.value_or("none")));
    } catch (const Error& e) {
      throw Error(std::string("augment: ") + e.what());
    }
    state.label_smoothing = o.label_smoothing.value_or(recipe.label_smoothing.value_or(0.0));
    state.data = o.source;
  }
  fresh_ = false;
  statistics_pending_ = statistics_pending_ && !training_;
  set_threads(o.threads);
  net_.set_label_smoothing(float(state.label_smoothing));
  Optimizer opt(state.optimizer);
  opt.restore(state.steps, state.optimizer_state);
  opt.set_run_epochs(total);
  // a net that starts with `normalize` (fixing no statistics) standardises by the training images' own, as cnn train
  if (auto* norm = dynamic_cast<Normalize*>(&net_.layer(0)); norm && !norm->fixed() && statistics_pending_) {
    const ChannelStatistics st = statistics(images);
    norm->set_statistics(st.mean, st.std);
  }
  statistics_pending_ = false;

  // Trainer::fit over the caller's buffer: the same order, augmentation draws, steps and schedule positions as
  // `cnn train`, so the same images give the same parameters.
  FitResult result;
  Trainer trainer(net_, opt,
                  {.epochs = total,
                   .batch = state.batch,
                   .seed = state.seed,
                   .augment = state.augment,
                   .eval_batch = o.eval_batch});
  trainer.on_batch = o.on_batch;
  trainer.should_stop = o.should_stop;
  trainer.on_epoch = [&](const EpochReport& r) {
    state.epoch = r.epoch;
    state.steps = opt.steps();
    state.optimizer_state = opt.state();
    training_ = state;
    if (!o.checkpoint.empty()) save(o.checkpoint);
    result.epochs.push_back(r);
    if (o.on_epoch) o.on_epoch(r);
  };
  const BatchSource train = source(images, labels, "training images");
  const bool with_validation = validation && validation->count;
  const BatchSource test = with_validation ? source(*validation, validation_labels, "validation images") : train;
  result.stopped = trainer.fit(train, with_validation ? &test : nullptr, start_epoch);
  // a run stopped between batches keeps the parameters where it stopped and the state of its last whole epoch
  if (result.stopped && !training_) training_ = state;
  return result;
}

std::vector<float> Net::predict(const Images& images, int batch) {
  check_images("images to predict", images);
  if (batch < 1) throw Error("batch must be at least 1, got " + std::to_string(batch));
  const std::size_t S = images.sample.sample_size(), K = std::size_t(outputs());
  std::vector<float> result(images.count * K);
  Tensor x, probs;
  for (std::size_t b = 0; b < images.count; b += std::size_t(batch)) {
    const int n = int(std::min<std::size_t>(std::size_t(batch), images.count - b));
    // floats are read where they are; bytes are scaled into a batch
    Tensor in;
    if (images.type == Images::Type::f32) {
      in = Tensor::view(static_cast<const float*>(images.data) + b * S, images.sample.with_batch(n));
    } else {
      std::vector<std::uint32_t> idx(static_cast<std::size_t>(n));
      std::iota(idx.begin(), idx.end(), std::uint32_t(b));
      gather(images, {}, idx.data(), n, x, nullptr);
      in = Tensor::view(x.data(), x.shape());
    }
    const Tensor& out = net_.forward(in, {Mode::eval, 0});
    net_.loss().probabilities(out, probs);
    std::copy(probs.data(), probs.data() + probs.size(), result.begin() + std::ptrdiff_t(b * K));
  }
  return result;
}

Evaluation Net::evaluate(const Images& images, std::span<const int> labels, int batch) {
  check_images("images to evaluate", images);
  check_labels("labels to evaluate", images, labels);
  if (batch < 1) throw Error("batch must be at least 1, got " + std::to_string(batch));
  return cnn::evaluate(net_, source(images, labels, "images to evaluate"), batch);
}

void Net::save(const std::string& path) const {
  save_model(path, net_, name_, class_names_, training_ ? &*training_ : nullptr);
}

void Net::export_onnx(const std::string& path, OnnxExportOptions options) const {
  if (options.name.empty()) options.name = name_;
  if (options.class_names.empty()) options.class_names = class_names_;
  cnn::export_onnx(path, net_, options);
}

}  // namespace cnn
