/* The GEMM kernels and their dispatch. Internal to libfer. */
#ifndef FER_GEMM_H
#define FER_GEMM_H

#include "core/core.h"

/* ---- GEMM: C = op(A) * op(B) + beta * C, row-major, beta 0 or 1.
 * op(A) is M x K (A is K x M when ta), op(B) is K x N (B is N x K when tb). */
void fer_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);
/* The plain triple loop every fast path is tested against. */
void fer_gemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc);
/* Like fer_gemm, with N (or M, when N is narrow) split into static shares
 * across the pool's threads. Every element of C is summed in the same order
 * whatever the split, so results equal fer_gemm's bit for bit. */
void fer_gemm_mt(fer_pool *pool, int ta, int tb, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

/* The kernel paths, for tests and benchmarks: index 0 is "ref" (the triple
 * loop), then "c" (portable), "avx2", "avx512". fer_gemm uses the fastest one
 * the CPU supports, or the one named by FER_GEMM in the environment. */
int fer_gemm_kernel_count(void);
const char *fer_gemm_kernel_name(int kernel); /* NULL when out of range */
int fer_gemm_kernel_supported(int kernel);    /* 1 if this CPU can run it */
int fer_gemm_kernel_active(void);             /* the path fer_gemm uses */
/* Makes the named path (ref, c, avx2, avx512) the one fer_gemm uses, for
 * tests and benchmarks (FER_GEMM, read by them): call it before any thread
 * runs a GEMM. 0 (the fastest path stays) when unknown or unsupported here. */
int fer_gemm_force(const char *name);
/* fer_gemm on a given path; an unsupported path falls back to "ref". */
void fer_gemm_with(int kernel, int ta, int tb, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);

/* What each instruction-set file (gemm_c.c, gemm_avx2.c, gemm_avx512.c)
 * provides to the blocked driver in gemm.c.
 * micro: C[m x n] (+)= Ap * Bp over kc steps, m <= mr, n <= nr; Ap holds
 * kc columns of mr floats (a[k*mr + i]), Bp kc rows of nr floats
 * (b[k*nr + j]), both zero-padded and 64-byte aligned. accumulate: add to C
 * rather than overwrite it.
 * transpose: dst[c*dst_ld + r] = src[r*ld + c] for r < rows, c < cols; the
 * packers use it for the operands stored transposed to the panel layout. */
typedef void (*fer_gemm_micro_fn)(int kc, const float *a, const float *b, int ldb, float *c,
                                  int ldc, int m, int n, int accumulate);
typedef void (*fer_gemm_transpose_fn)(int rows, int cols, const float *src, int ld, float *dst,
                                      int dst_ld);
typedef struct fer_gemm_isa {
    const char *name;
    int (*supported)(void);
    int mr, nr;
    fer_gemm_micro_fn micro;
    fer_gemm_transpose_fn transpose;
    /* Untransposed B is read in place, unless ldb is a multiple of this
     * (0: never packed): rows that far apart share few L1 sets. */
    int pack_ldb_multiple;
} fer_gemm_isa;
extern const fer_gemm_isa fer_gemm_isa_c, fer_gemm_isa_avx2, fer_gemm_isa_avx512;
/* The portable transpose (gemm_c.c). */
void fer_gemm_transpose_c(int rows, int cols, const float *src, int ld, float *dst, int dst_ld);
/* 8 x 8 AVX blocks (gemm_avx2.c); call only when "avx2" is supported. */
void fer_gemm_transpose_avx2(int rows, int cols, const float *src, int ld, float *dst,
                             int dst_ld);

#endif
