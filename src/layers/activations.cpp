// The activations of seed 004, each forward beside its backward. All are element-wise except softmax, which
// works over the c·h·w features of each sample, or along one axis of it.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cnn/layers/activation.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace cnn {

namespace {
template <class F>
void map_forward(const Layer& layer, const Tensor& x, Tensor& y, F f) {
  if (!(layer.input_shape()).same_sample(x.shape()))
    check_sample_shape(layer.kind() + " layer", layer.input_shape(), x.shape());
  y.resize(x.shape());
  const std::size_t n = x.size();
  const float* a = x.data();
  float* out = y.data();
  for (std::size_t i = 0; i < n; ++i) out[i] = f(a[i]);
}
// dx_i = g(x_i, y_i, dy_i)
template <class G>
void map_backward(const Layer& layer, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, G g) {
  if (!(layer.output_shape()).same_sample(dy.shape()))
    check_sample_shape(layer.kind() + " layer (backward)", layer.output_shape(), dy.shape());
  if (!dx) return;
  dx->resize(x.shape());
  const std::size_t n = x.size();
  const float *a = x.data(), *z = y.data(), *d = dy.data();
  float* out = dx->data();
  for (std::size_t i = 0; i < n; ++i) out[i] = g(a[i], z[i], d[i]);
}
}  // namespace

// a = max(0, z)   (z ≥ 0 ? z : 0; a network usually fuses this into the Conv2D or Dense before it)
void ReLU::forward(const Tensor& x, Tensor& y, const Context&) {
  if (!in_.same_sample(x.shape())) check_sample_shape("relu layer", in_, x.shape());
  y.resize(x.shape());
  const int N = x.shape().n, chunks = x.size() < 32768 ? 1 : kernels::batch_chunks(N);
  const std::size_t F = in_.sample_size();
  kernels::parallel_for(chunks, [&](int c) {
    const std::size_t n0 = kernels::chunk_begin(N, chunks, c), n1 = kernels::chunk_begin(N, chunks, c + 1);
    kernels::relu_forward(x.data() + n0 * F, y.data() + n0 * F, (n1 - n0) * F);
  });
}
// dz = da where z ≥ 0, else 0
void ReLU::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) {
  if (!out_.same_sample(dy.shape())) check_sample_shape("relu layer (backward)", out_, dy.shape());
  if (!dx) return;
  dx->resize(x.shape());
  const int N = x.shape().n, chunks = x.size() < 32768 ? 1 : kernels::batch_chunks(N);
  const std::size_t F = in_.sample_size();
  kernels::parallel_for(chunks, [&](int c) {
    const std::size_t n0 = kernels::chunk_begin(N, chunks, c), n1 = kernels::chunk_begin(N, chunks, c + 1);
    kernels::relu_backward(x.data() + n0 * F, dy.data() + n0 * F, dx->data() + n0 * F, (n1 - n0) * F);
  });
}

std::string LeakyReLU::summary() const { return "leaky_relu alpha " + std::to_string(alpha_); }
nlohmann::json LeakyReLU::spec() const {
  nlohmann::json j = Layer::spec();
  j["alpha"] = alpha_;
  return j;
}
// a = max(αz, z)   (for 0 ≤ α ≤ 1: z where z ≥ 0, else αz)
void LeakyReLU::forward(const Tensor& x, Tensor& y, const Context&) {
  const float a = alpha_;
  map_forward(*this, x, y, [a](float z) { return z >= 0.0f ? z : a * z; });
}
// dz = da where z ≥ 0, else α·da
void LeakyReLU::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const float a = alpha_;
  map_backward(*this, x, y, dy, dx, [a](float z, float, float da) { return z >= 0.0f ? da : a * da; });
}

// a = 1/(1 + e^−z)
void Sigmoid::forward(const Tensor& x, Tensor& y, const Context&) {
  map_forward(*this, x, y, [](float z) { return 1.0f / (1.0f + std::exp(-z)); });
}
// dz = da·a(1 − a)
void Sigmoid::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  map_backward(*this, x, y, dy, dx, [](float, float a, float da) { return da * a * (1.0f - a); });
}

// a = tanh z
void Tanh::forward(const Tensor& x, Tensor& y, const Context&) {
  map_forward(*this, x, y, [](float z) { return std::tanh(z); });
}
// dz = da·(1 − a²)
void Tanh::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  map_backward(*this, x, y, dy, dx, [](float, float a, float da) { return da * (1.0f - a * a); });
}

AxisSoftmax::AxisSoftmax(int axis) : axis_(axis < 0 ? axis + 4 : axis) {
  if (axis < -3 || axis > 3)
    throw Error("softmax layer: axis " + std::to_string(axis) +
                " is not one of 1 (channels), 2 (rows), 3 (columns), their negatives from the end, or 0 (the whole "
                "sample)");
}
std::string AxisSoftmax::summary() const {
  static const char* const names[] = {"", " over channels", " over rows", " over columns"};
  return kind() + names[axis_];
}
nlohmann::json AxisSoftmax::spec() const {
  nlohmann::json j = Layer::spec();
  if (axis_ != 0) j["axis"] = axis_;
  return j;
}
AxisSoftmax::Lines AxisSoftmax::lines() const {
  switch (axis_) {
    case 1:
      return {1, in_.c, in_.h * in_.w};
    case 2:
      return {in_.c, in_.h, in_.w};
    case 3:
      return {in_.c * in_.h, in_.w, 1};
    default:
      return {1, int(in_.sample_size()), 1};
  }
}

