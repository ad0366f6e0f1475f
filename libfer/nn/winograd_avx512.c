/* Winograd's input and output transforms on AVX-512 (winograd_x86.h, with
 * AVX-512VL: 32 vector registers and mask-register loads); the GEMM between
 * them is gemm_avx512.c's 8 x 48 micro-kernel. The transforms stay 8 tiles
 * wide: on the Zen 4 this was measured on, 512-bit operations take two
 * 256-bit passes, so wider vectors would not be faster there. */
#define WINO_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define WINO_LOAD6(p) _mm256_maskz_loadu_ps((__mmask8)0x3f, (p))
#define WINO_LOADM8(p, bits) _mm256_maskz_loadu_ps((__mmask8)(bits), (p))
#define WINO_LOADM4(p, bits) _mm_maskz_loadu_ps((__mmask8)(bits), (p))
#define WINO_ISA fer_wino_isa_avx512
#include "nn/winograd_x86.h"
