// Step-for-step parity with PyTorch (Debian's python3-torch, run as /usr/bin/python3 tests/parity/torch_steps.py):
// the same net, the same initial weights and buffers, plain-SGD steps over the same batches of real Fashion-MNIST
// training images. The loss, the logits and the gradients of every step, and the weights and running statistics
// (batch normalisation) every step leaves, must agree within 1e-4 relative; so must what the step changed in the
// running statistics, judged by itself (a 0.1-momentum update is a tenth of the value it updates). Every step starts
// from PyTorch's parameters and buffers of that step (teacher forcing), so that float differences do not compound.
//
// Two things are not arithmetic. A ReLU decision (let the gradient through or not) for a pre-activation within
// ~1e-7 of zero, or a max-pooling window whose two largest values are that close, can come out the other way in one
// of the two float orders of summation, and then a tensor's gradient legitimately differs by a percent (seen with
// LeNet-5 at step 20: C3 channel 5). PyTorch reports every ReLU's decisions; where one went the other way, or a
// max-pooling window is that close to a tie, the step is still compared, but for the gradient coordinates (and the
// weights they update) that the decision touches: the filter or unit of its channel and the layers before it
// (mark_touched). The steps where that happens are named; a run may have only a few.
// And a sum of ~10^4 products that nearly cancel, the first convolution's dW in a conv → batchnorm net, carries
// float32 rounding of ~1e-4 of its scale in PyTorch itself: there the resnet8 test also has PyTorch compute each
// step in float64 from the same state, and a gradient (and the weights it leaves) agrees when it is within 1e-4 of
// PyTorch's float32 one or of that float64 one (ours stays within 6e-5 of the float64 one at batch 16; PyTorch's
// float32 one, up to 2e-4 away, does not).
//
// "Relative" for a tensor (a parameter, a buffer, a batch of logits) is max|ours − torch| / max|torch| over that
// tensor (its scale), so that elements that are near zero in both are not divided by ~0; for a loss, |Δ|/|loss|.
//   seed5, LeNet-5: 20 training steps, batch 50, the 28×28 grey images as they are; and the final weights of our
//   own untouched 20 steps, which stay within 1e-4 of PyTorch's.
//   resnet8 (batch normalisation, residual adds, 1×1 projection shortcuts, no biases, global average pooling):
//   20 training steps (lr 0.1), then 5 in eval mode, which must leave the running statistics alone (lr 0.01: with
//   0.1 the eval-mode steps diverge in both implementations, the running estimates after 20 steps being still far
//   from the batch statistics); batch 16. The logits of the first eval-mode step are what the two trained nets make
//   of new pictures. Its 3×32×32 input is each Fashion-MNIST picture x, padded by 2 zero pixels all round, as the
//   three channels x, 1 − x and x²: real, different, correlated channels (no CIFAR-10 data is installed here).
//   Our own untouched run is printed, not compared: a BN net at lr 0.1 amplifies rounding, and PyTorch's own
//   float32 and float64 runs differ by ~1% in the loss after 20 steps.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "cnn/cnn.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

constexpr double kLr = 0.1, kTolerance = 1e-4;
// The share of a run's gradient coordinates (over all its steps) that decisions gone the other way may excuse: beyond
// it, too little was compared to call the run a comparison.
constexpr double kMaxExcused = 0.25;
const char* const kPython = "/usr/bin/python3";

// LeNet-5 in its modern form, for checkouts whose nets/ lacks the preset.
const char* const kLenet5 = R"({"input": [1, 28, 28], "loss": "softmax_cross_entropy", "layers": [
  {"type": "conv2d", "filters": 6, "kernel": 5, "padding": "same"}, {"type": "relu"},
  {"type": "maxpool2d", "kernel": 2},
  {"type": "conv2d", "filters": 16, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
  {"type": "dense", "units": 120}, {"type": "relu"}, {"type": "dense", "units": 84}, {"type": "relu"},
  {"type": "dense", "units": 10}]})";

// Leaky ReLU (a slope other than the default) and L2 pooling, which no preset uses.
const char* const kLeakyL2 = R"({"input": [1, 28, 28], "loss": "softmax_cross_entropy", "layers": [
  {"type": "conv2d", "filters": 6, "kernel": 5}, {"type": "leaky_relu", "alpha": 0.2},
  {"type": "l2pool2d", "kernel": 2}, {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same"},
  {"type": "tanh"}, {"type": "l2pool2d", "kernel": 3, "stride": 2}, {"type": "dense", "units": 10}]})";

struct Run {
  std::string net;
  int train_steps, eval_steps, batch;
  double eval_lr;
  bool own_run_compared;   // whether our own untouched run must end within the tolerance of PyTorch's
  bool float64_reference;  // whether PyTorch also computes every step's gradient in float64
};

Network parity_net(const std::string& name) {
  const auto presets = preset_names();
  if (std::find(presets.begin(), presets.end(), name) != presets.end()) return load_network(name);
  if (name == "lenet5") return network_from_text(kLenet5, "lenet5 (inline)");
  if (name == "leaky-l2pool") return network_from_text(kLeakyL2, "leaky-l2pool (inline)");
  throw Error("no network " + name);
}

