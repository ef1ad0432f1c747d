// The layers of graph networks as literal loops over (n, c, h, w), in double: batch normalisation, global average
// pooling, add and concat. Like reference.h, the oracle the layers are tested against, written from the
// definitions rather than from the layers' compact formulas. Per-channel vectors are Tensors of shape 1×C×1×1.
#pragma once

#include <vector>

#include "cnn/tensor.h"

namespace cnn::ref {

// Batch normalisation of channel c over its M = N·H·W values:
//   μ = (1/M) Σ x,  σ² = (1/M) Σ (x − μ)²  (biased, as in the normalisation),  y = γ·(x − μ)/√(σ² + ε) + β
struct BatchNormTrain {
  Tensor y, mean, var;  // var: the biased batch variance
};
BatchNormTrain batchnorm2d_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
// y = γ·(x − running μ)/√(running σ² + ε) + β
Tensor batchnorm2d_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                const Tensor& running_var, double eps);
// running μ ← (1 − m)·running μ + m·μ,  running σ² ← (1 − m)·running σ² + m·(1/(M − 1)) Σ (x − μ)²  (unbiased)
void batchnorm2d_update_running(const Tensor& x, double momentum, Tensor& running_mean, Tensor& running_var);

struct BatchNormGrads {
  Tensor dx, dgamma, dbeta;
};
// Train mode, through the batch statistics, by the chain rule over μ and σ² as separate nodes:
//   ∂L/∂x̂ = dy·γ
//   ∂L/∂σ² = Σ ∂L/∂x̂·(x − μ)·(−½)(σ² + ε)^(−3/2)
//   ∂L/∂μ  = Σ ∂L/∂x̂·(−1/√(σ² + ε)) + ∂L/∂σ²·(1/M) Σ −2(x − μ)
//   ∂L/∂x  = ∂L/∂x̂/√(σ² + ε) + ∂L/∂σ²·2(x − μ)/M + ∂L/∂μ/M
//   ∂L/∂γ = Σ dy·x̂,  ∂L/∂β = Σ dy
BatchNormGrads batchnorm2d_backward_train(const Tensor& x, const Tensor& gamma, const Tensor& dy, double eps);
// Eval mode: the running statistics are constants, ∂L/∂x = dy·γ/√(running σ² + ε).
BatchNormGrads batchnorm2d_backward_eval(const Tensor& x, const Tensor& gamma, const Tensor& running_mean,
                                         const Tensor& running_var, const Tensor& dy, double eps);

// y[n][c] = (1/HW) Σ_h Σ_w x[n][c][h][w]   (output N×C×1×1)
Tensor global_avgpool_forward(const Tensor& x);
// dx[n][c][h][w] = dy[n][c]/HW
Tensor global_avgpool_backward(const Tensor& x, const Tensor& dy);

// y = Σ_i x_i;  dx_i = dy for every i
Tensor add_forward(const std::vector<const Tensor*>& xs);
std::vector<Tensor> add_backward(const std::vector<const Tensor*>& xs, const Tensor& dy);

// y[n][c'] = x_i[n][c] with c' = c + (the channels of the inputs before i);  dx_i[n][c] = dy[n][c']
Tensor concat_forward(const std::vector<const Tensor*>& xs);
std::vector<Tensor> concat_backward(const std::vector<const Tensor*>& xs, const Tensor& dy);

}  // namespace cnn::ref
