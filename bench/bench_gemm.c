/* fer-bench gemm: single-thread GFLOP/s of every SGEMM path on the CNN's
 * own multiplies (forward, dW and dX of each layer), next to the measured
 * FMA peak of one core. --json prints the figures as JSON for
 * bench/compare-gemm.py, which adds torch.mm and the ratios. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/core.h"
#include "nn/gemm.h"

typedef struct shape {
    const char *name;
    int ta, tb, M, N, K;
} shape;

/* As conv.c and dense.c call fer_gemm for one 48x48 image (conv) and a
 * batch of 64 (dense): conv forward W[oc x kk] col[kk x hw], dW = dY col^T,
 * dCol = W^T dY; dense forward X[n x in] W[in x units]. */
static const shape shapes[] = {
    {"conv1 fwd", 0, 0, 32, 2116, 9},      {"conv2 fwd", 0, 0, 64, 1936, 288},
    {"conv3 fwd", 0, 0, 128, 400, 576},    {"conv4 fwd", 0, 0, 128, 64, 1152},
    {"conv1 dW", 0, 1, 32, 9, 2116},       {"conv2 dW", 0, 1, 64, 288, 1936},
    {"conv3 dW", 0, 1, 128, 576, 400},     {"conv4 dW", 0, 1, 128, 1152, 64},
    {"conv2 dX", 1, 0, 288, 1936, 64},     {"conv3 dX", 1, 0, 576, 400, 128},
    {"conv4 dX", 1, 0, 1152, 64, 128},     {"dense1 fwd", 0, 0, 64, 1024, 2048},
    {"dense1 dW", 1, 0, 2048, 1024, 64},   {"dense1 dX", 0, 1, 64, 2048, 1024},
    {"dense2 fwd", 0, 0, 64, 7, 1024},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])
#define MAX_PATHS 8

/* Seconds of CPU time of the calling thread: on a machine shared with other
 * jobs, time spent descheduled is not counted (wall time would be). */
/* ---- peak: independent FMA chains, more than latency x pipes */

#define CHAINS 12

static __attribute__((target("avx512f"))) float fma_loop_avx512(long iters, float x)
{
    __m512 acc[CHAINS], m = _mm512_set1_ps(x), c = _mm512_set1_ps(1e-9f);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], m, c);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

static __attribute__((target("avx2,fma"))) float fma_loop_avx2(long iters, float x)
{
    __m256 acc[CHAINS], m = _mm256_set1_ps(x), c = _mm256_set1_ps(1e-9f);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], m, c);
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm256_add_ps(s, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    return lanes[0] + lanes[7];
}

/* Best of 40 runs of 2.4e7 FMAs (about 10 ms each: short runs are likelier
 * to find the core to themselves on a shared machine); GFLOP/s = 2 flops x
 * lanes per FMA. */
static double peak_gflops(int avx512, volatile float *sink)
{
    long iters = 2000000;
    double best = 1e30;
    for (int t = 0; t < 40; t++) {
        double t0 = bench_cpu_now();
        *sink += avx512 ? fma_loop_avx512(iters, 0.999999f) : fma_loop_avx2(iters, 0.999999f);
        double dt = bench_cpu_now() - t0;
        best = dt < best ? dt : best;
    }
    return 2.0 * (avx512 ? 16 : 8) * CHAINS * (double)iters / best / 1e9;
}

/* ---- timing one multiply */

typedef struct operands {
    float *A, *B, *C;
} operands;

static int operands_alloc(operands *o, const shape *s, fer_rng *r)
{
    size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
    o->A = fer_aligned_alloc(na * sizeof(float));
    o->B = fer_aligned_alloc(nb * sizeof(float));
    o->C = fer_aligned_alloc(nc * sizeof(float));
    if (!o->A || !o->B || !o->C)
        return -1;
    for (size_t i = 0; i < na; i++)
        o->A[i] = (float)fer_rng_uniform(r) - 0.5f;
    for (size_t i = 0; i < nb; i++)
        o->B[i] = (float)fer_rng_uniform(r) - 0.5f;
    return 0;
}

static void operands_free(operands *o)
{
    fer_aligned_free(o->A);
    fer_aligned_free(o->B);
    fer_aligned_free(o->C);
}

static void run(int path, const shape *s, const operands *o, long reps)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    for (long i = 0; i < reps; i++)
        fer_gemm_with(path, s->ta, s->tb, s->M, s->N, s->K, o->A, lda, o->B, ldb, 0.0f, o->C,
                      s->N);
}

/* Seconds per call: batches grow until one takes 20 ms, then the best of
 * `trials` batches (the machine is shared: the minimum is the least noisy).
 * The reference is slow, so it gets one trial. */