template <class T>
void write_raw(const fs::path& p, const T* data, std::size_t n) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data), std::streamsize(n * sizeof(T)));
  if (!f) throw Error(p.string() + ": cannot write");
}
template <class T>
std::vector<T> read_raw(const fs::path& p, std::size_t n) {
  std::vector<T> v(n);
  std::ifstream f(p, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(T)));
  if (!f || f.gcount() != std::streamsize(n * sizeof(T))) throw Error(p.string() + ": short or missing");
  return v;
}

bool torch_available() {
  static const bool ok = fs::exists(kPython) &&
                         std::system((std::string(kPython) + " -c 'import torch, numpy' >/dev/null 2>&1").c_str()) == 0;
  return ok;
}

// The largest relative difference of one kind of tensor, and which tensor it was.
struct Largest {
  double value = 0;
  std::string where;
  void add(double d, const std::string& what) {
    if (d > value) value = d, where = what;
  }
  std::string str() const {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", value);
    return where.empty() ? b : std::string(b) + " (" + where + ")";
  }
};

struct Phase {  // the teacher-forced steps of one mode
  int steps = 0;
  Largest loss, logits, weight, buffer;
  Largest buffer_change;  // what the step changed in the buffers (the running statistics' update)
  Largest grad;           // against PyTorch's float32 gradient
  Largest grad_exact;     // against its float64 one (float64_reference)
  Largest grad_agreed;    // per tensor the nearer of the two: what must be within the tolerance
  Largest rounding;       // PyTorch's float32 gradient against its float64 one
};

struct Worst {
  Phase train, eval;
  Largest trained_logits;          // the first eval-mode step: the trained nets on new pictures
  Largest own_weight, own_buffer;  // our own untouched run against PyTorch's
  int skipped = 0;                 // steps where decisions excused some coordinates
  std::size_t excused = 0;         // the coordinates they excused, over all steps
  std::size_t coordinates = 0;     // the gradient coordinates of all steps
  std::size_t flips = 0;           // ReLU decisions that went the other way, over all steps
  bool own_compared = false;       // whether our own untouched run is held to the tolerance
};

// Largest |a − b| / max|b| of one tensor; infinite where either holds a NaN or an infinity. Elements where `skip`
// (when given) is set count in the scale, not in the difference.
double scaled_diff(const float* a, const float* b, std::size_t n, const char* skip = nullptr) {
  double d = 0, scale = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return HUGE_VAL;
    if (!skip || !skip[i]) d = std::max(d, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return scale > 0 ? d / scale : d;
}

// The same for what a step changed: largest |(a − start) − (b − start)| / max|b − start|, so that a small
// update of a large value is judged by itself.
double scaled_change_diff(const float* a, const float* b, const float* start, std::size_t n) {
  double d = 0, scale = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return HUGE_VAL;
    d = std::max(d, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i]) - double(start[i])));
  }
  return scale > 0 ? d / scale : d;
}

// A decision (let the gradient through or not, which input of a window takes it) of layer `layer`, a ReLU or a max
// pooling, about a unit of channel `channel` of its input, that may have gone the other way in PyTorch's pass.
struct Decision {
  std::size_t layer;
  int channel;
  bool operator<(const Decision& o) const { return std::tie(layer, channel) < std::tie(o.layer, o.channel); }
};

// How many of the ReLUs' decisions (let the gradient through or not) of the last forward pass went the other way
// in PyTorch's: `torch_bits` holds, per ReLU layer in order, its input's bits x > 0 (numpy.packbits, each layer
// starting on a new byte); ours lets the gradient through where x ≥ 0. Advances `torch_bits` past this pass; adds
// each flip's layer and channel to `where`.
std::size_t relu_flips(const Network& net, const Tensor& input, const std::uint8_t*& torch_bits,
                       std::set<Decision>& where) {
  std::size_t flips = 0;
  for (std::size_t i = 0; i < net.size(); ++i) {
    if (net.layer(i).kind() != "relu") continue;
    const int from = net.layer_inputs(i)[0];
    const Tensor& in = from == Network::kInput ? input : net.activation(std::size_t(from));
    const std::size_t plane = std::size_t(in.shape().h) * in.shape().w;
    for (std::size_t k = 0; k < in.size(); ++k)
      if ((in[k] >= 0.0f) != bool(torch_bits[k / 8] & (0x80u >> (k % 8)))) {
        ++flips;
        where.insert({i, int(k / plane % std::size_t(in.shape().c))});
      }
    torch_bits += (in.size() + 7) / 8;
  }
  return flips;
}

