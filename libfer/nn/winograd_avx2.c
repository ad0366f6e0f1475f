/* Winograd's input and output transforms on AVX2+FMA (winograd_x86.h);
 * the GEMM between them is gemm_avx2.c's micro-kernel. Only functions
 * with the target attribute use the instructions, and winograd.c calls
 * them only when the CPU has them (fer_wino_supported). */
#define WINO_TARGET __attribute__((target("avx2,fma")))
/* vmaskmovps: masked-off lanes are not read, so a patch row at the very
 * end of the input is safe. */
#define WINO_LOAD6(p) _mm256_maskload_ps((p), _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0))
#include <immintrin.h>
/* The lanes of `bits` as a vmaskmovps mask (it reads the sign bits). */
static inline __attribute__((always_inline, target("avx2"))) __m256i wino_mask8(unsigned bits)
{
    const __m256i b = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), b), b);
}
#define WINO_LOADM8(p, bits) _mm256_maskload_ps((p), wino_mask8(bits))
#define WINO_LOADM4(p, bits) _mm_maskload_ps((p), _mm256_castsi256_si128(wino_mask8(bits)))
#define WINO_ISA fer_wino_isa_avx2
#include "nn/winograd_x86.h"
