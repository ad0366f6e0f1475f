/* The plain GEMM: the reference every fast kernel is tested against. */
#include "core/core.h"
#include "nn/gemm.h"

void fer_gemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            C[(size_t)i * ldc + j] = (beta != 0 ? C[(size_t)i * ldc + j] : 0) + s;
        }
}