// The max-pooling windows of the last forward pass (of `input`, keeping every activation) whose two largest inputs
// are within `tol` of each other (relative to the tensor's scale), which may route the gradient to the other.
std::set<Decision> pooling_ties(const Network& net, const Tensor& input, double tol = 1e-6) {
  std::set<Decision> ties;
  for (std::size_t i = 0; i < net.size(); ++i) {
    auto* p = dynamic_cast<const MaxPool2D*>(&net.layer(i));
    if (!p) continue;
    const int from = net.layer_inputs(i)[0];
    const Tensor& in = from == Network::kInput ? input : net.activation(std::size_t(from));
    double scale = 0;
    for (std::size_t k = 0; k < in.size(); ++k) scale = std::max(scale, std::fabs(double(in[k])));
    const Shape s = in.shape();
    const int k = p->window().kh, st = p->window().sh;  // the parity nets pool square windows
    for (int m = 0; m < s.n * s.c; ++m)
      for (int y = 0; y + k <= s.h; y += st)
        for (int x = 0; x + k <= s.w; x += st) {
          double a = -HUGE_VAL, b = -HUGE_VAL;  // largest and second largest
          for (int u = 0; u < k; ++u)
            for (int v = 0; v < k; ++v) {
              const double e = in[std::size_t(m) * s.h * s.w + std::size_t(y + u) * s.w + std::size_t(x + v)];
              if (e > a)
                b = a, a = e;
              else if (e > b)
                b = e;
            }
          if (a > 0 && a != b && a - b < tol * scale) ties.insert({i, m % s.c});
        }
  }
  return ties;
}

// The parameters whose gradient a decision about channel c of the output of layer j can change beyond rounding:
// those that make that channel (filter c of a convolution, unit c of a dense layer, and on the way there batch
// normalisation's or subsampling's per-channel parameters of c, through element-wise and pooling layers and both
// branches of a residual add), and every parameter of the layers before those, which the changed gradient reaches.
// The layers after the decision see the same forward values (its two sides are within ~1e-7), so their gradients,
// and every other filter's, are still compared: a decision excuses the coordinates it touches, not the step.
void mark_touched(Network& net, int j, int c, std::vector<char>& touched) {
  if (j == Network::kInput) return;
  Layer& l = net.layer(std::size_t(j));
  const auto mark_before = [&] {
    std::vector<int> todo = net.layer_inputs(std::size_t(j));
    std::set<int> seen;
    while (!todo.empty()) {
      const int u = todo.back();
      todo.pop_back();
      if (u == Network::kInput || !seen.insert(u).second) continue;
      std::fill_n(touched.begin() + std::ptrdiff_t(net.param_offset(std::size_t(u))), net.param_count(std::size_t(u)),
                  char(1));
      for (int v : net.layer_inputs(std::size_t(u))) todo.push_back(v);
    }
  };
  const auto at = [&](const ParamView& v) { return std::size_t(v.value.data() - net.params().data()); };
  const int C = l.output_shape().c;
  const std::vector<ParamView> views = l.params();
  if (auto* conv = dynamic_cast<Conv2D*>(&l)) {
    for (const ParamView& v : views) {
      const std::size_t per = v.value.size() / std::size_t(conv->out_channels());
      std::fill_n(touched.begin() + std::ptrdiff_t(at(v) + std::size_t(c) * per), per, char(1));
    }
    return mark_before();
  }
  if (auto* d = dynamic_cast<Dense*>(&l)) {
    for (const ParamView& v : views) {
      if (v.name == "weight")  // [inputs][outputs]: column c
        for (int i = 0; i < d->inputs(); ++i) touched[at(v) + std::size_t(i) * std::size_t(d->outputs()) + c] = 1;
      else
        touched[at(v) + std::size_t(c)] = 1;
    }
    return mark_before();
  }
  static const std::set<std::string> elementwise = {"relu",      "leaky_relu", "sigmoid",         "tanh",
                                                    "dropout",   "maxpool2d",  "avgpool2d",       "l2pool2d",
                                                    "normalize", "add",        "global_avgpool2d"};
  const bool per_channel = !views.empty() && std::all_of(views.begin(), views.end(), [&](const ParamView& v) {
    return v.value.size() == std::size_t(C);
  });
  if (per_channel || elementwise.count(l.kind())) {  // channel c of the output is made from channel c of the input
    for (const ParamView& v : views) touched[at(v) + std::size_t(c)] = 1;
    for (int u : net.layer_inputs(std::size_t(j))) mark_touched(net, u, c, touched);
    return;
  }
  std::fill_n(touched.begin() + std::ptrdiff_t(net.param_offset(std::size_t(j))), net.param_count(std::size_t(j)),
              char(1));
  mark_before();  // any other layer mixes channels: all of it, and all before it
}

