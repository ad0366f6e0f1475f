/* The portable micro-kernel: plain C, any CPU. A 4 x 16 tile of C is held
 * in a local array the compiler can keep in vector registers (SSE2 on any
 * x86-64); the loops have constant bounds so it may unroll and vectorise. */
#include "core/core.h"
#include "nn/gemm.h"

#define MR 4
#define NR 16

static int always(void) { return 1; }

static void micro_c(int kc, const float *a, const float *b, int ldb, float *c, int ldc, int m,
                    int n, int accumulate)
{
    float acc[MR][NR] = {{0}};
    for (int k = 0; k < kc; k++, a += MR, b += ldb)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += a[i] * b[j];
    for (int i = 0; i < m; i++) {
        float *row = c + (size_t)i * ldc;
        for (int j = 0; j < n; j++)
            row[j] = accumulate ? row[j] + acc[i][j] : acc[i][j];
    }
}

/* Reads along source rows; the strided writes stay within a packing buffer
 * that is in L1 or L2. */
void fer_gemm_transpose_c(int rows, int cols, const float *src, int ld, float *dst, int dst_ld)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * dst_ld + r] = src[(size_t)r * ld + c];
}

/* Same B policy as the AVX2 path (not measured separately). */
const fer_gemm_isa fer_gemm_isa_c = {"c", always, MR, NR, micro_c, fer_gemm_transpose_c, 512};
