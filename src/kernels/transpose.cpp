// Matrix transposes in 8×8 blocks of vectors (the channel-vector convolutions' weight and dZ layouts, Dense's Wᵀ);
// kernels::transpose (isa.cpp) does the edges.
#include "kernels/simd.h"

#if defined(CNN_HAVE_X86)
namespace cnn::kernels {

template <>
CNN_TARGET void transpose_blocks<kIsa>(const float* src, int rows, int cols, std::size_t ld_src, float* dst,
                                       std::size_t ld_dst) {
  for (int r0 = 0; r0 + 8 <= rows; r0 += 8)
    for (int c0 = 0; c0 + 8 <= cols; c0 += 8) {
      __m256 r[8], c[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + std::size_t(r0 + k) * ld_src + c0);
      transpose8(r, c);
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + std::size_t(c0 + k) * ld_dst + r0, c[k]);
    }
}

}  // namespace cnn::kernels
#endif