namespace {
// f(pointers to each tensor's first value of a line, len, stride) for every line of every sample.
template <class F, class... P>
void each_line(int N, std::size_t F_sample, int outer, int len, int inner, F f, P*... ts) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < outer; ++o)
      for (int i = 0; i < inner; ++i) {
        const std::size_t at = std::size_t(n) * F_sample + (std::size_t(o) * len) * inner + i;
        f(ts + at..., len, inner);
      }
}
// The backward pass along each line, after the shape check: g(a, da, dz, len, stride) for every line of every sample.
template <class G>
void line_backward(const Layer& layer, int outer, int len, int inner, const Tensor& x, const Tensor& y,
                   const Tensor& dy, Tensor* dx, G g) {
  if (!layer.output_shape().same_sample(dy.shape()))
    check_sample_shape(layer.kind() + " layer (backward)", layer.output_shape(), dy.shape());
  if (!dx) return;
  dx->resize(x.shape());
  each_line(x.shape().n, layer.input_shape().sample_size(), outer, len, inner, g, y.data(), dy.data(), dx->data());
}
}  // namespace

// a_i = e^(z_i − m) / Σ_j e^(z_j − m), m = max_j z_j (subtracting m changes nothing but keeps e^x finite)
void softmax(const float* z, float* out, int n) {
  const float m = *std::max_element(z, z + n);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    out[i] = std::exp(z[i] - m);
    sum += out[i];
  }
  const float inv = float(1.0 / sum);
  for (int i = 0; i < n; ++i) out[i] *= inv;
}

// The same along a line `s` apart.
void Softmax::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  y.resize(x.shape());
  const Lines l = lines();
  each_line(
      x.shape().n, in_.sample_size(), l.outer, l.len, l.inner,
      [](const float* z, float* a, int n, int s) {
        if (s == 1) return softmax(z, a, n);
        float m = z[0];
        for (int i = 1; i < n; ++i) m = std::max(m, z[std::size_t(i) * s]);
        double sum = 0.0;
        for (int i = 0; i < n; ++i) {
          a[std::size_t(i) * s] = std::exp(z[std::size_t(i) * s] - m);
          sum += a[std::size_t(i) * s];
        }
        const float inv = float(1.0 / sum);
        for (int i = 0; i < n; ++i) a[std::size_t(i) * s] *= inv;
      },
      x.data(), y.data());
}

// dz_i = Σ_j da_j ∂a_j/∂z_i = a_i(da_i − Σ_j da_j a_j)
void Softmax::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const Lines l = lines();
  line_backward(*this, l.outer, l.len, l.inner, x, y, dy, dx,
                [](const float* a, const float* da, float* dz, int n, int s) {
                  double dot = 0.0;
                  for (int i = 0; i < n; ++i) dot += double(da[std::size_t(i) * s]) * a[std::size_t(i) * s];
                  for (int i = 0; i < n; ++i)
                    dz[std::size_t(i) * s] = a[std::size_t(i) * s] * (da[std::size_t(i) * s] - float(dot));
                });
}

// a_i = z_i − m − log Σ_j e^(z_j − m), m = max_j z_j
void LogSoftmax::forward(const Tensor& x, Tensor& y, const Context&) {
  check_input(x);
  y.resize(x.shape());
  const Lines l = lines();
  each_line(
      x.shape().n, in_.sample_size(), l.outer, l.len, l.inner,
      [](const float* z, float* a, int n, int s) {
        float m = z[0];
        for (int i = 1; i < n; ++i) m = std::max(m, z[std::size_t(i) * s]);
        double sum = 0.0;
        for (int i = 0; i < n; ++i) sum += std::exp(double(z[std::size_t(i) * s]) - m);
        const float log_sum = float(std::log(sum));
        for (int i = 0; i < n; ++i) a[std::size_t(i) * s] = z[std::size_t(i) * s] - m - log_sum;
      },
      x.data(), y.data());
}
// dz_i = Σ_j da_j ∂a_j/∂z_i = da_i − e^(a_i) Σ_j da_j   (e^(a_i) is softmax's output)
void LogSoftmax::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const Lines l = lines();
  line_backward(*this, l.outer, l.len, l.inner, x, y, dy, dx,
                [](const float* a, const float* da, float* dz, int n, int s) {
                  double sum = 0.0;
                  for (int i = 0; i < n; ++i) sum += da[std::size_t(i) * s];
                  for (int i = 0; i < n; ++i)
                    dz[std::size_t(i) * s] = da[std::size_t(i) * s] - std::exp(a[std::size_t(i) * s]) * float(sum);
                });
}

}  // namespace cnn
