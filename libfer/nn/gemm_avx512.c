/* The AVX-512 micro-kernel: an 8 x 48 tile of C in 24 zmm accumulators
 * (8 rows x 3 vectors of 16 floats), updated by 24 FMAs per k step from
 * 3 vector loads of packed B and 8 broadcasts of packed A. With two FMA
 * pipes of 4-cycle latency, 24 independent chains keep both pipes busy.
 * Narrow edge panels (n <= 16 or 32) get 1- or 2-vector variants instead of
 * wasting FMAs on zero padding; the last vector is stored under a mask.
 * Only functions marked FER_AVX512 use the instructions, so the library
 * still runs on CPUs without them (gemm.c checks before calling). */
#include <immintrin.h>

#include "core/core.h"
#include "nn/gemm.h"

#define MR 8
#define NR 48
#define FER_AVX512 __attribute__((target("avx512f")))

/* The packers use the AVX2 transpose, so AVX2 and FMA are required too (every
 * AVX-512 CPU has them). */
static int avx512_supported(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
}

/* nv (1..3) is a constant after inlining: each variant is its own code. */
static inline __attribute__((always_inline)) FER_AVX512 void
tile(const int nv, int kc, const float *a, const float *b, int ldb, float *c, int ldc, int m, int n,
     int accumulate)
{
    __m512 acc[MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++)
            acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++, a += MR, b += ldb) {
        __m512 b0 = _mm512_loadu_ps(b);
        __m512 b1 = nv > 1 ? _mm512_loadu_ps(b + 16) : b0;
        __m512 b2 = nv > 2 ? _mm512_loadu_ps(b + 32) : b0;
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            if (nv > 2)
                acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
        }
    }
    /* lanes of the last vector that lie past column n are not stored */
    __mmask16 last = (__mmask16)(0xffffu >> (16 * nv - n));
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i >= m)
            break;
        float *row = c + (size_t)i * ldc;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            __mmask16 mask = v == nv - 1 ? last : (__mmask16)0xffff;
            __m512 r = acc[i][v];
            if (accumulate)
                r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, row + 16 * v));
            _mm512_mask_storeu_ps(row + 16 * v, mask, r);
        }
    }
}

static FER_AVX512 void micro_avx512(int kc, const float *a, const float *b, int ldb, float *c, int ldc,
                                    int m, int n, int accumulate)
{
    if (n > 32)
        tile(3, kc, a, b, ldb, c, ldc, m, n, accumulate);
    else if (n > 16)
        tile(2, kc, a, b, ldb, c, ldc, m, n, accumulate);
    else
        tile(1, kc, a, b, ldb, c, ldc, m, n, accumulate);
}

/* B read in place at any ldb: measured as fast or faster than packing even
 * at ldb = 1024 (dense1 forward 175-204 vs 158-172 GFLOP/s). */
const fer_gemm_isa fer_gemm_isa_avx512 = {"avx512", avx512_supported, MR, NR, micro_avx512,
                                          fer_gemm_transpose_avx2, 0};
