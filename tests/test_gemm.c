/* Every SGEMM path the CPU supports against the reference triple loop:
 * all transpose combinations, beta 0 and 1, odd and CNN-sized shapes,
 * padded leading dimensions; the multi-threaded entry point too. */
#include "core/core.h"
#include "nn/gemm.h"
#include "testutil.h"

/* One problem: op(A) M x K, op(B) K x N, stored with padded leading
 * dimensions; C has a sentinel in its padding to catch stray stores. */
typedef struct problem {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float beta;
    float *A, *B, *C0; /* C0: C before the call */
    size_t a_n, b_n, c_n;
} problem;

#define SENTINEL 12345.0f

static void problem_make(problem *p, fer_rng *r, int ta, int tb, int M, int N, int K, float beta,
                         int pad)
{
    *p = (problem){ta, tb, M, N, K, 0, 0, N + pad, beta, NULL, NULL, NULL, 0, 0, 0};
    int a_rows = ta ? K : M, a_cols = ta ? M : K;
    int b_rows = tb ? N : K, b_cols = tb ? K : N;
    p->lda = a_cols + pad;
    p->ldb = b_cols + pad;
    p->a_n = (size_t)a_rows * p->lda;
    p->b_n = (size_t)b_rows * p->ldb;
    p->c_n = (size_t)M * p->ldc;
    p->A = malloc((p->a_n + 1) * sizeof(float));
    p->B = malloc((p->b_n + 1) * sizeof(float));
    p->C0 = malloc((p->c_n + 1) * sizeof(float));
    ck_assert(p->A && p->B && p->C0);
    tu_fill_uniform(r, p->A, p->a_n, -1, 1);
    tu_fill_uniform(r, p->B, p->b_n, -1, 1);
    tu_fill_uniform(r, p->C0, p->c_n, -1, 1);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            if (beta == 0) /* beta 0 must ignore C, NaN included */
                p->C0[(size_t)i * p->ldc + j] = NAN;
    for (int i = 0; i < M; i++)
        for (int j = N; j < p->ldc; j++)
            p->C0[(size_t)i * p->ldc + j] = SENTINEL;
}

static void problem_free(problem *p)
{
    free(p->A);
    free(p->B);
    free(p->C0);
}

static float *problem_run(const problem *p, int kernel)
{
    float *C = malloc((p->c_n + 1) * sizeof(float));
    ck_assert(C);
    memcpy(C, p->C0, p->c_n * sizeof(float));
    fer_gemm_with(kernel, p->ta, p->tb, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, p->beta, C,
                  p->ldc);
    return C;
}

/* |got - want| within 1e-5 per accumulated product (inputs are in [-1,1]),
 * and the padding of C untouched. */
static void expect_close(const problem *p, const float *want, const float *got, const char *what)
{
    float tol = 1e-5f * (float)(p->K + 1);
    for (int i = 0; i < p->M; i++) {
        const float *w = want + (size_t)i * p->ldc, *g = got + (size_t)i * p->ldc;
        float d = tu_max_abs_diff(w, g, (size_t)p->N);
        ck_assert_msg(d <= tol, "%s ta=%d tb=%d %dx%dx%d beta=%g row %d: error %g > %g", what,
                      p->ta, p->tb, p->M, p->N, p->K, p->beta, i, d, tol);
        for (int j = p->N; j < p->ldc; j++)
            ck_assert_msg(g[j] == SENTINEL, "%s ta=%d tb=%d %dx%dx%d: padding C[%d][%d] written",
                          what, p->ta, p->tb, p->M, p->N, p->K, i, j);
    }
}

/* Runs one shape on every supported path and compares with ref. */
static void check_shape(fer_rng *r, int ta, int tb, int M, int N, int K, float beta, int pad)
{
    problem p;
    problem_make(&p, r, ta, tb, M, N, K, beta, pad);
    float *want = problem_run(&p, 0);
    for (int k = 1; k < fer_gemm_kernel_count(); k++) {
        if (!fer_gemm_kernel_supported(k))
            continue;
        float *got = problem_run(&p, k);
        expect_close(&p, want, got, fer_gemm_kernel_name(k));
        free(got);
    }
    free(want);
    problem_free(&p);
}

