// The instruction sets the vector kernels are compiled for (simd.h says how), which one runs (isa.cpp chooses once,
// at the first call, from CPUID and the CNN_ISA environment variable), and the entry points compiled once per set
// that the portable code calls through them.
#pragma once

#include <cstddef>
#include <string>

namespace cnn::kernels {

// portable: plain C++ built for the baseline x86-64 (SSE2) or any other CPU, with im2col + OpenBLAS for
// convolutions; avx2: AVX2 + FMA (Intel since Haswell, AMD since Zen 1); avx512: AVX-512F + VL (Intel since
// Skylake-SP, AMD since Zen 4), 8-float vectors; avx512_16: the same with 16-float vectors in the convolutions
// (conv_wide.cpp) and DQ, for cores that issue two 512-bit FMAs a cycle (most Intel Xeons), where 8-float vectors
// reach only half of the core. On a core whose 512-bit FMAs are no faster than two 256-bit ones (AMD Zen 4) the
// wider vectors only waste more of a short row, so the start-up choice measures (wide_vectors_pay).
enum class Isa { portable, avx2, avx512, avx512_16 };
// The sets with AVX-512 (avx512, avx512_16): the element-wise kernels are the same for both.
inline bool has_avx512(Isa isa) { return isa == Isa::avx512 || isa == Isa::avx512_16; }

const char* isa_name(Isa isa);
// "portable", "avx2", "avx512", "avx512_16" → the set; false for anything else.
bool parse_isa(const std::string& name, Isa& isa);
// Whether this CPU runs the set's kernels (portable: always).
bool isa_supported(Isa isa);
// The set the kernels use now: the best this CPU supports, unless CNN_ISA named one (a set the CPU lacks gives the
// best it has below it) or set_isa chose one.
Isa isa();
// Why isa() is what it is, in a few words ("the best this CPU has", "CNN_ISA=avx2", "set by the program").
std::string isa_reason();
// Chooses the set (tests and benchmarks: every path against the reference on one machine); one the CPU lacks is
// lowered to the best it has. Convolutions choose their kernels when a layer is set up, so layers built before
// keep theirs.
void set_isa(Isa isa);
// True when the kernels use vectors: isa() is avx2 or avx512.
bool simd_available();
// Switches the vector kernels off (false: Isa::portable) or back to the set isa() chose at start. Element-wise
// kernels look at every call; a convolution layer chooses its kernels once, when it is set up (its ConvPlan), so a
// layer built with SIMD off stays on the portable path.
void set_simd_enabled(bool on);

// Whether 512-bit FMAs reach clearly more (1.4×) than 256-bit ones on this core, from a few milliseconds of
// fma_peak_gflops, measured once: what chooses avx512_16 over avx512 at start.
bool wide_vectors_pay();

// One thread's fused multiply-add peak in GFLOP/s with vectors of `bits` (256 for avx2 and avx512, 512 for avx512
// only; 0 for a set or width the CPU lacks), measured over about `seconds`: the best of a few timed runs.
double fma_peak_gflops(Isa isa, int bits, double seconds = 0.05);

// Per-set entry points (the definitions are in the vector kernel files, one specialisation per compiled set).
// dst[c·ld_dst + r] = src[r·ld_src + c] over the whole 8×8 blocks of a rows × cols matrix
template <Isa I>
void transpose_blocks(const float* src, int rows, int cols, std::size_t ld_src, float* dst, std::size_t ld_dst);
// gemm_small (kernels.h) for the sets with vectors
template <Isa I>
void gemm_small_tiles(int M, int N, int K, const float* a, std::size_t a_ms, std::size_t a_ks, const float* b,
                      std::size_t ldb, float* c, std::size_t ldc, bool accumulate);

// `iters` rounds of 12 independent FMA chains of `bits`-bit vectors (the checksum keeps them from being dropped)
template <Isa I>
float fma_chains(int bits, long iters);

}  // namespace cnn::kernels
