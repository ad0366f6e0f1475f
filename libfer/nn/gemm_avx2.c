/* The AVX2+FMA micro-kernel: a 4 x 24 tile of C in 12 ymm accumulators
 * (4 rows x 3 vectors of 8 floats), 12 FMAs per k step from 3 vector loads
 * of packed B and 4 broadcasts of packed A; 12 independent chains cover two
 * FMA pipes of 4-cycle latency, and 12 + 3 + 1 registers fit in 16.
 * MR = 4 divides every layer width of the CNN (32, 64, 128, 288).
 * Narrow edge panels get 1- or 2-vector variants; the last vector is
 * stored under a mask. Only FER_AVX2 functions use the instructions. */
#include <immintrin.h>

#include "core/core.h"
#include "nn/gemm.h"

#define MR 4
#define NR 24
#define FER_AVX2 __attribute__((target("avx2,fma")))

static int avx2_supported(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* Lane mask with the first `live` (1..8) lanes set. */
static inline __attribute__((always_inline)) FER_AVX2 __m256i lanes(int live)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(live), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) FER_AVX2 void
tile(const int nv, int kc, const float *a, const float *b, int ldb, float *c, int ldc, int m, int n,
     int accumulate)
{
    __m256 acc[MR][3];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++)
            acc[i][v] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++, a += MR, b += ldb) {
        __m256 b0 = _mm256_loadu_ps(b);
        __m256 b1 = nv > 1 ? _mm256_loadu_ps(b + 8) : b0;
        __m256 b2 = nv > 2 ? _mm256_loadu_ps(b + 16) : b0;
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            if (nv > 2)
                acc[i][2] = _mm256_fmadd_ps(ai, b2, acc[i][2]);
        }
    }
    __m256i last = lanes(n - 8 * (nv - 1)), all = _mm256_set1_epi32(-1);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
        if (i >= m)
            break;
        float *row = c + (size_t)i * ldc;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            __m256i mask = v == nv - 1 ? last : all;
            __m256 r = acc[i][v];
            if (accumulate)
                r = _mm256_add_ps(r, _mm256_maskload_ps(row + 8 * v, mask));
            _mm256_maskstore_ps(row + 8 * v, mask, r);
        }
    }
}

static FER_AVX2 void micro_avx2(int kc, const float *a, const float *b, int ldb, float *c, int ldc, int m,
                                int n, int accumulate)
{
    if (n > 16)
        tile(3, kc, a, b, ldb, c, ldc, m, n, accumulate);
    else if (n > 8)
        tile(2, kc, a, b, ldb, c, ldc, m, n, accumulate);
    else
        tile(1, kc, a, b, ldb, c, ldc, m, n, accumulate);
}

/* dst rows c0..c0+8, columns r0..r0+8 = src rows r0..r0+8, columns c0..c0+8:
 * pairs of rows interleaved, then pairs of pairs, then 128-bit halves. */
static inline __attribute__((always_inline)) FER_AVX2 void
transpose8x8(const float *src, size_t ld, float *dst, size_t dst_ld)
{
    __m256 r[8], t[8], u[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * ld);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * dst_ld, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * dst_ld, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}

/* The same for 4 rows: dst rows c0..c0+8, columns r0..r0+4 (the A panels
 * of this path are MR = 4 rows, so pack_a transposes 4 rows at a time). */
static inline __attribute__((always_inline)) FER_AVX2 void
transpose4x8(const float *src, size_t ld, float *dst, size_t dst_ld)
{
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld);
    __m256 r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xee),
                   _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xee)};
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        _mm_storeu_ps(dst + j * dst_ld, _mm256_castps256_ps128(u[j]));
        _mm_storeu_ps(dst + (j + 4) * dst_ld, _mm256_extractf128_ps(u[j], 1));
    }
}

FER_AVX2 void fer_gemm_transpose_avx2(int rows, int cols, const float *src, int ld, float *dst,
                                      int dst_ld)
{
    int r8 = rows / 8 * 8, r4 = rows / 4 * 4, c8 = cols / 8 * 8;
    for (int r = 0; r < r8; r += 8)
        for (int c = 0; c < c8; c += 8)
            transpose8x8(src + (size_t)r * ld + c, (size_t)ld, dst + (size_t)c * dst_ld + r,
                         (size_t)dst_ld);
    for (int r = r8; r < r4; r += 4) /* one block of 4 rows left */
        for (int c = 0; c < c8; c += 8)
            transpose4x8(src + (size_t)r * ld + c, (size_t)ld, dst + (size_t)c * dst_ld + r,
                         (size_t)dst_ld);
    if (c8 < cols) /* the last columns of the full row blocks */
        fer_gemm_transpose_c(r4, cols - c8, src + c8, ld, dst + (size_t)c8 * dst_ld, dst_ld);
    if (r4 < rows) /* the last rows, all columns */
        fer_gemm_transpose_c(rows - r4, cols, src + (size_t)r4 * ld, ld, dst + r4, dst_ld);
}

/* B packed when ldb is a multiple of 512 floats: at ldb = 1024, dense1 dW
 * ran at 80 GFLOP/s in place and 110 packed (16 passes of 4-row A panels
 * over a B panel whose rows alias in L1). */
const fer_gemm_isa fer_gemm_isa_avx2 = {"avx2", avx2_supported, MR, NR, micro_avx2,
                                        fer_gemm_transpose_avx2, 512};
