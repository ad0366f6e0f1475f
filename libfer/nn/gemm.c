/* The blocked SGEMM driver: picks a kernel path, cuts the product into
 * cache-sized blocks, packs them, and hands register tiles to the path's
 * micro-kernel (gemm_c.c, gemm_avx2.c, gemm_avx512.c).
 *
 * Loop order, for each KC-deep slice of K:
 *   for each MC-row block of op(A): pack it into MR-row panels    (L2)
 *     for each NR-column panel of op(B): pack it, or read it in place
 *       for each MR-row panel: micro-kernel -> MR x NR tile of C
 * One B panel (KC x NR floats) is reused by every A panel of the block
 * while it is hot in L1/L2. Each element of C is summed in k order, KC steps
 * at a time, whatever the block sizes in M and N: results do not depend on
 * how M or N are split (fer_gemm_mt relies on this). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/gemm.h"

/* Blocking for a Zen-class core (48 KiB L1d, 1 MiB L2). A KC x NR panel of B
 * is 48 KiB for the AVX-512 tile (NR 48): KC 128 (half of L1) and 384 were
 * measured too, and 256 was best or equal on every CNN shape, because a
 * deeper slice halves the passes over C. An MC x KC block of packed A takes
 * 288 KiB of L2; 288 rows cover every layer of the CNN in one block. */
#define GEMM_MC 288
#define GEMM_KC 256
#define GEMM_NR_MAX 48

enum { K_REF, K_C, K_AVX2, K_AVX512, K_COUNT };

static const fer_gemm_isa *const isa_of[K_COUNT] = {
    NULL, &fer_gemm_isa_c, &fer_gemm_isa_avx2, &fer_gemm_isa_avx512};

int fer_gemm_kernel_count(void) { return K_COUNT; }

const char *fer_gemm_kernel_name(int kernel)
{
    if (kernel < 0 || kernel >= K_COUNT)
        return NULL;
    return kernel == K_REF ? "ref" : isa_of[kernel]->name;
}

int fer_gemm_kernel_supported(int kernel)
{
    if (kernel < 0 || kernel >= K_COUNT)
        return 0;
    return kernel == K_REF || isa_of[kernel]->supported();
}

/* ---- choosing the path once per process */

static pthread_once_t choose_once = PTHREAD_ONCE_INIT;
static int chosen = K_REF; /* written once, under choose_once */

static void choose_kernel(void)
{
    for (int k = K_COUNT - 1; k > K_REF; k--)
        if (fer_gemm_kernel_supported(k)) {
            chosen = k;
            return;
        }
}

int fer_gemm_force(const char *name)
{
    pthread_once(&choose_once, choose_kernel);
    for (int k = 0; name && k < K_COUNT; k++)
        if (strcmp(name, fer_gemm_kernel_name(k)) == 0 && fer_gemm_kernel_supported(k))
            return chosen = k, 1;
    return 0; /* unknown or unsupported: the fastest path stays */
}

int fer_gemm_kernel_active(void)
{
    pthread_once(&choose_once, choose_kernel);
    return chosen;
}

/* ---- per-thread packing workspace
 * Allocated on a thread's first call, kept for the thread's lifetime and
 * freed by the key's destructor when the thread exits: no malloc per call.
 * The key itself is created once per process. */

#define WS_A_FLOATS ((size_t)GEMM_MC * GEMM_KC)
#define WS_B_FLOATS ((size_t)GEMM_KC * GEMM_NR_MAX)

static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static pthread_key_t ws_key;
static int ws_key_ok; /* written once, under ws_once */

static void ws_make_key(void) { ws_key_ok = pthread_key_create(&ws_key, fer_aligned_free) == 0; }

static float *thread_workspace(void)
{
    pthread_once(&ws_once, ws_make_key);
    if (!ws_key_ok)
        return NULL;
    float *ws = pthread_getspecific(ws_key);
    if (!ws) {
        ws = fer_aligned_alloc((WS_A_FLOATS + WS_B_FLOATS) * sizeof(float));
        if (ws && pthread_setspecific(ws_key, ws) != 0) {
            fer_aligned_free(ws);
            ws = NULL;
        }
    }
    return ws;
}

/* ---- packing */

/* dst[k*dst_ld + i] = src[k*ld + i] for k < rows, i < w. Short rows of
 * the usual panel widths get constant-length loops the compiler turns into
 * a few vector moves; memcpy's call would cost more than the copy. */