static void check_all_modes(fer_rng *r, int M, int N, int K, int pad)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int b = 0; b < 2; b++)
                check_shape(r, ta, tb, M, N, K, (float)b, pad);
}

START_TEST(kernel_table)
{
    ck_assert_int_ge(fer_gemm_kernel_count(), 2);
    ck_assert_str_eq(fer_gemm_kernel_name(0), "ref");
    ck_assert_str_eq(fer_gemm_kernel_name(1), "c");
    ck_assert_ptr_null(fer_gemm_kernel_name(-1));
    ck_assert_ptr_null(fer_gemm_kernel_name(fer_gemm_kernel_count()));
    ck_assert(fer_gemm_kernel_supported(0) && fer_gemm_kernel_supported(1));
    ck_assert(!fer_gemm_kernel_supported(fer_gemm_kernel_count()));
    ck_assert(fer_gemm_kernel_supported(fer_gemm_kernel_active()));
    for (int k = 0; k < fer_gemm_kernel_count(); k++)
        printf("gemm path %-6s %s%s\n", fer_gemm_kernel_name(k),
               fer_gemm_kernel_supported(k) ? "supported" : "not supported on this CPU",
               k == fer_gemm_kernel_active() ? " (active)" : "");
}
END_TEST

START_TEST(degenerate_shapes)
{
    fer_rng r;
    fer_rng_seed(&r, 1);
    check_all_modes(&r, 1, 1, 1, 0);
    check_all_modes(&r, 1, 37, 1, 2);
    check_all_modes(&r, 29, 1, 13, 1);
    check_all_modes(&r, 1, 1, 300, 0);
    check_all_modes(&r, 1, 70, 45, 3);
}
END_TEST

/* Sizes 1..40 in each dimension, crossing every vector width and tile edge. */
START_TEST(odd_sizes)
{
    fer_rng r;
    fer_rng_seed(&r, 2);
    for (int s = 1; s <= 40; s++)
        check_all_modes(&r, s, 41 - s, (s * 7) % 40 + 1, s % 3);
    check_all_modes(&r, 17, 33, 65, 5);
}
END_TEST

/* K beyond one KC slice, M beyond one MC block. */
START_TEST(large_blocks)
{
    fer_rng r;
    fer_rng_seed(&r, 3);
    check_all_modes(&r, 301, 53, 600, 1);
    check_all_modes(&r, 9, 100, 1100, 0);
}
END_TEST

/* The CNN's own multiplies, with the transposes the layers use. */
START_TEST(cnn_shapes)
{
    static const int shapes[][5] = {
        /* ta tb M N K */
        {0, 0, 32, 2116, 9},    {0, 0, 64, 1936, 288}, {0, 0, 128, 400, 576},
        {0, 0, 128, 64, 1152},  {0, 1, 64, 1024, 2048}, {0, 1, 64, 7, 1024},
        {0, 1, 64, 288, 1936},  {1, 0, 288, 1936, 64}, {1, 0, 1152, 64, 128},
    };
    fer_rng r;
    fer_rng_seed(&r, 4);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int b = 0; b < 2; b++)
            check_shape(&r, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], shapes[i][4],
                        (float)b, 0);
}
END_TEST

/* K = 0 is an empty sum: C = beta * C. */
/* The packers' AVX2 transpose (8x8 and 4x8 blocks, scalar edges) equals
 * the portable one on every shape up to 13 x 19 and any destination stride. */
START_TEST(avx2_transpose_matches_portable)
{
    int avx2 = -1;
    for (int k = 0; k < fer_gemm_kernel_count(); k++)
        if (!strcmp(fer_gemm_kernel_name(k), "avx2"))
            avx2 = k;
    if (avx2 < 0 || !fer_gemm_kernel_supported(avx2)) {
        printf("avx2_transpose_matches_portable: skipped, no AVX2 here\n");
        return;
    }
    enum { R = 13, C = 19, LD = 23 };
    float src[R * LD], a[(C + 1) * (R + 5)], b[(C + 1) * (R + 5)];
    for (int i = 0; i < R * LD; i++)
        src[i] = (float)i;
    for (int rows = 1; rows <= R; rows++)
        for (int cols = 1; cols <= C; cols++)
            for (int extra = 0; extra <= 5; extra += 5) {
                int dst_ld = rows + extra;
                memset(a, 0, sizeof a);
                memset(b, 0, sizeof b);
                fer_gemm_transpose_c(rows, cols, src, LD, a, dst_ld);
                fer_gemm_transpose_avx2(rows, cols, src, LD, b, dst_ld);
                ck_assert_msg(!memcmp(a, b, sizeof a), "%d x %d, dst_ld %d", rows, cols, dst_ld);
            }
}
END_TEST

