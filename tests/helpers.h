// Small helpers shared by the tests: random tensors, comparisons, and a gradient checker that knows about kinks.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "cnn/cnn.h"
#include "cnn/layers/batchnorm.h"
#include "cnn/layers/merge.h"
#include "kernels/isa.h"

namespace cnn::kernels {
// gtest's name for a parameter (else "4-byte object <01-00 00-00>")
inline void PrintTo(Isa isa, std::ostream* os) { *os << isa_name(isa); }
}  // namespace cnn::kernels

namespace cnn::test {

// Every instruction set this CPU runs, portable first: the fast-path tests go through each, so that one machine
// checks the AVX2 kernels as well as the AVX-512 ones against the reference.
inline std::vector<kernels::Isa> isas() {
  std::vector<kernels::Isa> all;
  for (kernels::Isa i : {kernels::Isa::portable, kernels::Isa::avx2, kernels::Isa::avx512, kernels::Isa::avx512_16})
    if (kernels::isa_supported(i)) all.push_back(i);
  return all;
}

// Test names for parameters (instruction set, thread count): "avx2_3threads".
inline std::string isa_and_threads(const ::testing::TestParamInfo<std::tuple<kernels::Isa, int>>& p) {
  return std::string(kernels::isa_name(std::get<0>(p.param))) + "_" + std::to_string(std::get<1>(p.param)) + "threads";
}

// Sets the thread count and the instruction set for a test, and puts back 1 thread and the set chosen at start
// when it ends, even when it fails.
struct FastPathSettings {
  FastPathSettings(int threads, kernels::Isa isa) {
    set_threads(threads);
    kernels::set_isa(isa);
  }
  ~FastPathSettings() {
    set_threads(1);
    kernels::set_simd_enabled(true);
  }
};

inline Tensor random_tensor(Shape s, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(s);
  Rng rng(seed);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

// Values in random order, every two at least `gap` apart and at least gap/2 away from zero: no ReLU sits on its
// kink and no pooling window holds a tie, so a small finite-difference step never crosses a kink.
inline Tensor spaced_tensor(Shape s, std::uint64_t seed, float gap = 0.01f) {
  Tensor t(s);
  std::vector<float> v(t.size());
  const float half = float(v.size()) / 2.0f;
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = (float(i) - half + 0.5f) * gap;
  Rng rng(seed);
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
  for (std::size_t i = 0; i < v.size(); ++i) t[i] = v[i];
  return t;
}

inline double max_abs(const float* a, std::size_t n) {
  double m = 0.0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i])));
  return m;
}

// Largest |a − b| / max(|a|, |b|, floor) over two arrays.
inline double max_rel_diff(const float* a, const float* b, std::size_t n, double floor = 1e-3) {
  double m = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - b[i]);
    m = std::max(m, d / std::max({std::fabs(double(a[i])), std::fabs(double(b[i])), floor}));
  }
  return m;
}

// Elementwise |got − want| ≤ rel·max(|got|, |want|, max|want|): relative to the tensor's own scale, so a value
// that is a near-cancellation of large terms is not held to more digits than float has.
inline void expect_close(const Tensor& got, const Tensor& want, double rel, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what << ": " << got.shape().str() << " vs " << want.shape().str();
  const double d = max_rel_diff(got.data(), want.data(), got.size(), std::max(1e-6, max_abs(want.data(), want.size())));
  EXPECT_LE(d, rel) << what;
}

struct GradCheck {
  double max_rel_error = 0.0;  // over every checked coordinate
  std::size_t checked = 0, skipped = 0;
  double max_abs_analytic = 0.0;  // must be > 0: a check of all-zero gradients proves nothing
};

// Central differences of objective() at every (n / max_coords)-th coordinate of v against `analytic` (times
// analytic_scale: a checker must fail a gradient scaled by 1 + 10·tolerance, or its tolerance proves nothing), into
// g; a coordinate whose ± step changes pattern() (it crosses a kink) is skipped and counted, as Caffe's checker does.
template <class Objective, class Pattern>
void central_differences(GradCheck& g, Objective& objective, Pattern& pattern, float* v, std::size_t n,
                         const float* analytic, double h, std::size_t max_coords, double analytic_scale = 1.0) {
  const std::size_t step = std::max<std::size_t>(1, n / max_coords);
  for (std::size_t i = 0; i < n; i += step) {
    const float old = v[i];
    v[i] = float(old + h);
    const double up = v[i];  // the steps as float holds them: old ± h rounded
    const double fp = objective();
    const auto pp = pattern();
    v[i] = float(old - h);
    const double down = v[i];
    const double fm = objective();
    const auto pm = pattern();
    v[i] = old;
    if (pp != pm) {
      ++g.skipped;
      continue;
    }
    const double numeric = (fp - fm) / (up - down);
    const double a = analytic_scale * analytic[i];
    g.max_abs_analytic = std::max(g.max_abs_analytic, std::fabs(a));
    g.max_rel_error =
        std::max(g.max_rel_error, std::fabs(a - numeric) / std::max({std::fabs(a), std::fabs(numeric), 1e-2}));
    ++g.checked;
  }
}

