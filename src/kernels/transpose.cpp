// Matrix transposes in 8×8 blocks of vectors (the channel-vector convolutions' weight and dZ layouts, Dense's Wᵀ).
#include "kernels/avx512.h"
#include "kernels/kernels.h"

namespace cnn::kernels {

#if defined(CNN_HAVE_X86)
namespace {
// dst[c·ld_dst + r] = src[r·ld_src + c] over the whole 8×8 blocks of a rows × cols matrix
CNN_AVX512 void transpose_blocks(const float* src, int rows, int cols, std::size_t ld_src, float* dst,
                                 std::size_t ld_dst) {
  for (int r0 = 0; r0 + 8 <= rows; r0 += 8)
    for (int c0 = 0; c0 + 8 <= cols; c0 += 8) {
      __m256 r[8], c[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + std::size_t(r0 + k) * ld_src + c0);
      transpose8(r, c);
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + std::size_t(c0 + k) * ld_dst + r0, c[k]);
    }
}
}  // namespace
#endif

void transpose(const float* src, int rows, int cols, std::size_t ld_src, float* dst, std::size_t ld_dst) {
  int r0 = 0;
#if defined(CNN_HAVE_X86)
  if (simd_available()) {
    transpose_blocks(src, rows, cols, ld_src, dst, ld_dst);
    r0 = rows / 8 * 8;
    for (int r = 0; r < r0; ++r)  // the columns right of the last whole block
      for (int c = cols / 8 * 8; c < cols; ++c) dst[std::size_t(c) * ld_dst + r] = src[std::size_t(r) * ld_src + c];
  }
#endif
  for (int r = r0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dst[std::size_t(c) * ld_dst + r] = src[std::size_t(r) * ld_src + c];
}

}  // namespace cnn::kernels
