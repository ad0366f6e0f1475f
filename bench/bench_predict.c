/* fer-bench predict: the whole fer-predict pipeline on one photo, one
 * thread, through the library's analyzer: decode (from the file each time),
 * then fer_analyze (proposals, verifier, emotion CNN, fusion with a heart
 * rate). Median wall time per stage over N runs. Weights: --weights and
 * --verifier (a file or a shipped name, as in the tools), else the shipped
 * ones. With --against W2, a second analyzer (emotion model W2 with
 * --against-tta) runs in alternation with the first on the same photo and
 * the ratios of the medians are printed: the side-by-side measure of a
 * model change's cost (issue 13: within 1.5x of the paper CNN with flips). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

#define DEFAULT_PHOTO "/usr/share/doc/opencv-doc/opencv4/html/astra_color.jpg"
#define PROG "fer-bench predict"

enum { DECODE, ANALYZE, TOTAL, N_STAGES };
static const char *const stage_names[N_STAGES] = {"decode", "analyze", "total"};

typedef struct {
    const char *weights, *tta_name;
    fer_tta tta;
    fer_analyzer *a;
    double *t;  /* N_STAGES seconds per run, run 0 (warm-up) first */
    double med[N_STAGES];
    size_t faces;
} config;

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

/* The analyzer of c (its emotion model resolved as the tools do). */
static int config_open(config *c, const char *verifier, int iters, fer_error *err)
{
    char wbuf[4096], vbuf[4096];
    const char *w = cli_weights_file(PROG, c->weights, wbuf, sizeof wbuf);
    const char *v = cli_data_file(PROG, verifier, CLI_VERIFIER, "verifier", vbuf, sizeof vbuf);
    if (!w || !v || !cli_parse_tta(PROG, "--tta", c->tta_name, &c->tta))
        return 0;
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    o.emotion_model = w;
    o.verifier_model = v;
    o.tta = c->tta;
    o.threads = 1;
    c->t = malloc(sizeof *c->t * N_STAGES * (size_t)(iters + 1));
    if (!c->t)
        return fprintf(stderr, PROG ": out of memory\n"), 0;
    if (fer_analyzer_new(&o, &c->a, err))
        return fprintf(stderr, PROG ": %s: %s\n", w, err->msg), 0;
    return 1;
}

static int config_medians(config *c, int iters)
{
    double *col = malloc(sizeof *col * (size_t)iters);
    if (!col)
        return fprintf(stderr, PROG ": out of memory\n"), 0;
    for (int s = 0; s < N_STAGES; s++) {
        for (int i = 0; i < iters; i++)
            col[i] = c->t[N_STAGES * (i + 1) + s];
        qsort(col, (size_t)iters, sizeof *col, bench_by_value);
        c->med[s] = col[iters / 2] * 1e3;
    }
    free(col);
    return 1;
}

static void config_print(const config *c, const char *image, int iters, int json)
{
    const char *w = c->weights ? c->weights : "default", *tta = cli_tta_name(c->tta);
    if (json) {
        printf("{\"image\": \"%s\", \"weights\": \"%s\", \"tta\": \"%s\", \"faces\": %zu, "
               "\"iters\": %d", image, w, tta, c->faces, iters);
        for (int s = 0; s < N_STAGES; s++)
            printf(", \"%s_ms_median\": %.3f", stage_names[s], c->med[s]);
        printf("}\n");
        return;
    }
    printf("predict %s, weights %s, tta %s: %zu faces, 1 thread, median of %d:", image, w,
           tta, c->faces, iters);
    for (int s = 0; s < N_STAGES; s++)
        printf(" %s %.2f ms%s", stage_names[s], c->med[s], s + 1 < N_STAGES ? "," : "\n");
}

int bench_predict_main(int argc, char **argv)
{
    const char *image = DEFAULT_PHOTO, *verifier = NULL;
    config cf[2] = {{0}, {0}};
    int iters = 50, json = 0, n = 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--image") && i + 1 < argc)
            image = argv[++i];
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc)
            cf[0].weights = argv[++i];
        else if (!strcmp(argv[i], "--tta") && i + 1 < argc)
            cf[0].tta_name = argv[++i];
        else if (!strcmp(argv[i], "--against") && i + 1 < argc)
            cf[1].weights = argv[++i], n = 2;
        else if (!strcmp(argv[i], "--against-tta") && i + 1 < argc)
            cf[1].tta_name = argv[++i];
        else if (!strcmp(argv[i], "--verifier") && i + 1 < argc)
            verifier = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: " PROG " [--image PATH] [--weights W] [--tta T] [--against W2] "
                            "[--against-tta T2] [--verifier W] [--iters 50] [--json]\n");
            return 2;
        }
    }
    if (iters < 1 || iters > 100000)
        iters = 50;
    fer_error err;
    int ok = 1;
    for (int c = 0; ok && c < n; c++)
        ok = config_open(&cf[c], verifier, iters, &err);
    for (int i = 0; ok && i <= iters; i++) /* run 0 warms the caches; the two alternate */
        for (int c = 0; ok && c < n; c++)
            if (!(ok = run_once(image, cf[c].a, cf[c].t + N_STAGES * i, &cf[c].faces, &err)))
                fprintf(stderr, PROG ": %s\n", err.msg);
    for (int c = 0; ok && c < n; c++)
        if ((ok = config_medians(&cf[c], iters)))
            config_print(&cf[c], image, iters, json);
    if (ok && n == 2) {
        if (json)
            printf("{\"ratio_analyze\": %.3f, \"ratio_total\": %.3f}\n",
                   cf[0].med[ANALYZE] / cf[1].med[ANALYZE], cf[0].med[TOTAL] / cf[1].med[TOTAL]);
        else
            printf("ratio %s / %s: analyze %.2fx, total %.2fx\n",
                   cf[0].weights ? cf[0].weights : "default", cf[1].weights,
                   cf[0].med[ANALYZE] / cf[1].med[ANALYZE], cf[0].med[TOTAL] / cf[1].med[TOTAL]);
    }
    for (int c = 0; c < n; c++)
        free(cf[c].t), fer_analyzer_free(cf[c].a);
    return ok ? 0 : 1;
}
