/* Declarations shared between libfer's own files; not installed. */
#ifndef FER_INTERNAL_H
#define FER_INTERNAL_H

#include "fer.h"

#if defined(__GNUC__)
#define FER_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FER_PRINTF(a, b)
#endif

/* Fills err (if any) and returns code, so callers write `return fer_fail(...)`. */
fer_status fer_fail(fer_error *err, fer_status code, const char *fmt, ...) FER_PRINTF(3, 4);

/* ---- thread pool: fn runs once per thread on a static, contiguous share of
 * [0, n): thread t gets [t*n/T, (t+1)*n/T). Static shares keep per-thread
 * partial sums, and so results, identical for a given thread count. */
typedef void (*fer_range_fn)(void *arg, int begin, int end, int thread);
void fer_pool_for(fer_pool *p, int n, fer_range_fn fn, void *arg);

/* ---- GEMM: C = op(A) * op(B) + beta * C, row-major, beta 0 or 1.
 * op(A) is M x K (A is K x M when ta), op(B) is K x N (B is N x K when tb). */
void fer_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);
/* The plain triple loop every fast path is tested against. */
void fer_gemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc);

#endif
