/* GEMM entry point (placeholder until the packed SIMD kernels land). */
#include "internal.h"

void fer_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc)
{
    fer_gemm_ref(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