static inline void copy_fixed(const int w, int rows, const float *src, int ld, float *dst,
                              int dst_ld)
{
    for (int k = 0; k < rows; k++)
        for (int i = 0; i < w; i++)
            dst[(size_t)k * dst_ld + i] = src[(size_t)k * ld + i];
}

static void copy_rows(int rows, int w, const float *src, int ld, float *dst, int dst_ld)
{
    if (w == 8)
        copy_fixed(8, rows, src, ld, dst, dst_ld);
    else if (w == 4)
        copy_fixed(4, rows, src, ld, dst, dst_ld);
    else
        for (int k = 0; k < rows; k++)
            memcpy(dst + (size_t)k * dst_ld, src + (size_t)k * ld, (size_t)w * sizeof(float));
}

/* op(A) rows i0..i0+mc, columns p0..p0+kc, as MR-row panels: panel q holds
 * a[k*mr + i] = op(A)[i0 + q*mr + i][p0 + k], zero past row mc. */
static void pack_a(const fer_gemm_isa *isa, int ta, const float *A, int lda, int i0, int mc,
                   int p0, int kc, float *ap)
{
    int mr = isa->mr;
    for (int q = 0; q < mc; q += mr) {
        int m = mc - q < mr ? mc - q : mr;
        float *dst = ap + (size_t)q * kc;
        if (ta) /* A is K x M: each k gives m consecutive floats */
            copy_rows(kc, m, A + (size_t)p0 * lda + i0 + q, lda, dst, mr);
        else /* A is M x K: rows contiguous in k, so transpose */
            isa->transpose(m, kc, A + (size_t)(i0 + q) * lda + p0, lda, dst, mr);
        if (m < mr)
            for (int k = 0; k < kc; k++)
                memset(dst + (size_t)k * mr + m, 0, (size_t)(mr - m) * sizeof(float));
    }
}

/* op(B) rows p0..p0+kc, columns j0..j0+n as one panel b[k*nr + j], zero
 * past column n. */
static void pack_b(const fer_gemm_isa *isa, int tb, const float *B, int ldb, int p0, int kc,
                   int j0, int n, float *bp)
{
    int nr = isa->nr;
    if (tb) /* B is N x K: columns of op(B) contiguous in k, so transpose */
        isa->transpose(n, kc, B + (size_t)j0 * ldb + p0, ldb, bp, nr);
    else
        copy_rows(kc, n, B + (size_t)p0 * ldb + j0, ldb, bp, nr);
    if (n < nr)
        for (int k = 0; k < kc; k++)
            memset(bp + (size_t)k * nr + n, 0, (size_t)(nr - n) * sizeof(float));
}

/* ---- the driver */

typedef struct gemm_args {
    int ta, tb, M, N, K;
    const float *A;
    int lda;
    const float *B;
    int ldb;
    float *C;
    int ldc;
} gemm_args;

/* Columns for the next B panel when `left` remain: a full NR, except that
 * a last stretch of just over NR is cut in two near-equal halves (64 -> 32 +
 * 32 rather than 48 + 16), since narrow tiles have too few independent
 * accumulators to keep the FMA pipes busy. Halves are rounded up to 16. */
static int panel_width(int left, int nr)
{
    if (left <= nr)
        return left;
    if (left < nr + nr / 2) {
        int half = (left + 1) / 2;
        return (half + 15) / 16 * 16 < nr ? (half + 15) / 16 * 16 : nr;
    }
    return nr;
}

/* Kernels read B in whole vectors of at most 16 floats, so a panel whose
 * width is NR or a multiple of 16 is read without straying past column n. */
static int read_b_in_place(const fer_gemm_isa *isa, const gemm_args *g, int n)
{
    if (g->tb || (n != isa->nr && n % 16 != 0))
        return 0;
    return isa->pack_ldb_multiple == 0 || g->ldb % isa->pack_ldb_multiple != 0;
}

/* One KC slice times one MC block: C[i0.., all columns] (+)= A_blk * B_slice.
 * Full panels of an untransposed B are read in place (its rows already hold
 * NR consecutive floats per k; copying them cost more than it saved),
 * except with strides the path packs (see pack_ldb_multiple); transposed B
 * and narrow edge panels are packed. */