// A batch of grey 28×28 pictures as the network's input: as they are; for a 3×32×32 input, padded by 2 zero pixels
// all round and turned into the three channels x, 1 − x, x²; for 3×224×224 (AlexNet), the same three channels, each
// pixel an 8×8 block; for book6x6's 1×6×6, the centre 24×24 in 4×4 block means.
Tensor as_input(const Tensor& grey, Shape in) {
  const Shape g = grey.shape();
  if (in.same_sample(g)) return grey;
  Tensor x(in.with_batch(g.n));
  if (g.c == 1 && in.c == 1 && in.h * 4 <= g.h && in.w * 4 <= g.w) {
    const int y0 = (g.h - 4 * in.h) / 2, x0 = (g.w - 4 * in.w) / 2;
    for (int n = 0; n < g.n; ++n)
      for (int y = 0; y < in.h; ++y)
        for (int z = 0; z < in.w; ++z) {
          float sum = 0;
          for (int u = 0; u < 4; ++u)
            for (int v = 0; v < 4; ++v) sum += grey.at(n, 0, y0 + 4 * y + u, x0 + 4 * z + v);
          x.at(n, 0, y, z) = sum / 16;
        }
    return x;
  }
  const int pad = in.h == g.h + 4 && in.w == g.w + 4 ? 2 : 0, block = in.h == 8 * g.h && in.w == 8 * g.w ? 8 : 1;
  if (!(g.c == 1 && in.c == 3 && (pad || block > 1)))
    throw Error("parity: no way to make " + in.sample_str() + " inputs from " + g.sample_str() + " pictures");
  for (int n = 0; n < g.n; ++n)
    for (int y = 0; y < in.h; ++y)
      for (int z = 0; z < in.w; ++z) {
        const int gy = (y - pad) / block, gz = (z - pad) / block;
        const bool inside = y >= pad && z >= pad && gy < g.h && gz < g.w;
        const float v = inside ? grey.at(n, 0, gy, gz) : 0.0f;
        x.at(n, 0, y, z) = v;
        x.at(n, 1, y, z) = 1.0f - v;
        x.at(n, 2, y, z) = v * v;
      }
  return x;
}

// What PyTorch needs to rebuild the net: per layer its type, the layers it reads and its options; where each
// parameter and buffer lives in our flat buffers.
nlohmann::json manifest(Network& net, const Run& run) {
  const Shape in = net.input_shape();
  const int steps = run.train_steps + run.eval_steps;
  nlohmann::json man;
  man["input"] = {in.c, in.h, in.w};
  man["steps"] = steps;
  man["batch"] = run.batch;
  man["lr"] = kLr;
  man["eval_lr"] = run.eval_lr;
  man["float64_reference"] = run.float64_reference;
  man["param_count"] = net.params().size();
  man["buffer_count"] = net.buffers().size();
  man["outputs"] = net.output_shape().sample_size();
  man["modes"] = nlohmann::json::array();
  for (int s = 0; s < steps; ++s) man["modes"].push_back(s < run.train_steps ? "train" : "eval");
  man["loss"] = net.loss().kind();
  man["layers"] = nlohmann::json::array();
  man["params"] = nlohmann::json::array();
  std::size_t mask_floats = 0;  // per step, of every dropout layer's mask
  man["buffers"] = nlohmann::json::array();
  for (std::size_t i = 0; i < net.size(); ++i) {
    Layer& l = net.layer(i);
    nlohmann::json j = l.spec();
    j["type"] = l.kind();
    j["inputs"] = net.layer_inputs(i);
    if (auto* c = dynamic_cast<Conv2D*>(&l)) {
      j["kernel"] = {c->kernel_h(), c->kernel_w()};
      j["stride"] = c->stride();
      j["in_channels"] = l.input_shape().c;
      j["pads"] = {c->pad_top(), c->pad_left(), c->pad_bottom(), c->pad_right()};
      j["bias"] = c->has_bias();
    }
    if (auto* d = dynamic_cast<Dense*>(&l)) j["in_features"] = d->inputs();
    if (auto* p = dynamic_cast<Pool2D*>(&l)) {
      j["kernel"] = p->window().kh;
      j["stride"] = p->window().sh;
    }
    if (auto* b = dynamic_cast<BatchNorm2D*>(&l)) {
      j["channels"] = b->channels();
      j["momentum"] = b->momentum();
      j["eps"] = b->eps();
      const auto at = [&](const Tensor& t) { return std::size_t(t.data() - net.buffers().data()); };
      man["buffers"].push_back(
          {{"layer", i}, {"name", "running_mean"}, {"offset", at(b->running_mean())}, {"size", b->channels()}});
      man["buffers"].push_back(
          {{"layer", i}, {"name", "running_var"}, {"offset", at(b->running_var())}, {"size", b->channels()}});
    }
    if (auto* ss = dynamic_cast<Subsampling*>(&l)) {
      j["channels"] = l.input_shape().c;
      j["kernel"] = ss->kernel();
      j["stride"] = ss->stride();
    }
    if (l.kind() == "dropout") {
      const std::size_t size = std::size_t(run.batch) * l.input_shape().sample_size();
      j["mask_offset"] = mask_floats;
      j["mask_size"] = size;
      mask_floats += size;
    }
    if (auto* nz = dynamic_cast<Normalize*>(&l)) {
      j["channels"] = nz->channels();
      const std::size_t at = net.buffer_offset(i);
      man["buffers"].push_back({{"layer", i}, {"name", "mean"}, {"offset", at}, {"size", nz->channels()}});
      man["buffers"].push_back(
          {{"layer", i}, {"name", "std"}, {"offset", at + std::size_t(nz->channels())}, {"size", nz->channels()}});
    }
    man["layers"].push_back(j);
    man["mask_floats"] = mask_floats;
    for (ParamView& v : l.params()) {
      const Shape s = v.value.shape();
      std::vector<int> shape;
      if (l.kind() == "conv2d" && v.name == "weight")
        shape = {s.n, s.c, s.h, s.w};
      else if (auto* d = dynamic_cast<Dense*>(&l); d && v.name == "weight")
        shape = {d->inputs(), d->outputs()};
      else
        shape = {int(v.value.size())};
      man["params"].push_back({{"layer", i},
                               {"name", v.name},
                               {"shape", shape},
                               {"offset", std::size_t(v.value.data() - net.params().data())},
                               {"size", v.value.size()}});
    }
  }
  return man;
}