static double seconds_per_call(int path, const shape *s, const operands *o)
{
    run(path, s, o, 1); /* warm caches and the workspace */
    long reps = 1;
    double dt;
    while ((dt = bench_cpu_now(), run(path, s, o, reps), dt = bench_cpu_now() - dt) < 0.02 && reps < 1L << 20)
        reps *= 2;
    double best = dt / (double)reps;
    int trials = path == 0 ? 1 : 5;
    for (int t = 1; t < trials; t++) {
        double t0 = bench_cpu_now();
        run(path, s, o, reps);
        double per = (bench_cpu_now() - t0) / (double)reps;
        best = per < best ? per : best;
    }
    return best;
}

/* ---- output */

static void print_table(const double g[][MAX_PATHS], int np, int only, double peak512,
                        double peak2)
{
    printf("single-thread SGEMM, GFLOP/s of thread CPU time (best of 5; ref: one run)\n");
    printf("FMA peak of one core: avx512 %.1f, avx2 %.1f GFLOP/s\n", peak512, peak2);
    printf("%-11s %2s %2s %5s %5s %5s", "shape", "ta", "tb", "M", "N", "K");
    for (int p = 0; p < np; p++)
        printf(" %8s", fer_gemm_kernel_name(p));
    printf(" %7s\n", "%peak");
    for (size_t i = 0; i < N_SHAPES; i++) {
        const shape *s = &shapes[i];
        printf("%-11s %2d %2d %5d %5d %5d", s->name, s->ta, s->tb, s->M, s->N, s->K);
        for (int p = 0; p < np; p++)
            g[i][p] > 0 ? printf(" %8.1f", g[i][p]) : printf(" %8s", "-");
        int act = only >= 0 ? only : fer_gemm_kernel_active();
        printf(" %6.0f%%\n", peak512 > 0 ? 100 * g[i][act] / peak512 : 0);
    }
}

static void print_json(const double g[][MAX_PATHS], int np, int only, double peak512,
                       double peak2)
{
    printf("{\"peak_gflops\": {\"avx512\": %.3f, \"avx2\": %.3f},\n", peak512, peak2);
    (void)only;
    printf(" \"active\": \"%s\",\n \"shapes\": [\n", fer_gemm_kernel_name(fer_gemm_kernel_active()));
    for (size_t i = 0; i < N_SHAPES; i++) {
        const shape *s = &shapes[i];
        printf("  {\"name\": \"%s\", \"ta\": %d, \"tb\": %d, \"M\": %d, \"N\": %d, \"K\": %d, "
               "\"gflops\": {",
               s->name, s->ta, s->tb, s->M, s->N, s->K);
        int first = 1;
        for (int p = 0; p < np; p++)
            if (g[i][p] > 0) {
                printf("%s\"%s\": %.3f", first ? "" : ", ", fer_gemm_kernel_name(p), g[i][p]);
                first = 0;
            }
        printf("}}%s\n", i + 1 < N_SHAPES ? "," : "");
    }
    printf(" ]}\n");
}

static int path_named(const char *name)
{
    for (int p = 0; p < fer_gemm_kernel_count(); p++)
        if (!strcmp(fer_gemm_kernel_name(p), name))
            return p;
    return -1;
}

int bench_gemm_main(int argc, char **argv)
{
    int json = 0, only = -1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--path") && i + 1 < argc) {
            if ((only = path_named(argv[++i])) < 0) {
                fprintf(stderr, "fer-bench gemm: --path %s: no such path\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: fer-bench gemm [--json] [--path ref|c|avx2|avx512]\n");
            return 2;
        }
    }
    int np = fer_gemm_kernel_count() < MAX_PATHS ? fer_gemm_kernel_count() : MAX_PATHS;
    volatile float sink = 0;
    double peak512 = fer_gemm_kernel_supported(path_named("avx512")) ? peak_gflops(1, &sink) : 0;
    double peak2 = fer_gemm_kernel_supported(path_named("avx2")) ? peak_gflops(0, &sink) : 0;
    static double g[N_SHAPES][MAX_PATHS];
    fer_rng r;
    fer_rng_seed(&r, 42);
    for (size_t i = 0; i < N_SHAPES; i++) {
        operands o;
        if (operands_alloc(&o, &shapes[i], &r) != 0) {
            operands_free(&o);
            fprintf(stderr, "fer-bench gemm: out of memory for %s\n", shapes[i].name);
            return 1;
        }
        double flops = 2.0 * shapes[i].M * shapes[i].N * shapes[i].K;
        for (int p = 0; p < np; p++)
            g[i][p] = fer_gemm_kernel_supported(p) && (only < 0 || p == only)
                          ? flops / seconds_per_call(p, &shapes[i], &o) / 1e9
                          : 0;
        operands_free(&o);
    }
    (json ? print_json : print_table)(g, np, only, peak512, peak2);
    return 0;
}
