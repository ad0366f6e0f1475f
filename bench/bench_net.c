/* fer-bench train / infer: the paper CNN end to end, as fer-train and
 * fer-predict run it. train times fer_model_train_step on batches converted
 * from a uint8 data set held like fer-train's (so peak RSS is that of a real
 * training run); infer times fer_model_predict per call and reports the
 * median and 95th percentile latency, or images/s for large batches.
 * Wall-clock time: bench/compare-pytorch runs PyTorch the same way.
 * --weights loads a weights file instead of the Glorot-initialised paper
 * CNN; infer's --input reads the batch (raw float32, batch x 48 x 48, already
 * preprocessed) and --output writes the probabilities of the last call (raw
 * float32, batch x classes): bench/compare-onnxruntime feeds onnxruntime the
 * same network, weights and batch and compares the outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "cli.h"
#include "nn/gemm.h"
#include "nn/model.h"

typedef struct net_opts {
    int batch, threads, steps, warmup, json;
    long dataset;     /* uint8 images held in memory (train) */
    const char *arch;    /* --arch FILE.json instead of the paper CNN */
    const char *weights; /* --weights FILE.safetensors instead of either */
    const char *input, *output; /* infer: the batch read, the probabilities written */
} net_opts;

static int parse_opts(const char *mode, int argc, char **argv, net_opts *o)
{
    for (int i = 0; i < argc; i++) {
        long v;
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int *dst = !strcmp(a, "--batch")                           ? &o->batch
                   : !strcmp(a, "--threads")                       ? &o->threads
                   : !strcmp(a, "--steps") || !strcmp(a, "--iters") ? &o->steps
                   : !strcmp(a, "--warmup")                        ? &o->warmup
                                                                   : NULL;
        if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (dst && val &&
                   cli_parse_long(val, dst == &o->warmup ? 0 : 1,
                                  dst == &o->batch ? 4096 : dst == &o->threads ? 256 : 1000000,
                                  &v)) {
            *dst = (int)v;
            i++;
        } else if (!strcmp(a, "--dataset") && val && cli_parse_long(val, 0, 1000000, &v)) {
            o->dataset = v;
            i++;
        } else if (!strcmp(a, "--arch") && val) {
            o->arch = val;
            i++;
        } else if (!strcmp(a, "--weights") && val) {
            o->weights = val;
            i++;
        } else if (!strcmp(mode, "infer") && (!strcmp(a, "--input") || !strcmp(a, "--output")) &&
                   val) {
            *(a[2] == 'i' ? &o->input : &o->output) = val;
            i++;
        } else {
            int known = dst || !strcmp(a, "--dataset") || !strcmp(a, "--arch") ||
                        !strcmp(a, "--weights");
            fprintf(stderr, "fer-bench %s: ", mode);
            if (known)
                fprintf(stderr, "%s: bad or missing value '%s'\n", a, val ? val : "");
            else
                fprintf(stderr, "unknown option '%s'\n", a);
            fprintf(stderr,
                    "usage: fer-bench %s [--batch N] [--threads N] [--%s N] [--warmup N] "
                    "[--dataset IMAGES] [--arch FILE.json] [--weights FILE.safetensors]%s "
                    "[--json]\n(batch 1..4096, threads 1..256)\n",
                    mode, strcmp(mode, "train") ? "iters" : "steps",
                    strcmp(mode, "infer") ? "" : " [--input X.f32] [--output PROBS.f32]");
            return 0;
        }
    }
    return 1;
}

/* Multiply-adds x 2 of one image's forward pass, and of the two backward
 * products (dW, dX; the first layer has no dX). */
static void flops_per_image(const fer_model *m, double *fwd, double *train)
{
    *fwd = *train = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const fer_layer *l = &m->layers[i];
        double f = l->ops->flops ? l->ops->flops(l) : 0;
        *fwd += f;
        *train += f * (i ? 3 : 2);
    }
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

/* CPU seconds of the whole process (every thread), for the CPU/wall ratio
 * that shows how many threads really ran. */
static double process_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* The paper CNN, or the architecture in arch, or the model in the weights
 * file (a 1x48x48 input, 7 classes). */
