// Concat along channels, rows or columns: the inputs stacked in input order, as torch.cat(dim=1, 2, 3) and ONNX
// Concat.
//   y[n] = [x_1[n]; x_2[n]; …]        dx_i[n] = dy[n][the part that input i filled]
// Along an axis, each sample is `outer` blocks (1 for channels, C for rows, C·H for columns), and each block of y is
// input 1's run of that block, then input 2's, …
#include <algorithm>
#include <nlohmann/json.hpp>

#include "cnn/layers/merge.h"

namespace cnn {

namespace {
const char* const kAxisNames[] = {"", "channels", "rows", "columns"};
}

Concat::Concat(int axis) : axis_(axis < 0 ? axis + 4 : axis) {
  if (axis_ < 1 || axis_ > 3)
    throw Error("concat layer: axis " + std::to_string(axis) +
                " is not one of 1 (channels), 2 (rows), 3 (columns) or -3 to -1 from the end (the batch cannot be "
                "joined)");
}

std::string Concat::summary() const { return axis_ == 1 ? kind() : kind() + " along " + kAxisNames[axis_]; }
nlohmann::json Concat::spec() const {
  nlohmann::json j = Layer::spec();
  if (axis_ != 1) j["axis"] = axis_;
  return j;
}

Shape Concat::infer(std::span<const Shape> in) {
  if (in.size() < 2) throw Error("concat layer: needs two or more inputs, got " + std::to_string(in.size()));
  Shape out{1, 0, in[0].h, in[0].w};
  if (axis_ == 2) out = {1, in[0].c, 0, in[0].w};
  if (axis_ == 3) out = {1, in[0].c, in[0].h, 0};
  for (std::size_t i = 0; i < in.size(); ++i) {
    const bool fits = axis_ == 1   ? in[i].h == out.h && in[i].w == out.w
                      : axis_ == 2 ? in[i].c == out.c && in[i].w == out.w
                                   : in[i].c == out.c && in[i].h == out.h;
    if (!fits)
      throw Error("concat layer: input " + std::to_string(i + 1) + " is " + in[i].sample_str() + " but input 1 is " +
                  in[0].sample_str() + " (a concat along " + kAxisNames[axis_] + " needs the other sizes equal)");
    (axis_ == 1 ? out.c : axis_ == 2 ? out.h : out.w) += axis_ == 1 ? in[i].c : axis_ == 2 ? in[i].h : in[i].w;
  }
  shapes_.assign(in.begin(), in.end());
  inputs_ = int(in.size());
  return out;
}

int Concat::outer() const { return axis_ == 1 ? 1 : axis_ == 2 ? in_.c : in_.c * in_.h; }
std::size_t Concat::chunk(std::size_t i) const { return shapes_[i].sample_size() / std::size_t(outer()); }

// y[n] = [x_1[n]; x_2[n]; …], block by block
void Concat::forward(std::span<const Tensor* const> xs, Tensor& y, const Context&) {
  check_inputs(xs);
  const int N = xs[0]->shape().n, B = outer();
  y.resize(out_.with_batch(N));
  for (int n = 0; n < N; ++n) {
    float* out = y.sample(n);
    for (int b = 0; b < B; ++b)
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const float* from = xs[i]->sample(n) + std::size_t(b) * chunk(i);
        out = std::copy(from, from + chunk(i), out);
      }
  }
}

// dx_i[n] = the runs of dy[n] that x_i[n] was copied into
void Concat::backward(std::span<const Tensor* const> xs, const Tensor&, const Tensor& dy,
                      std::span<Tensor* const> dxs) {
  if (!out_.same_sample(dy.shape())) check_sample_shape("concat layer (backward)", out_, dy.shape());
  const int N = dy.shape().n, B = outer();
  for (std::size_t i = 0; i < dxs.size(); ++i)
    if (dxs[i]) dxs[i]->resize(xs[i]->shape());
  for (int n = 0; n < N; ++n) {
    const float* d = dy.sample(n);
    for (int b = 0; b < B; ++b)
      for (std::size_t i = 0; i < xs.size(); ++i) {
        if (dxs[i]) std::copy(d, d + chunk(i), dxs[i]->sample(n) + std::size_t(b) * chunk(i));
        d += chunk(i);
      }
  }
}

}  // namespace cnn