// Central differences of the scalar objective f(x, θ) = Σ r ⊙ net(x) (r fixed and random), accumulated in
// double, against the analytic gradients from backward(r). Every input and parameter coordinate is checked
// (up to `max_coords` of each, evenly spread). A coordinate whose ± step changes the net's kink pattern (the
// sign of a ReLU input, a max-pool argmax) is skipped and counted, as Caffe's checker does.
inline GradCheck check_gradients(Network& net, Tensor x, std::uint64_t seed, double h = 1e-3,
                                 std::size_t max_coords = 400, double analytic_scale = 1.0) {
  net.set_need_input_gradient(true);
  const Context ctx{Mode::eval, 0};
  const Tensor& out0 = net.forward(x, ctx);
  const Tensor r = random_tensor(out0.shape(), seed ^ 0xabcdef);
  net.backward(r);
  const Tensor dx = net.input_gradient(0);
  const std::vector<float> dparams = net.grads();

  auto pattern = [&]() {
    std::vector<std::uint32_t> p;
    for (std::size_t i = 0; i < net.size(); ++i) {
      const Layer& l = net.layer(i);
      if (l.kind() == "relu" || l.kind() == "leaky_relu") {
        const Tensor& in = i == 0 ? x : net.activation(i - 1);
        for (std::size_t k = 0; k < in.size(); ++k) p.push_back(in[k] >= 0.0f);
      } else if (const auto* mp = dynamic_cast<const MaxPool2D*>(&l)) {
        p.insert(p.end(), mp->argmax().begin(), mp->argmax().end());
      }
    }
    return p;
  };
  auto objective = [&]() {
    const Tensor& out = net.forward(x, ctx);
    double s = 0.0;
    for (std::size_t i = 0; i < out.size(); ++i) s += double(out[i]) * r[i];
    return s;
  };

  GradCheck g;
  auto check = [&](float* v, std::size_t n, const float* analytic) {
    central_differences(g, objective, pattern, v, n, analytic, h, max_coords, analytic_scale);
  };
  check(x.data(), x.size(), dx.data());
  check(net.params().data(), net.params().size(), dparams.data());
  return g;
}

// Sets the library's thread count for one scope and puts the previous one back.
struct ThreadCount {
  explicit ThreadCount(int n) : previous(threads()) { set_threads(n); }
  ~ThreadCount() { set_threads(previous); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;
  int previous;
};

// γ, β and the running statistics of every batchnorm2d drawn away from their initial 1, 0, 0, 1, so a check cannot
// pass because a term it tests happens to be multiplied by one or zero.
inline void randomize_batchnorms(Network& net, std::uint64_t seed) {
  Rng rng(seed);
  for (std::size_t i = 0; i < net.size(); ++i) {
    auto* bn = dynamic_cast<BatchNorm2D*>(&net.layer(i));
    if (!bn) continue;
    Tensor g = bn->gamma(), b = bn->beta(), m = bn->running_mean(), v = bn->running_var();  // views
    for (int c = 0; c < bn->channels(); ++c) {
      g[std::size_t(c)] = rng.uniform(0.5f, 1.5f);
      b[std::size_t(c)] = rng.uniform(-0.5f, 0.5f);
      m[std::size_t(c)] = rng.uniform(-0.5f, 0.5f);
      v[std::size_t(c)] = rng.uniform(0.5f, 2.0f);
    }
  }
}

// check_gradients for graph networks and either mode: kinks are looked up at each ReLU's and max-pool's own input
// (layer_inputs), the input gradient is ∂L/∂(network input), and the objective is
//   labels null:  Σ r ⊙ net(x), r fixed and random (never a plain sum: its gradient through batchnorm2d is ~0)
//   labels given: the network's loss (the mean over the batch)
// both accumulated in double. In train mode every forward uses the batch statistics, on both sides of the check.
inline GradCheck check_graph_gradients(Network& net, Tensor x, std::uint64_t seed, Mode mode, double h = 1e-3,
                                       const int* labels = nullptr, std::size_t max_coords = 1000,
                                       double analytic_scale = 1.0) {
  net.set_need_input_gradient(true);
  const Context ctx{mode, 0};
  const Tensor& out0 = net.forward(x, ctx);
  const Tensor r = random_tensor(out0.shape(), seed ^ 0xabcdef);
  if (labels) {
    Tensor d;
    net.loss().compute(out0, labels, &d);
    net.backward(d);
  } else {
    net.backward(r);
  }
  const Tensor dx = net.network_input_gradient();
  const std::vector<float> dparams = net.grads();

  auto pattern = [&]() {
    std::vector<std::uint32_t> p;
    for (std::size_t i = 0; i < net.size(); ++i) {
      const Layer& l = net.layer(i);
      if (l.kind() == "relu" || l.kind() == "leaky_relu") {
        const int v = net.layer_inputs(i)[0];
        const Tensor& in = v == Network::kInput ? x : net.activation(std::size_t(v));
        for (std::size_t k = 0; k < in.size(); ++k) p.push_back(in[k] >= 0.0f);
      } else if (const auto* mp = dynamic_cast<const MaxPool2D*>(&l)) {
        p.insert(p.end(), mp->argmax().begin(), mp->argmax().end());
      }
    }
    return p;
  };
  auto objective = [&]() {
    const Tensor& out = net.forward(x, ctx);
    if (labels) return net.loss().compute(out, labels, nullptr);
    double s = 0.0;
    for (std::size_t i = 0; i < out.size(); ++i) s += double(out[i]) * r[i];
    return s;
  };

  GradCheck g;
  auto check = [&](float* v, std::size_t n, const float* analytic) {
    central_differences(g, objective, pattern, v, n, analytic, h, max_coords, analytic_scale);
  };
  check(x.data(), x.size(), dx.data());
  check(net.params().data(), net.params().size(), dparams.data());
  return g;
}

}  // namespace cnn::test
