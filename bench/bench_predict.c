/* fer-bench predict: the whole fer-predict pipeline on one photo, one
 * thread, through the library's analyzer: decode (from the file each time),
 * then fer_analyze (proposals, verifier, emotion CNN, fusion with a heart
 * rate). Median wall time per stage over N runs. Weights: --weights and
 * --verifier, else the shipped ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

#define DEFAULT_PHOTO "/usr/share/doc/opencv-doc/opencv4/html/astra_color.jpg"
#define SHIPPED "weights/fer-7class.safetensors"
#define SHIPPED_VERIFIER "weights/face-verifier.safetensors"

enum { DECODE, ANALYZE, TOTAL, N_STAGES };
static const char *const stage_names[N_STAGES] = {"decode", "analyze", "total"};

/* One pass of the pipeline; t[] receives each stage's seconds. */
static int run_once(const char *image, fer_analyzer *a, double *t, size_t *faces, fer_error *err)
{
    double t0 = cli_now();
    fer_image img;
    if (fer_image_load(image, 0, &img, err))
        return 0;
    double t1 = cli_now();
    fer_heart heart;
    fer_faces f;
    int ok = !fer_heart_from_bpm(88, NULL, &heart, err) && !fer_analyze(a, &img, &heart, &f, err);
    double t2 = cli_now();
    *faces = ok ? f.n : 0;
    if (ok)
        fer_faces_free(&f);
    fer_image_free(&img);
    t[DECODE] = t1 - t0, t[ANALYZE] = t2 - t1, t[TOTAL] = t2 - t0;
    return ok;
}

int bench_predict_main(int argc, char **argv)
{
    const char *image = DEFAULT_PHOTO, *weights = SHIPPED, *verifier = SHIPPED_VERIFIER;
    int iters = 50, json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--image") && i + 1 < argc)
            image = argv[++i];
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc)
            weights = argv[++i];
        else if (!strcmp(argv[i], "--verifier") && i + 1 < argc)
            verifier = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: fer-bench predict [--image PATH] [--weights W] [--verifier W] "
                            "[--iters 50] [--json]\n");
            return 2;
        }
    }
    if (iters < 1 || iters > 100000)
        iters = 50;
    fer_error err;
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    o.emotion_model = weights;
    o.verifier_model = verifier;
    o.threads = 1;
    fer_analyzer *a = NULL;
    double *t = malloc(sizeof *t * N_STAGES * (size_t)(iters + 1));
    size_t faces = 0;
    int ok = t && !fer_analyzer_new(&o, &a, &err);
    for (int i = 0; ok && i <= iters; i++) /* run 0 warms the caches */
        ok = run_once(image, a, t + N_STAGES * i, &faces, &err);
    if (!ok) {
        fprintf(stderr, "fer-bench predict: %s\n", t ? err.msg : "out of memory");
        free(t), fer_analyzer_free(a);
        return 1;
    }
    double med[N_STAGES], *col = malloc(sizeof *col * (size_t)iters);
    for (int s = 0; s < N_STAGES && col; s++) {
        for (int i = 0; i < iters; i++)
            col[i] = t[N_STAGES * (i + 1) + s];
        qsort(col, (size_t)iters, sizeof *col, bench_by_value);
        med[s] = col[iters / 2] * 1e3;
    }
    if (json) {
        printf("{\"image\": \"%s\", \"faces\": %zu, \"iters\": %d", image, faces, iters);
        for (int s = 0; s < N_STAGES; s++)
            printf(", \"%s_ms_median\": %.3f", stage_names[s], med[s]);
        printf("}\n");
    } else {
        printf("predict %s: %zu faces, 1 thread, median of %d:", image, faces, iters);
        for (int s = 0; s < N_STAGES; s++)
            printf(" %s %.2f ms%s", stage_names[s], med[s], s + 1 < N_STAGES ? "," : "\n");
    }
    free(col), free(t), fer_analyzer_free(a);
    return 0;
}