Worst run_parity(const Run& run) {
  Network net = parity_net(run.net);
  net.init(2024);
  // an input standardisation as `cnn train` sets it from a training set (CIFAR-10's figures, near enough)
  if (auto* nz = dynamic_cast<Normalize*>(&net.layer(0)); nz && !nz->fixed())
    nz->set_statistics({0.491f, 0.482f, 0.447f}, {0.247f, 0.243f, 0.261f});
  const std::size_t P = net.params().size(), R = net.buffers().size(), K = net.output_shape().sample_size();
  const int S = run.train_steps + run.eval_steps, B = run.batch;
  const auto train = [&](int s) { return s < run.train_steps; };
  std::size_t relu_bytes = 0;  // of one step in torch_relu.u8
  for (std::size_t i = 0; i < net.size(); ++i)
    if (net.layer(i).kind() == "relu")
      relu_bytes += (std::size_t(B) * net.layer(i).input_shape().sample_size() + 7) / 8;

  const fs::path dir = fs::temp_directory_path() / ("cnn_parity_" + run.net + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct RemoveDir {  // also when PyTorch's side fails
    fs::path path;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } remove_dir{dir};
  const nlohmann::json man = manifest(net, run);
  std::ofstream(dir / "manifest.json") << man.dump(1);
  write_raw(dir / "params.f32", net.params().data(), P);
  write_raw(dir / "buffers.f32", net.buffers().data(), R);
  // Every dropout layer's mask of every training step, as its forward draws it (a function of its seed, the step
  // and the position), so that PyTorch drops the same units: the layer's output for an input of ones.
  {
    std::vector<float> masks;
    for (int s = 0; s < S; ++s)
      for (std::size_t i = 0; i < net.size(); ++i) {
        Layer& l = net.layer(i);
        if (l.kind() != "dropout") continue;
        Tensor ones(l.input_shape().with_batch(B)), y;
        ones.fill(1.0f);
        l.forward(ones, y, {train(s) ? Mode::train : Mode::eval, std::uint64_t(s)});
        masks.insert(masks.end(), y.data(), y.data() + y.size());
      }
    write_raw(dir / "dropout_masks.f32", masks.data(), masks.size());
  }

  // The same real batches on both sides: the first S·B training images, in order.
  const DataSplit data = load_mnist_folder(default_data_dir());
  std::vector<float> images;
  std::vector<std::int32_t> labels;
  std::vector<Tensor> xs(static_cast<std::size_t>(S));
  std::vector<std::vector<int>> ys(static_cast<std::size_t>(S), std::vector<int>(static_cast<std::size_t>(B)));
  for (int s = 0; s < S; ++s) {
    std::vector<std::uint32_t> idx(static_cast<std::size_t>(B));
    for (int i = 0; i < B; ++i) idx[std::size_t(i)] = std::uint32_t(s * B + i);
    Tensor grey;
    data.train.batch(idx.data(), B, grey, ys[std::size_t(s)].data());
    Tensor& x = xs[std::size_t(s)] = as_input(grey, net.input_shape());
    for (int& y : ys[std::size_t(s)]) y %= int(K);  // book6x6 tells 3 classes apart
    images.insert(images.end(), x.data(), x.data() + x.size());
    labels.insert(labels.end(), ys[std::size_t(s)].begin(), ys[std::size_t(s)].end());
  }
  write_raw(dir / "images.f32", images.data(), images.size());
  write_raw(dir / "labels.i32", labels.data(), labels.size());

  const std::string cmd = std::string(kPython) + " " + CNN_SOURCE_DIR + "/tests/parity/torch_steps.py " + dir.string() +
                          " 2>" + (dir / "torch_stderr.txt").string();
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream e(dir / "torch_stderr.txt");
    std::stringstream ss;
    ss << e.rdbuf();
    throw Error("torch_steps.py failed (" + std::to_string(rc) + "): " + ss.str());
  }
  const std::size_t SP = std::size_t(S) * P;
  const auto t_losses = read_raw<double>(dir / "torch_losses.f64", std::size_t(S));
  const auto t_logits = read_raw<float>(dir / "torch_logits.f32", std::size_t(S) * B * K);
  const auto t_grads = read_raw<float>(dir / "torch_grads.f32", SP);
  const auto t_grads64 = read_raw<float>(dir / "torch_grads64.f32", run.float64_reference ? SP : 0);
  const auto t_params = read_raw<float>(dir / "torch_params.f32", P);
  const auto t_before = read_raw<float>(dir / "torch_params_before.f32", SP);
  const auto t_buffers = read_raw<float>(dir / "torch_buffers.f32", R);
  const auto t_params64 = read_raw<float>(dir / "torch_params64.f32", run.float64_reference ? P : 0);
  const auto t_buffers64 = read_raw<float>(dir / "torch_buffers64.f32", run.float64_reference ? R : 0);
  const auto t_buffers_before = read_raw<float>(dir / "torch_buffers_before.f32", std::size_t(S) * R);
  const auto t_relu = read_raw<std::uint8_t>(dir / "torch_relu.u8", std::size_t(S) * relu_bytes);
  const std::vector<float> initial(net.params().begin(), net.params().end());
  const std::vector<float> initial_buffers(net.buffers().begin(), net.buffers().end());

  auto name_of = [](const nlohmann::json& e) {
    return "layer " + std::to_string(e["layer"].get<int>()) + " " + e["name"].get<std::string>();
  };
  auto compare = [&](const nlohmann::json& layout, const float* ours, const float* torch, Largest& into,
                     const std::string& at) {
    for (const auto& e : layout) {
      const std::size_t o = e["offset"], n = e["size"];
      into.add(scaled_diff(ours + o, torch + o, n), name_of(e) + (at.empty() ? "" : ", " + at));
    }
  };
  // One step as training does it: forward (train or eval), the loss, backward, the SGD update; returns the loss.
  Optimizer sgd({.lr = kLr}), eval_sgd({.lr = run.eval_lr});
  Tensor dout;
  auto step = [&](int s) {
    const Tensor& x = xs[std::size_t(s)];
    const int* y = ys[std::size_t(s)].data();
    double loss;
    if (train(s)) {
      loss = net.forward_backward(x, y, std::uint64_t(s));
    } else {
      loss = net.loss().compute(net.forward(x, {Mode::eval, std::uint64_t(s)}), y, &dout);
      net.backward(dout);
    }
    (train(s) ? sgd : eval_sgd).step(net);
    return loss;
  };
  // Max-pooling ties are looked for in a pass that keeps every activation (training may skip a ReLU's output), from
  // the parameters and buffers the step started from; a dropout draws the same mask for the same step, so it
  // computes the same ones.
  auto pooling_ties_in = [&](int s) {
    const std::vector<float> after(net.params().begin(), net.params().end());
    const std::vector<float> left(net.buffers().begin(), net.buffers().end());
    std::copy_n(t_before.data() + std::size_t(s) * P, P, net.params().begin());
    std::copy_n(t_buffers_before.data() + std::size_t(s) * R, R, net.buffers().begin());
    net.set_need_input_gradient(true);
    net.forward(xs[std::size_t(s)], {train(s) ? Mode::train : Mode::eval, std::uint64_t(s)});
    std::set<Decision> ties = pooling_ties(net, xs[std::size_t(s)]);
    net.set_need_input_gradient(false);
    std::copy(after.begin(), after.end(), net.params().begin());
    std::copy(left.begin(), left.end(), net.buffers().begin());
    return ties;
  };

  // Teacher forcing: every step starts from PyTorch's parameters and buffers of that step.
  Worst w;
  std::vector<int> excused_steps;  // steps where a ReLU or max-pooling decision went the other way
  std::vector<char> touched;       // the gradient coordinates such a step's decisions touch
  for (int s = 0; s < S; ++s) {
    const std::string at = "step " + std::to_string(s + 1);
    std::copy_n(t_before.data() + std::size_t(s) * P, P, net.params().begin());
    std::copy_n(t_buffers_before.data() + std::size_t(s) * R, R, net.buffers().begin());
    const double loss = step(s);
    Phase& ph = train(s) ? w.train : w.eval;
    ++ph.steps;
    const double dl = std::fabs(loss - t_losses[std::size_t(s)]) / std::fabs(t_losses[std::size_t(s)]);
    ph.loss.add(std::isfinite(dl) ? dl : HUGE_VAL, at);
    const float* logits = t_logits.data() + std::size_t(s) * B * K;
    const double dz = scaled_diff(net.activation(net.size() - 1).data(), logits, std::size_t(B) * K);
    ph.logits.add(dz, at);
    if (s == run.train_steps) w.trained_logits.add(dz, at);
    // the buffers this step leaves are those PyTorch's next step starts from; an eval-mode step leaves them alone
    const bool last = s + 1 == S;
    const float* start = t_buffers_before.data() + std::size_t(s) * R;
    const float* t_left = last ? t_buffers.data() : start + R;
    compare(man["buffers"], net.buffers().data(), t_left, ph.buffer, at);
    for (const auto& e : man["buffers"]) {
      const std::size_t o = e["offset"], n = e["size"];
      ph.buffer_change.add(scaled_change_diff(net.buffers().data() + o, t_left + o, start + o, n),
                           name_of(e) + ", " + at);
    }
    if (!train(s) && !std::equal(start, start + R, net.buffers().begin())) ph.buffer_change.add(HUGE_VAL, at);
    const std::uint8_t* bits = t_relu.data() + std::size_t(s) * relu_bytes;
    std::set<Decision> decisions;
    const std::size_t flips = relu_flips(net, xs[std::size_t(s)], bits, decisions);
    w.flips += flips;
    Largest grad, exact, agreed, rounding;
    // The gradients and the weights the step leaves, but for the coordinates in `skip` (when given).
    const auto compare_step = [&](const char* skip) {
      grad = exact = agreed = rounding = Largest{};
      for (const auto& e : man["params"]) {
        const std::size_t o = std::size_t(s) * P + std::size_t(e["offset"]), n = e["size"];
        const float* ours = net.grads().data() + std::size_t(e["offset"]);
        const char* sk = skip ? skip + std::size_t(e["offset"]) : nullptr;
        const double d = scaled_diff(ours, t_grads.data() + o, n, sk);
        const std::string where = name_of(e) + ", " + at;
        grad.add(d, where);
        if (!run.float64_reference) {
          agreed.add(d, where);
          continue;
        }
        const double d64 = scaled_diff(ours, t_grads64.data() + o, n, sk);
        exact.add(d64, where);
        agreed.add(std::min(d, d64), where);
        rounding.add(scaled_diff(t_grads.data() + o, t_grads64.data() + o, n), where);
      }
    };
    compare_step(nullptr);
    const char* skip = nullptr;
    if (agreed.value > kTolerance) {
      for (const Decision& t : pooling_ties_in(s)) decisions.insert(t);
      if (!decisions.empty()) {  // compared but for the coordinates the decisions touch
        touched.assign(P, 0);
        for (const Decision& d : decisions) mark_touched(net, net.layer_inputs(d.layer)[0], d.channel, touched);
        skip = touched.data();
        compare_step(skip);
        excused_steps.push_back(s + 1);
        w.excused += std::size_t(std::count(touched.begin(), touched.end(), char(1)));
      }
    }
    ph.grad.add(grad.value, grad.where);
    ph.grad_exact.add(exact.value, exact.where);
    ph.grad_agreed.add(agreed.value, agreed.where);
    ph.rounding.add(rounding.value, rounding.where);
    // the weights this step leaves: PyTorch's, or (float64_reference) PyTorch's start less lr times its float64
    // gradient, whichever is nearer
    const float* t_after = last ? t_params.data() : t_before.data() + std::size_t(s + 1) * P;
    const float lr = float(train(s) ? kLr : run.eval_lr);
    std::vector<float> after64(run.float64_reference ? P : 0);
    for (std::size_t k = 0; k < after64.size(); ++k)
      after64[k] = t_before[std::size_t(s) * P + k] - lr * t_grads64[std::size_t(s) * P + k];
    for (const auto& e : man["params"]) {
      const std::size_t o = e["offset"], n = e["size"];
      const char* sk = skip ? skip + o : nullptr;
      double d = scaled_diff(net.params().data() + o, t_after + o, n, sk);
      if (run.float64_reference) d = std::min(d, scaled_diff(net.params().data() + o, after64.data() + o, n, sk));
      ph.weight.add(d, name_of(e) + ", " + at);
    }
  }

  // Our own run, untouched, for the final weights and buffers.
  std::copy(initial.begin(), initial.end(), net.params().begin());
  std::copy(initial_buffers.begin(), initial_buffers.end(), net.buffers().begin());
  for (int s = 0; s < S; ++s) step(s);
  // With float64_reference, the nearer of PyTorch's float32 run and its float64 run, tensor by tensor: the float32
  // run's own rounding (and the ReLU decisions it flips) grows over the steps as ours does.
  auto compare_own = [&](const nlohmann::json& layout, const float* ours, const std::vector<float>& t32,
                         const std::vector<float>& t64, Largest& into) {
    for (const auto& e : layout) {
      const std::size_t o = e["offset"], n = e["size"];
      double d = scaled_diff(ours + o, t32.data() + o, n);
      if (run.float64_reference) d = std::min(d, scaled_diff(ours + o, t64.data() + o, n));
      into.add(d, name_of(e));
    }
  };
  compare_own(man["params"], net.params().data(), t_params, t_params64, w.own_weight);
  compare_own(man["buffers"], net.buffers().data(), t_buffers, t_buffers64, w.own_buffer);

  std::ostringstream skip_stream;  // (not string +: GCC 12's false -Wrestrict)
  for (int s : excused_steps) skip_stream << " " << s;
  const std::string skip_list = skip_stream.str();
  w.skipped = int(excused_steps.size());
  w.coordinates = std::size_t(S) * P;
  const char* name = run.net.c_str();
  for (const Phase* ph : {&w.train, &w.eval}) {
    if (ph->steps == 0) continue;
    std::printf(
        "[ parity ] %-7s vs PyTorch, %d SGD steps in %s mode, largest relative difference: loss %s, logits %s, "
        "gradient %s",
        name, ph->steps, ph == &w.train ? "training" : "eval", ph->loss.str().c_str(), ph->logits.str().c_str(),
        ph->grad.str().c_str());
    if (run.float64_reference)
      std::printf(
          " (against PyTorch's float64 gradient %s; the nearer of the two %s; PyTorch's own float32 "
          "rounding %s)",
          ph->grad_exact.str().c_str(), ph->grad_agreed.str().c_str(), ph->rounding.str().c_str());
    std::printf(", weights after the step %s", ph->weight.str().c_str());
    if (R)
      std::printf(", buffers after the step %s (their change in the step %s)", ph->buffer.str().c_str(),
                  ph->buffer_change.str().c_str());
    std::printf("\n");
  }
  if (run.eval_steps)
    std::printf("[ parity ] %-7s eval-mode logits of the trained nets %s\n", name, w.trained_logits.str().c_str());
  // A step that needed a decision excused took a discrete turn (a ReLU or a max-pooling window that went the other
  // way) that our own run may take too, at its own state: from there the two runs part by far more than rounding,
  // so the untouched run is held to the tolerance only when every step agreed without an excuse.
  w.own_compared = run.own_run_compared && excused_steps.empty();
  std::printf("[ parity ] %-7s our own untouched %d steps%s: final weights %s", name, S,
              w.own_compared         ? ""
              : run.own_run_compared ? " (printed, not compared: steps took decisions that went the other way)"
                                     : " (printed, not compared)",
              w.own_weight.str().c_str());
  if (R) std::printf(", final buffers %s", w.own_buffer.str().c_str());
  std::printf(
      "\n[ parity ] %-7s ReLU decisions that went the other way: %zu; steps whose gradients and weights were "
      "compared but for the %zu coordinates (of %zu a step) such a decision or a max-pooling tie touched:%s\n",
      name, w.flips, w.excused, P, skip_list.empty() ? " none" : skip_list.c_str());
  return w;
}

