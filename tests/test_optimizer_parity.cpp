// Every optimizer option and schedule against PyTorch (Debian's python3-torch, run as /usr/bin/python3
// tests/parity/torch_optim.py): the same parameters and the same gradients, step after step, into cnn's Optimizer
// and into torch.optim (SGD with momentum, Nesterov, weight decay; Adam with and without weight decay; a layer's
// own rate as a parameter group) with torch.optim.lr_scheduler (StepLR, ExponentialLR, CosineAnnealingLR per epoch,
// OneCycleLR per batch; the linear warm-up, cnn's own, on top). Every step's parameters must agree, judged by what
// the steps changed (max|ours − torch| over max|torch − start|), and so must every step's rate. And the two losses,
// with and without label smoothing, against torch.nn's on the same logits, computed in float64 there.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cnn/cnn.h"
#include "helpers.h"

namespace cnn {
namespace {

namespace fs = std::filesystem;

const char* const kPython = "/usr/bin/python3";

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

struct Case {
  std::string name;
  OptimizerOptions options;
  std::string schedule;
  double own_lr = 0.0;  // > 0: layer 0's own rate
};

// Two layers with parameters (two parameter groups in PyTorch).
Network small_net(double own_lr) {
  Network net({1, 2, 5, 5});
  net.add<Conv2D>(3, 3).add<Dense>(4);
  net.init(7);
  if (own_lr > 0) net.layer(0).learning_rate = own_lr;
  return net;
}

nlohmann::json schedule_json(const LrSchedule& s) {
  const char* kinds[] = {"constant", "step", "exponential", "cosine", "onecycle"};
  return {{"kind", kinds[int(s.kind)]},
          {"gamma", s.gamma},
          {"epochs", s.step_epochs},
          {"pct", s.pct},
          {"warmup", s.warmup}};
}

TEST(OptimizerParity, EveryOptionAndScheduleMatchesTorchOptim) {
  ASSERT_TRUE(fs::exists(kPython) &&
              std::system((std::string(kPython) + " -c 'import torch, numpy' >/dev/null 2>&1").c_str()) == 0)
      << kPython << " cannot import torch: run scripts/setup.sh (it installs python3-torch)";
  constexpr int kBatches = 3, kSteps = 12;  // four epochs of three batches
  const OptimizerOptions sgd{.kind = "sgd", .lr = 0.1};
  OptimizerOptions momentum = sgd, nesterov = sgd, decay = sgd, recipe = sgd, adam = sgd, adam_decay;
  momentum.momentum = 0.9;
  nesterov.momentum = 0.9, nesterov.nesterov = true;
  decay.weight_decay = 0.01;
  recipe.momentum = 0.9, recipe.nesterov = true, recipe.weight_decay = 5e-4;  // the ResNet presets' recipe
  adam.kind = "adam", adam.lr = 0.01;
  adam_decay = adam;
  adam_decay.weight_decay = 0.01, adam_decay.beta1 = 0.8, adam_decay.beta2 = 0.99, adam_decay.eps = 1e-6;
  const std::vector<Case> cases = {
      {"sgd", sgd, "none"},
      {"momentum", momentum, "none"},
      {"nesterov", nesterov, "none"},
      {"weight_decay", decay, "none"},
      {"nesterov_decay", recipe, "none"},
      {"adam", adam, "none"},
      {"adam_decay_betas", adam_decay, "none"},
      {"own_layer_rate", momentum, "none", 0.03},
      {"step", momentum, "step:2:0.5"},
      {"exp", momentum, "exp:0.8"},
      {"cos", nesterov, "cos:4"},  // (past E epochs cnn stays at 0, CosineAnnealingLR rises again)
      {"onecycle", recipe, "onecycle:4"},
      {"onecycle_pct", adam, "onecycle:4:0.25"},
      {"warmup_cos", momentum, "warmup:1.5,cos:4"},
      {"warmup", adam, "warmup:1"},
  };

  const fs::path dir = fs::temp_directory_path() / ("cnn_optim_parity_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct RemoveDir {
    fs::path path;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } remove_dir{dir};

  const std::vector<float> start = small_net(0).params();
  const std::size_t P = start.size();
  write_raw(dir / "params.f32", start.data(), P);
  nlohmann::json man;
  man["params"] = P;
  man["cases"] = nlohmann::json::array();
  struct Ours {
    std::vector<float> after;  // kSteps·P
    std::vector<double> lr;    // layer 0's rate at each step
  };
  std::vector<Ours> ours;
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Case& k = cases[c];
    OptimizerOptions o = k.options;
    o.schedule = parse_schedule(k.schedule);
    Network net = small_net(k.own_lr);
    ASSERT_EQ(net.params(), start);
    std::vector<float> grads(std::size_t(kSteps) * P);
    Rng rng(100 + c);
    for (float& g : grads) g = rng.uniform(-0.5f, 0.5f);
    write_raw(dir / ("grads_" + k.name + ".f32"), grads.data(), grads.size());
    nlohmann::json groups = nlohmann::json::array();
    for (std::size_t l = 0; l < net.size(); ++l)
      if (net.param_count(l))
        groups.push_back({{"offset", net.param_offset(l)},
                          {"size", net.param_count(l)},
                          {"lr", net.layer(l).learning_rate.value_or(o.lr)}});
    man["cases"].push_back({{"name", k.name},
                            {"steps", kSteps},
                            {"batches", kBatches},
                            {"optimizer",
                             {{"kind", o.kind},
                              {"lr", o.lr},
                              {"momentum", o.momentum},
                              {"nesterov", o.nesterov},
                              {"weight_decay", o.weight_decay},
                              {"beta1", o.beta1},
                              {"beta2", o.beta2},
                              {"eps", o.eps}}},
                            {"schedule", schedule_json(o.schedule)},
                            {"groups", groups}});
    Optimizer opt(o);
    Ours r;
    for (int t = 0; t < kSteps; ++t) {
      opt.set_position(t / kBatches, std::size_t(t % kBatches), kBatches);
      r.lr.push_back(opt.layer_lr(net, 0));
      std::copy_n(grads.data() + std::size_t(t) * P, P, net.grads().begin());
      opt.step(net);
      r.after.insert(r.after.end(), net.params().begin(), net.params().end());
    }
    ours.push_back(std::move(r));
  }

