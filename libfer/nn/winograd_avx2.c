/* Winograd's input and output transforms on AVX2+FMA (winograd_x86.h);
 * the GEMM between them is gemm_avx2.c's micro-kernel. Only functions
 * with the target attribute use the instructions, and winograd.c calls
 * them only when the CPU has them (fer_wino_supported). */
#define WINO_TARGET __attribute__((target("avx2,fma")))
/* vmaskmovps: masked-off lanes are not read, so a patch row at the very
 * end of the input is safe. */
#define WINO_LOAD6(p) _mm256_maskload_ps((p), _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0))
#define WINO_ISA fer_wino_isa_avx2
#include "nn/winograd_x86.h"