static void run_block(const fer_gemm_isa *isa, const gemm_args *g, int i0, int mc, int p0,
                      int kc, int accumulate, float *ap, float *bp)
{
    pack_a(isa, g->ta, g->A, g->lda, i0, mc, p0, kc, ap);
    for (int j0 = 0, n; j0 < g->N; j0 += n) {
        n = panel_width(g->N - j0, isa->nr);
        const float *b = bp;
        int ldb = isa->nr;
        if (read_b_in_place(isa, g, n)) {
            b = g->B + (size_t)p0 * g->ldb + j0;
            ldb = g->ldb;
        } else
            pack_b(isa, g->tb, g->B, g->ldb, p0, kc, j0, n, bp);
        for (int q = 0; q < mc; q += isa->mr) {
            int m = mc - q < isa->mr ? mc - q : isa->mr;
            isa->micro(kc, ap + (size_t)q * kc, b, ldb, g->C + (size_t)(i0 + q) * g->ldc + j0,
                       g->ldc, m, n, accumulate);
        }
    }
}

/* C = beta * C for a beta other than 0 or 1, so the kernels only ever
 * overwrite or add. */
static void scale_c(float beta, int M, int N, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            C[(size_t)i * ldc + j] *= beta;
}

static void zero_c(int M, int N, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
}

static void gemm_blocked(const fer_gemm_isa *isa, const gemm_args *g, float beta, float *ws)
{
    float *ap = ws, *bp = ws + WS_A_FLOATS;
    if (beta != 0.0f && beta != 1.0f)
        scale_c(beta, g->M, g->N, g->C, g->ldc);
    for (int p0 = 0; p0 < g->K; p0 += GEMM_KC) {
        int kc = g->K - p0 < GEMM_KC ? g->K - p0 : GEMM_KC;
        int accumulate = p0 > 0 || beta != 0.0f;
        for (int i0 = 0; i0 < g->M; i0 += GEMM_MC) {
            int mc = g->M - i0 < GEMM_MC ? g->M - i0 : GEMM_MC;
            run_block(isa, g, i0, mc, p0, kc, accumulate, ap, bp);
        }
    }
}

void fer_gemm_with(int kernel, int ta, int tb, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* empty sum: C = beta * C */
        if (beta == 0.0f)
            zero_c(M, N, C, ldc);
        else if (beta != 1.0f)
            scale_c(beta, M, N, C, ldc);
        return;
    }
    float *ws = NULL;
    if (kernel > K_REF && kernel < K_COUNT && fer_gemm_kernel_supported(kernel))
        ws = thread_workspace();
    if (!ws) { /* the reference path, an unsupported one, or no memory */
        fer_gemm_ref(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_args g = {ta, tb, M, N, K, A, lda, B, ldb, C, ldc};
    gemm_blocked(isa_of[kernel], &g, beta, ws);
}

void fer_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc)
{
    fer_gemm_with(fer_gemm_kernel_active(), ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

/* ---- multi-threaded: static shares of N in whole NR panels (or of M in
 * whole MR panels when N has too few panels to go round). */

typedef struct mt_job {
    gemm_args g;
    int kernel, split_n, unit;
    float beta;
} mt_job;

static void mt_share(void *arg, int begin, int end, int thread)
{
    (void)thread;
    const mt_job *j = arg;
    const gemm_args *g = &j->g;
    int lo = begin * j->unit, hi = end * j->unit;
    if (j->split_n) {
        hi = hi < g->N ? hi : g->N;
        const float *b = g->tb ? g->B + (size_t)lo * g->ldb : g->B + lo;
        fer_gemm_with(j->kernel, g->ta, g->tb, g->M, hi - lo, g->K, g->A, g->lda, b, g->ldb,
                      j->beta, g->C + lo, g->ldc);
    } else {
        hi = hi < g->M ? hi : g->M;
        const float *a = g->ta ? g->A + lo : g->A + (size_t)lo * g->lda;
        fer_gemm_with(j->kernel, g->ta, g->tb, hi - lo, g->N, g->K, a, g->lda, g->B, g->ldb,
                      j->beta, g->C + (size_t)lo * g->ldc, g->ldc);
    }
}

void fer_gemm_mt(fer_pool *pool, int ta, int tb, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    int kernel = fer_gemm_kernel_active();
    int threads = fer_pool_threads(pool);
    if (threads <= 1 || M <= 0 || N <= 0) {
        fer_gemm_with(kernel, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const fer_gemm_isa *isa = isa_of[kernel];
    int nr = isa ? isa->nr : 16, mr = isa ? isa->mr : 4;
    int n_units = (N + nr - 1) / nr, m_units = (M + mr - 1) / mr;
    mt_job job = {{ta, tb, M, N, K, A, lda, B, ldb, C, ldc}, kernel, 1, nr, beta};
    if (n_units < 2 * threads && m_units > n_units) {
        job.split_n = 0;
        job.unit = mr;
    }
    fer_pool_for(pool, job.split_n ? n_units : m_units, mt_share, &job);
}
