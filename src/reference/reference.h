// The seeds' formulas as literal loops, on one 2-D map at a time: no im2col, no GEMM, no cleverness. This is the
// oracle every faster path is tested against, and the place to read what a layer computes.
// A 2-D matrix is a Tensor of shape 1×1×h×w.
#pragma once

#include "cnn/tensor.h"

namespace cnn::ref {

// B = A ⊗ K (valid): B[y][x] = Σ_i Σ_j A[y + i][x + j]·K[i][j]   (seed 004's sliding window)
Tensor correlate_valid(const Tensor& a, const Tensor& k);
Tensor rot180(const Tensor& k);  // K rotated by 180°: K'[i][j] = K[h − 1 − i][w − 1 − j]
Tensor zero_pad(const Tensor& a, int top, int bottom, int left, int right);
Tensor dilate(const Tensor& a, int stride);  // stride − 1 zeros between neighbours
Tensor crop(const Tensor& a, int top, int left, int h, int w);
Tensor map_of(const Tensor& t, int n, int c);            // t[n][c] as a 2-D matrix (a copy)
void add_map(Tensor& t, int n, int c, const Tensor& m);  // t[n][c] += m

struct Pads {
  int top = 0, bottom = 0, left = 0, right = 0;
};

// Z[n][o] = Σ_c (pad(A[n][c]) ⊗ W[o][c]) sampled every `stride` pixels + b[o]   (b empty: no bias)
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, int stride, Pads p);
struct ConvGrads {
  Tensor dx, dw, db;
};
// dW[o][c] = Σ_n pad(A[n][c]) ⊗ dilate(dZ[n][o])          (cropped to kh×kw)
// db[o]    = Σ_n Σ dZ[n][o]
// dA[n][c] = Σ_o pad(dilate(dZ[n][o]), k − 1) ⊗ rot180(W[o][c])   (then the input padding is cropped away)
ConvGrads conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dz, int stride, Pads p);

// Pooling over k×k windows every `stride` pixels.
Tensor maxpool_forward(const Tensor& x, int k, int stride);
Tensor maxpool_backward(const Tensor& x, const Tensor& dz, int k, int stride);  // dZ to the first argmax
Tensor avgpool_forward(const Tensor& x, int k, int stride);
Tensor avgpool_backward(const Tensor& x, const Tensor& dz, int k, int stride);  // dZ/k² to every input
Tensor l2pool_forward(const Tensor& x, int k, int stride);
Tensor l2pool_backward(const Tensor& x, const Tensor& dz, int k, int stride);  // dZ·a/z

// Dense with W[j][k] (input j, output k): Z_k = Σ_j A_j·W_jk + B_k
Tensor dense_forward(const Tensor& x, const Tensor& w, const Tensor& b);
struct DenseGrads {
  Tensor dx, dw, db;
};
// dA_j = Σ_k DZ_k·W_jk;  dW_jk = Σ_n DZ_k·A_j;  dB_k = Σ_n DZ_k
DenseGrads dense_backward(const Tensor& x, const Tensor& w, const Tensor& dz);

}  // namespace cnn::ref