void expect_parity(const Run& run) {
  ASSERT_TRUE(torch_available()) << kPython << " cannot import torch: run scripts/setup.sh (it installs python3-torch)";
  ASSERT_TRUE(fs::exists(default_data_dir())) << "Fashion-MNIST is not installed: run scripts/setup.sh";
  const Worst w = run_parity(run);
  EXPECT_EQ(w.train.steps, run.train_steps);
  EXPECT_EQ(w.eval.steps, run.eval_steps);
  for (const Phase* ph : {&w.train, &w.eval}) {
    EXPECT_LE(ph->loss.value, kTolerance) << ph->loss.where;
    EXPECT_LE(ph->logits.value, kTolerance) << ph->logits.where;
    EXPECT_LE(ph->grad_agreed.value, kTolerance) << ph->grad_agreed.where;
    EXPECT_LE(ph->weight.value, kTolerance) << ph->weight.where;
    EXPECT_LE(ph->buffer.value, kTolerance) << ph->buffer.where;
    EXPECT_LE(ph->buffer_change.value, kTolerance) << ph->buffer_change.where;
  }
  EXPECT_LE(w.trained_logits.value, kTolerance) << w.trained_logits.where;
  if (w.own_compared) {
    EXPECT_LE(w.own_weight.value, kTolerance) << w.own_weight.where;
    EXPECT_LE(w.own_buffer.value, kTolerance) << w.own_buffer.where;
  }
  EXPECT_LE(double(w.excused), kMaxExcused * double(w.coordinates))
      << "decisions that went the other way excused too many coordinates to call this a comparison";
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, TwentySgdStepsMatchPyTorch) { expect_parity({GetParam(), 20, 0, 50, kLr, true, false}); }