START_TEST(empty_k)
{
    for (int k = 1; k < fer_gemm_kernel_count(); k++) {
        if (!fer_gemm_kernel_supported(k))
            continue;
        float C[6] = {1, 2, 3, 4, 5, 6}, A[1] = {0}, B[1] = {0};
        fer_gemm_with(k, 0, 0, 2, 3, 0, A, 1, B, 3, 1.0f, C, 3);
        ck_assert(C[0] == 1 && C[5] == 6);
        fer_gemm_with(k, 0, 0, 2, 3, 0, A, 1, B, 3, 0.0f, C, 3);
        for (int i = 0; i < 6; i++)
            ck_assert(C[i] == 0);
    }
}
END_TEST

/* A path index out of range runs the reference rather than failing. */
START_TEST(unknown_path_falls_back)
{
    fer_rng r;
    fer_rng_seed(&r, 6);
    problem p;
    problem_make(&p, &r, 0, 1, 13, 21, 34, 1.0f, 2);
    float *want = problem_run(&p, 0);
    float *got = problem_run(&p, fer_gemm_kernel_count());
    ck_assert(memcmp(want, got, p.c_n * sizeof(float)) == 0);
    free(got);
    free(want);
    problem_free(&p);
}
END_TEST

static void check_mt(fer_rng *r, int threads, int ta, int tb, int M, int N, int K, float beta)
{
    fer_pool *pool;
    fer_error err;
    ck_assert_int_eq(fer_pool_new(threads, &pool, &err), FER_OK);
    problem p;
    problem_make(&p, r, ta, tb, M, N, K, beta, 1);
    float *want = problem_run(&p, 0);
    float *single = problem_run(&p, fer_gemm_kernel_active());
    float *runs[2];
    for (int t = 0; t < 2; t++) {
        runs[t] = malloc((p.c_n + 1) * sizeof(float));
        ck_assert(runs[t]);
        memcpy(runs[t], p.C0, p.c_n * sizeof(float));
        fer_gemm_mt(pool, ta, tb, M, N, K, p.A, p.lda, p.B, p.ldb, beta, runs[t], p.ldc);
    }
    expect_close(&p, want, runs[0], "mt");
    ck_assert_msg(memcmp(runs[0], runs[1], p.c_n * sizeof(float)) == 0,
                  "mt %d threads %dx%dx%d: two runs differ", threads, M, N, K);
    ck_assert_msg(memcmp(runs[0], single, p.c_n * sizeof(float)) == 0,
                  "mt %d threads %dx%dx%d: differs from fer_gemm", threads, M, N, K);
    free(runs[0]);
    free(runs[1]);
    free(single);
    free(want);
    problem_free(&p);
    fer_pool_free(pool);
}

START_TEST(multi_threaded)
{
    fer_rng r;
    fer_rng_seed(&r, 5);
    for (int threads = 1; threads <= 3; threads++) {
        check_mt(&r, threads, 0, 0, 64, 1936, 288, 0.0f);
        check_mt(&r, threads, 0, 1, 64, 1024, 700, 1.0f);
        check_mt(&r, threads, 1, 0, 288, 7, 64, 0.0f); /* narrow: splits M */
        check_mt(&r, threads, 1, 1, 5, 3, 17, 1.0f);   /* fewer panels than threads */
    }
}
END_TEST

static Suite *gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kernel_table);
    tcase_add_test(tc, degenerate_shapes);
    tcase_add_test(tc, odd_sizes);
    tcase_add_test(tc, large_blocks);
    tcase_add_test(tc, cnn_shapes);
    tcase_add_test(tc, empty_k);
    tcase_add_test(tc, avx2_transpose_matches_portable);
    tcase_add_test(tc, unknown_path_falls_back);
    tcase_add_test(tc, multi_threaded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(gemm_suite()); }
