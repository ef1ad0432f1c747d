// Seed 002's subsampling layer as literal matrix formulas, one 2-D map at a time (a map is a 1×1×h×w Tensor):
// down(·) as block sums, up(·) as the Kronecker product with a k×k matrix of ones, nothing fused. The oracle for
// src/layers/subsampling.cpp (non-overlapping blocks, stride = k, as the seed has them).
#pragma once

#include "cnn/tensor.h"

namespace cnn::ref {

// down(A)[y][x] = Σ_{i,j<k} A[y·k + i][x·k + j]   (the rows and columns past the last whole block are dropped)
Tensor down_sum(const Tensor& a, int k);
// A ⊗ B = [a_ij·B]: the Kronecker product of two matrices
Tensor kronecker(const Tensor& a, const Tensor& b);
// up(D) = D ⊗ 1_{k×k}: every element copied k times across and k times down
Tensor up(const Tensor& d, int k);

// Z[n][j] = β_j·down(A[n][j]) + b_j
Tensor subsampling_forward(const Tensor& x, const Tensor& beta, const Tensor& b, int k);
struct SubsamplingGrads {
  Tensor dx, dbeta, db;  // dx like x; dβ and b as [1, C, 1, 1]
};
// dβ_j = Σ_n Σ_{u,v} (dZ[n][j] ∘ down(A[n][j]))_{uv};   db_j = Σ_n Σ_{u,v} dZ[n][j]_{uv}
// dA[n][j] = β_j·up(dZ[n][j]), zero-padded back to A's size when k does not divide it
SubsamplingGrads subsampling_backward(const Tensor& x, const Tensor& beta, const Tensor& dz, int k);

}  // namespace cnn::ref