INSTANTIATE_TEST_SUITE_P(Nets, Parity, ::testing::Values("seed5", "lenet5"),
                         [](const auto& param_info) { return param_info.param; });

// The other presets, a few steps each: sigmoid and average pooling (lenet5-classic), tanh, subsampling and the
// squared error (seed002), dropout with the mask cnn draws (alexnet-small, and alexnet-cifar on 3×32×32 inputs
// after its input standardisation, batch 20), the seeds' 6×6 book example (sigmoid outputs, squared error over 3
// classes); and a net of leaky ReLU and L2 pooling. alexnet-cifar's gradients are also computed by PyTorch in float64,
// and its whole run: its float32 run has ReLU decisions of its own. Its max-pooling windows hold near-ties that route
// a step's gradient to another pixel (excused in that step): a run with such a step is printed, not compared.
class PresetParity : public ::testing::TestWithParam<std::string> {};
TEST_P(PresetParity, FiveSgdStepsMatchPyTorch) {
  const bool dropout = GetParam().rfind("alexnet", 0) == 0, deep = GetParam() == "alexnet-cifar";
  expect_parity({GetParam(), 5, 0, dropout ? 20 : 50, kLr, true, deep});
}
INSTANTIATE_TEST_SUITE_P(Nets, PresetParity,
                         ::testing::Values("lenet5-classic", "seed002", "alexnet-small", "alexnet-cifar", "book6x6",
                                           "leaky-l2pool"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// ~1.2 million ReLU decisions a step: a few of the 25 steps may have one go the other way.
TEST(ParityBatchNorm, ResNet8TrainingThenEvalStepsMatchPyTorch) {
  expect_parity({"resnet8", 20, 5, 16, 0.01, false, true});
}

// resnet20 (three stages of three blocks, after its input standardisation): fewer steps, the same checks.
TEST(ParityBatchNorm, ResNet20TrainingThenEvalStepsMatchPyTorch) {
  expect_parity({"resnet20", 5, 2, 16, 0.01, false, true});
}

// The seeds' AlexNet on 3×224×224 inputs (58 million parameters): one step of two pictures (several would hold
// several copies of every parameter and gradient on both sides: memory a small CI machine may lack).
TEST(AlexNetParity, OneSgdStepMatchesPyTorch) { expect_parity({"alexnet", 1, 0, 2, kLr, true, false}); }

}  // namespace
}  // namespace cnn
