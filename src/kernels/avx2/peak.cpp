// peak.cpp compiled for AVX2 + FMA (kernels/simd.h says why each vector kernel file is compiled twice).
#define CNN_KERNELS_AVX2 1
#include "../peak.cpp"