  // the losses: 6 samples of 10 logits
  struct LossCase {
    std::string name, kind;
    float smoothing;
  };
  const std::vector<LossCase> losses = {{"cross_entropy", "softmax_cross_entropy", 0.0f},
                                        {"smoothing_0.1", "softmax_cross_entropy", 0.1f},
                                        {"smoothing_0.4", "softmax_cross_entropy", 0.4f},
                                        {"squared_error", "squared_error", 0.0f}};
  const Tensor z = test::random_tensor({6, 10, 1, 1}, 55, -3.0f, 3.0f);
  const std::vector<std::int32_t> labels = {3, 0, 9, 3, 7, 1};
  man["losses"] = nlohmann::json::array();
  for (const LossCase& l : losses) {
    write_raw(dir / ("logits_" + l.name + ".f32"), z.data(), z.size());
    write_raw(dir / ("labels_" + l.name + ".i32"), labels.data(), labels.size());
    man["losses"].push_back({{"name", l.name}, {"kind", l.kind}, {"smoothing", l.smoothing}, {"n", 6}, {"k", 10}});
  }
  std::ofstream(dir / "manifest.json") << man.dump(1);

  const std::string cmd = std::string(kPython) + " " + CNN_SOURCE_DIR + "/tests/parity/torch_optim.py " + dir.string() +
                          " 2>" + (dir / "stderr.txt").string();
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream e(dir / "stderr.txt");
    std::stringstream ss;
    ss << e.rdbuf();
    FAIL() << "torch_optim.py failed: " << ss.str();
  }

  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Case& k = cases[c];
    const auto torch = read_raw<float>(dir / ("torch_params_" + k.name + ".f32"), std::size_t(kSteps) * P);
    const auto torch_lr = read_raw<double>(dir / ("torch_lr_" + k.name + ".f64"), kSteps);
    // Each step's parameters within 1e-5 of what the steps changed (the scale of the update), plus four float
    // roundings of the parameter itself: an update smaller than a parameter's last bits (Adam's first steps at a
    // twenty-fifth of the rate) cannot agree more closely than float holds the parameter.
    double worst = 0, worst_rel = 0, worst_lr = 0;
    int worst_step = 0;
    for (int t = 0; t < kSteps; ++t) {
      double scale = 0;
      for (std::size_t i = 0; i < P; ++i)
        scale = std::max(scale, std::fabs(double(torch[std::size_t(t) * P + i]) - start[i]));
      ASSERT_GT(scale, 0.0) << k.name << ": step " << t + 1 << " moved nothing";
      for (std::size_t i = 0; i < P; ++i) {
        const float a = ours[c].after[std::size_t(t) * P + i], b = torch[std::size_t(t) * P + i];
        const double d = std::isfinite(a) ? std::fabs(double(a) - b) : HUGE_VAL;
        const double allowed = 1e-5 * scale + 4.0 * std::ldexp(std::fabs(double(b)), -23);
        if (d / allowed > worst) worst = d / allowed, worst_step = t + 1;
        worst_rel = std::max(worst_rel, d / scale);
      }
      worst_lr = std::max(worst_lr, std::fabs(ours[c].lr[std::size_t(t)] - torch_lr[std::size_t(t)]) /
                                        std::max(torch_lr[std::size_t(t)], 1e-12));
    }
    std::printf(
        "[ parity ] optimizer %-16s (%s) vs torch.optim, %d steps: parameters %.2e of the update (%.2f of "
        "the allowed, step %d), rate %.1e\n",
        k.name.c_str(), k.schedule.c_str(), kSteps, worst_rel, worst, worst_step, worst_lr);
    EXPECT_LE(worst, 1.0) << k.name << " step " << worst_step;
    EXPECT_LE(worst_lr, 1e-12) << k.name;
  }
  for (const LossCase& l : losses) {
    auto loss = make_loss(l.kind);
    loss->set_label_smoothing(l.smoothing);
    Tensor d;
    std::vector<int> y(labels.begin(), labels.end());
    const double value = loss->compute(z, y.data(), &d);
    const double t_value = read_raw<double>(dir / ("torch_loss_" + l.name + ".f64"), 1)[0];
    const auto t_d = read_raw<float>(dir / ("torch_dlogits_" + l.name + ".f32"), z.size());
    double dd = 0, scale = 0;
    for (std::size_t i = 0; i < z.size(); ++i)
      dd = std::max(dd, std::fabs(double(d[i]) - t_d[i])), scale = std::max(scale, std::fabs(double(t_d[i])));
    std::printf("[ parity ] loss %-22s vs torch.nn: loss %.2e, gradient %.2e\n", l.name.c_str(),
                std::fabs(value - t_value) / t_value, dd / scale);
    EXPECT_LE(std::fabs(value - t_value), 1e-6 * t_value) << l.name;
    EXPECT_LE(dd, 1e-6 * scale) << l.name;
  }
}

}  // namespace
}  // namespace cnn