static fer_model *make_model(const char *arch, const char *weights, int threads)
{
    fer_model *m = NULL;
    fer_error err = {0};
    char *json = NULL;
    size_t len;
    int c = 1, h = 48, w = 48;
    if ((weights ? fer_model_load(weights, &m, &err)
         : arch  ? fer_file_read(arch, 1 << 20, &json, &len, &err) ||
                      fer_model_from_json(json, 1, &m, &err)
                 : fer_model_paper_cnn(FER_N_EMOTIONS, NULL, 1, &m, &err)) ||
        fer_model_set_threads(m, threads, &err)) {
        fprintf(stderr, "fer-bench: %s\n", err.msg);
        fer_model_free(m);
        free(json);
        return NULL;
    }
    free(json);
    fer_model_input_shape(m, &c, &h, &w);
    if (c != 1 || h != 48 || w != 48 || fer_model_n_classes(m) != FER_N_EMOTIONS) {
        fprintf(stderr, "fer-bench: %s: needs a 1x48x48 input and %d classes\n",
                weights ? weights : arch, FER_N_EMOTIONS);
        fer_model_free(m);
        return NULL;
    }
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A deterministic stand-in for FER2013: pixels and labels from a seeded rng. */
static uint8_t *fake_dataset(size_t n, size_t px, int *labels, int n_labels, fer_rng *r)
{
    uint8_t *d = malloc(n * px);
    for (size_t i = 0; d && i < n * px; i += 8) {
        uint64_t v = fer_rng_u64(r);
        memcpy(d + i, &v, n * px - i < 8 ? n * px - i : 8);
    }
    for (int i = 0; i < n_labels; i++)
        labels[i] = (int)fer_rng_below(r, FER_N_EMOTIONS);
    return d;
}

int bench_train_main(int argc, char **argv)
{
    net_opts o = {.batch = 64, .threads = 0, .steps = 20, .warmup = 2, .dataset = 35887};
    if (!parse_opts("train", argc, argv, &o))
        return 2;
    fer_model *m = make_model(o.arch, o.weights, o.threads);
    if (!m)
        return 1;
    size_t px = 48 * 48, n_data = o.dataset > o.batch ? (size_t)o.dataset : (size_t)o.batch;
    fer_rng r;
    fer_rng_seed(&r, 7);
    int *labels = malloc((size_t)o.batch * sizeof *labels);
    float *x = fer_aligned_alloc((size_t)o.batch * px * sizeof *x);
    uint8_t *data = labels ? fake_dataset(n_data, px, labels, o.batch, &r) : NULL;
    fer_optim *opt = NULL;
    fer_optim_opts adam;
    fer_optim_opts_default(&adam, FER_ADAM);
    adam.lr = 1e-4f;
    fer_error err = {0};
    int rc = 1;
    if (!data || !x || fer_optim_new(m, &adam, &opt, &err)) {
        fprintf(stderr, "fer-bench train: %s\n", err.msg[0] ? err.msg : "out of memory");
        goto done;
    }
    double t0 = 0, c0 = 0;
    for (int s = 0; s < o.warmup + o.steps; s++) {
        if (s == o.warmup) {
            t0 = cli_now();
            c0 = process_cpu_s();
        }
        for (int i = 0; i < o.batch; i++) /* converted per batch, as fer-train does */
            fer_preprocess(data + (size_t)fer_rng_below(&r, (uint32_t)n_data) * px, px,
                           x + (size_t)i * px);
        if (fer_model_train_step(m, opt, &r, x, labels, o.batch, NULL, NULL, NULL, &err)) {
            fprintf(stderr, "fer-bench train: %s\n", err.msg);
            goto done;
        }
    }
    double secs = cli_now() - t0, cpu_per_wall = (process_cpu_s() - c0) / secs, fwd, train;
    flops_per_image(m, &fwd, &train);
    double ips = (double)o.batch * o.steps / secs;
    if (o.json)
        printf("{\"batch\": %d, \"threads\": %d, \"steps\": %d, \"images_per_s\": %.1f, "
               "\"gflops\": %.1f, \"peak_rss_mb\": %.1f, \"dataset_images\": %zu, "
               "\"cpu_per_wall\": %.2f}\n",
               o.batch, m->threads, o.steps, ips, ips * train * 1e-9, peak_rss_mb(), n_data,
               cpu_per_wall);
    else
        printf("train batch %d, %d threads: %.1f images/s, %.1f GFLOP/s, peak RSS %.1f MB "
               "(with %zu uint8 images)\n",
               o.batch, m->threads, ips, ips * train * 1e-9, peak_rss_mb(), n_data);
    rc = 0;
done:
    fer_optim_free(opt);
    fer_model_free(m);
    free(data);
    free(labels);
    fer_aligned_free(x);
    return rc;
}

int bench_infer_main(int argc, char **argv)
{
    net_opts o = {.batch = 1, .threads = 1, .steps = 200, .warmup = 5};
    if (!parse_opts("infer", argc, argv, &o))
        return 2;
    fer_model *m = make_model(o.arch, o.weights, o.threads);
    if (!m)
        return 1;
    size_t px = 48 * 48;
    float *x = fer_aligned_alloc((size_t)o.batch * px * sizeof *x);
    float *probs = malloc((size_t)o.batch * FER_N_EMOTIONS * sizeof *probs);
    double *lat = malloc((size_t)o.steps * sizeof *lat);
    double *cpu = malloc((size_t)o.steps * sizeof *cpu);
    fer_error err = {0};
    int rc = 1;
    if (!x || !probs || !lat || !cpu) {
        fprintf(stderr, "fer-bench infer: out of memory\n");
        goto done;
    }
    if (o.input) { /* raw float32, at least batch images */
        char *raw = NULL;
        size_t len = 0, want = (size_t)o.batch * px * sizeof *x;
        if (fer_file_read(o.input, want + (1u << 30), &raw, &len, &err) || len < want) {
            fprintf(stderr, "fer-bench infer: %s\n",
                    err.msg[0] ? err.msg : "--input holds fewer than --batch images");
            free(raw);
            goto done;
        }
        memcpy(x, raw, want);
        free(raw);
    } else {
        fer_rng r;
        fer_rng_seed(&r, 3);
        for (size_t i = 0; i < (size_t)o.batch * px; i++)
            x[i] = (float)fer_rng_uniform(&r);
    }
    double wall0 = 0, cpu0 = 0;
    for (int s = 0; s < o.warmup + o.steps; s++) {
        if (s == o.warmup) {
            wall0 = cli_now();
            cpu0 = process_cpu_s();
        }
        double t = cli_now(), c = process_cpu_s();
        if (fer_model_predict(m, x, o.batch, probs, &err)) {
            fprintf(stderr, "fer-bench infer: %s\n", err.msg);
            goto done;
        }
        if (s >= o.warmup) {
            lat[s - o.warmup] = (cli_now() - t) * 1e3;
            cpu[s - o.warmup] = (process_cpu_s() - c) * 1e3;
        }
    }
    double cpu_per_wall = (process_cpu_s() - cpu0) / (cli_now() - wall0), total = 0,
           total_cpu = 0;
    for (int s = 0; s < o.steps; s++) {
        total += lat[s];
        total_cpu += cpu[s];
    }
    if (o.output &&
        fer_file_write_atomic(o.output, probs,
                              (size_t)o.batch * FER_N_EMOTIONS * sizeof *probs, &err)) {
        fprintf(stderr, "fer-bench infer: %s\n", err.msg);
        goto done;
    }
    qsort(lat, (size_t)o.steps, sizeof *lat, cmp_double);
    qsort(cpu, (size_t)o.steps, sizeof *cpu, cmp_double);
    double med = lat[o.steps / 2], p95 = lat[(int)(0.95 * (o.steps - 1))];
    double ips = o.batch * o.steps / (total * 1e-3);
    if (o.json)
        printf("{\"batch\": %d, \"threads\": %d, \"iters\": %d, \"latency_ms_median\": %.3f, "
               "\"latency_ms_p95\": %.3f, \"images_per_s\": %.1f, \"peak_rss_mb\": %.1f, "
               "\"cpu_ms_median\": %.3f, \"images_per_cpu_s\": %.1f, \"cpu_per_wall\": %.2f, "
               "\"gemm\": \"%s\"}\n",
               o.batch, m->threads, o.steps, med, p95, ips, peak_rss_mb(), cpu[o.steps / 2],
               o.batch * o.steps / (total_cpu * 1e-3), cpu_per_wall,
               fer_gemm_kernel_name(fer_gemm_kernel_active()));
    else
        printf("infer batch %d, %d threads: median %.3f ms, p95 %.3f ms, %.1f images/s "
               "(CPU/wall %.2f, GEMM %s)\n",
               o.batch, m->threads, med, p95, ips, cpu_per_wall,
               fer_gemm_kernel_name(fer_gemm_kernel_active()));
    rc = 0;
done:
    fer_model_free(m);
    fer_aligned_free(x);
    free(probs);
    free(lat);
    free(cpu);
    return rc;
}

/* ---- fer-bench layers: time and GFLOP/s of each layer's forward and
 * backward (dW + dX) pass on a batch, through the same layer functions the
 * model calls; best of --iters. */

static double best_of(int iters, void (*fn)(void *), void *arg)
{
    double best = 1e30;
    for (int i = 0; i < iters; i++) {
        double t = cli_now();
        fn(arg);
        t = cli_now() - t;
        best = t < best ? t : best;
    }
    return best;
}

typedef struct layer_run {
    fer_model *m;
    fer_exec e;
    int i;
    const float *in;
    float *dy, *dx;
} layer_run;

static void run_forward(void *arg)
{
    layer_run *r = arg;
    fer_layer *l = &r->m->layers[r->i];
    float *out = r->m->act[r->i];
    l->ops->forward(l, &r->e, &r->in, out);
}

static void run_backward(void *arg)
{
    layer_run *r = arg;
    fer_layer *l = &r->m->layers[r->i];
    float *y = r->m->act[r->i], *dx = r->i ? r->dx : NULL;
    l->ops->backward(l, &r->e, &r->in, y, r->dy, &dx);
}

int bench_layers_main(int argc, char **argv)
{
    net_opts o = {.batch = 64, .threads = 1, .steps = 5};
    if (!parse_opts("layers", argc, argv, &o))
        return 2;
    fer_model *m = make_model(o.arch, o.weights, o.threads);
    if (!m)
        return 1;
    size_t px = 48 * 48, big = px;
    for (int i = 0; i < m->n_layers; i++)
        big = fer_layer_out_size(&m->layers[i]) > big ? fer_layer_out_size(&m->layers[i]) : big;
    float *x = fer_aligned_alloc((size_t)o.batch * px * sizeof *x);
    int *labels = calloc((size_t)o.batch, sizeof *labels);
    float *dy = fer_aligned_alloc((size_t)o.batch * big * sizeof *dy);
    float *dx = fer_aligned_alloc((size_t)o.batch * big * sizeof *dx);
    fer_error err = {0};
    int rc = 1;
    fer_rng r;
    fer_rng_seed(&r, 5);
    if (!x || !labels || !dy || !dx)
        goto done;
    for (size_t i = 0; i < (size_t)o.batch * px; i++)
        x[i] = (float)fer_rng_uniform(&r);
    /* sizes the buffers (one a layer) and the scratch for backward */
    if (fer_model_gradients(m, x, labels, o.batch, NULL, &err)) {
        fprintf(stderr, "fer-bench layers: %s\n", err.msg);
        goto done;
    }
    printf("%-3s %-8s %12s %10s %9s %10s %9s %10s\n", "#", "layer", "out shape", "fwd ms",
           "GFLOP/s", "bwd ms", "GFLOP/s", "infer ms");
    double tf = 0, tb = 0, ti = 0;
    for (int i = 0; i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        if (l->ops->alias || l->n_in != 1 || l->in[0] != i - 1)
            continue; /* a reshape, or a node off the chain (its inputs are not the previous output) */
        fer_exec e = {m->pool, m->threads, m->scratch, o.batch, 1, 1, &r};
        layer_run run = {m, e, i, i ? m->act[i - 1] : x, dy, dx};
        for (size_t k = 0; k < (size_t)o.batch * fer_layer_out_size(l); k++)
            dy[k] = (float)fer_rng_uniform(&r) - 0.5f;
        double f = (l->ops->flops ? l->ops->flops(l) : 0) * o.batch;
        double fwd = best_of(o.steps, run_forward, &run);
        double bwd = best_of(o.steps, run_backward, &run);
        /* the same forward as inference runs it: running statistics, no dropout */
        run.e = (fer_exec){m->pool, m->threads, m->scratch, o.batch, 0, 0, NULL};
        double inf = best_of(o.steps, run_forward, &run);
        tf += fwd;
        tb += bwd;
        ti += inf;
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%d", l->oc, l->oh, l->ow);
        printf("%-3d %-8s %12s %10.3f %9.1f %10.3f %9.1f %10.3f\n", i, l->ops->type, shape,
               fwd * 1e3, f ? f / fwd * 1e-9 : 0, bwd * 1e3,
               f ? f * (i ? 2 : 1) / bwd * 1e-9 : 0, inf * 1e3);
    }
    printf("total: forward %.2f ms, backward %.2f ms, inference forward %.2f ms for %d images, "
           "%d thread(s)\n", tf * 1e3, tb * 1e3, ti * 1e3, o.batch, m->threads);
    rc = 0;
done:
    fer_model_free(m);
    fer_aligned_free(x);
    fer_aligned_free(dy);
    fer_aligned_free(dx);
    free(labels);
    return rc;
}
