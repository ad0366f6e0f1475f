/* fer-bench: performance measurements of libfer. A dispatcher only: each
 * mode lives in its own file and is listed in `modes` below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "fer.h"

typedef struct bench_mode {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} bench_mode;

static const bench_mode modes[] = {
    {"detect", bench_detect_main,
     "[--image PATH] [--iters 20] [--json]  face detection ms on a 640x480 photo (1 thread)"},
    {"faces", bench_faces_main,
     "[--image PATH] [--width W] [--iters 20] [--json]  the analyzer's face detection ms (1 thread)"},
    {"gemm", bench_gemm_main, "[--json]  single-thread SGEMM GFLOP/s per CNN shape and path"},
    {"train", bench_train_main,
     "[--batch 64] [--threads N] [--steps 20] [--arch F] [--json]  training images/s, GFLOP/s, peak RSS (paper CNN or --arch)"},
    {"infer", bench_infer_main,
     "[--batch 1] [--threads 1] [--iters 200] [--arch F] [--weights W] [--input X.f32] [--output P.f32] [--json]  latency (median, p95) and images/s"},
    {"predict", bench_predict_main,
     "[--image PATH] [--weights W] [--tta T] [--against W2 [--against-tta T2]] [--iters 50] [--json]\n"
     "          whole photo pipeline, 1 thread (with --against: two models side by side)"},
    {"layers", bench_layers_main,
     "[--batch 64] [--threads 1] [--iters 5] [--arch F]  per-layer forward/backward ms and GFLOP/s"},
};

static int usage(FILE *to)
{
    fprintf(to, "usage: fer-bench MODE [options]\nmodes:\n");
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        fprintf(to, "  %s %s\n", modes[i].name, modes[i].help);
    return to == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        return usage(stdout);
    if (!strcmp(argv[1], "--version"))
        return printf("fer-bench (libfer) %s\n", FER_VERSION) < 0;
    /* run from the source tree (as make bench does): shipped files such as
     * weights/ are found there, unless FER_DATA_DIR says otherwise */
    if (setenv("FER_DATA_DIR", ".", 0))
        return perror("fer-bench: setenv"), 1;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (!strcmp(argv[1], modes[i].name))
            return modes[i].run(argc - 2, argv + 2);
    fprintf(stderr, "fer-bench: unknown mode '%s'\n", argv[1]);
    return usage(stderr);
}
