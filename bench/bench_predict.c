/* fer-bench predict: the whole fer-predict pipeline on one photo, one
 * thread: decode (from the file each time), detect, crop+resize+normalise
 * every face, run the CNN, fuse with a heart rate. Median wall time per
 * stage over N runs. Weights: --weights, else the shipped 7-class model,
 * else a freshly initialised paper CNN (speed does not depend on values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "fer.h"

#define DEFAULT_PHOTO "/usr/share/doc/opencv-doc/opencv4/html/astra_color.jpg"
#define SHIPPED "weights/fer-7class.safetensors"

enum { DECODE, DETECT, CNN, FUSE, TOTAL, N_STAGES };
static const char *const stage_names[N_STAGES] = {"decode", "detect", "cnn", "fusion", "total"};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static fer_model *load_model(const char *path, fer_error *err)
{
    fer_model *m = NULL;
    FILE *f = fopen(path ? path : SHIPPED, "rb");
    if (f)
        fclose(f);
    if (path || f) {
        if (fer_model_load(path ? path : SHIPPED, &m, err))
            return NULL;
    } else if (fer_model_paper_cnn(FER_N_EMOTIONS, NULL, 1, &m, err)) {
        return NULL;
    }
    if (fer_model_set_threads(m, 1, err)) {
        fer_model_free(m);
        return NULL;
    }
    return m;
}

/* One pass of the pipeline; t[] receives each stage's seconds. */
static int run_once(const char *image, const fer_cascade *c, fer_model *m, double *t, size_t *faces,
                    fer_error *err)
{
    int ch, h, w;
    fer_model_input_shape(m, &ch, &h, &w);
    double t0 = now();
    fer_image img;
    if (fer_image_load(image, 0, &img, err))
        return 0;
    double t1 = now();
    fer_box *b = NULL;
    fer_detect_opts o;
    fer_detect_opts_default(&o);
    if (fer_detect_faces(c, &img, &o, &b, faces, err)) {
        fer_image_free(&img);
        return 0;
    }
    double t2 = now();
    uint8_t px[48 * 48];
    float x[48 * 48], probs[64] = {0};
    int ok = h * w <= 48 * 48;
    for (size_t i = 0; ok && i < *faces; i++)
        ok = !fer_image_crop_resize(&img, b[i].x, b[i].y, b[i].w, b[i].h, w, h, px, err) &&
             (fer_preprocess(px, (size_t)h * w, x), !fer_model_predict(m, x, 1, probs, err));
    double t3 = now();
    fer_heart heart;
    fer_state st;
    float p7[FER_N_EMOTIONS] = {0};
    for (int k = 0; k < fer_model_n_classes(m) && k < FER_N_EMOTIONS; k++)
        p7[k] = probs[k];
    if (fer_model_n_classes(m) != FER_N_EMOTIONS)
        p7[6] = 1; /* a subset model: fusion speed is all that is measured */
    ok = ok && !fer_heart_from_bpm(88, NULL, &heart, err) && !fer_fuse(p7, &heart, NULL, &st, err);
    double t4 = now();
    free(b);
    fer_image_free(&img);
    t[DECODE] = t1 - t0, t[DETECT] = t2 - t1, t[CNN] = t3 - t2, t[FUSE] = t4 - t3, t[TOTAL] = t4 - t0;
    return ok;
}

int bench_predict_main(int argc, char **argv)
{
    const char *image = DEFAULT_PHOTO, *weights = NULL;
    int iters = 50, json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--image") && i + 1 < argc)
            image = argv[++i];
        else if (!strcmp(argv[i], "--weights") && i + 1 < argc)
            weights = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: fer-bench predict [--image PATH] [--weights W] [--iters 50] [--json]\n");
            return 2;
        }
    }
    if (iters < 1 || iters > 100000)
        iters = 50;
    fer_error err;
    fer_cascade *c = NULL;
    fer_model *m = NULL;
    double *t = malloc(sizeof *t * N_STAGES * (size_t)(iters + 1));
    size_t faces = 0;
    int ok = t && !fer_cascade_load(FER_DEFAULT_CASCADE, &c, &err) && (m = load_model(weights, &err));
    for (int i = 0; ok && i <= iters; i++) /* run 0 warms the caches */
        ok = run_once(image, c, m, t + N_STAGES * i, &faces, &err);
    if (!ok) {
        fprintf(stderr, "fer-bench predict: %s\n", t ? err.msg : "out of memory");
        free(t), fer_cascade_free(c), fer_model_free(m);
        return 1;
    }
    double med[N_STAGES], *col = malloc(sizeof *col * (size_t)iters);
    for (int s = 0; s < N_STAGES && col; s++) {
        for (int i = 0; i < iters; i++)
            col[i] = t[N_STAGES * (i + 1) + s];
        qsort(col, (size_t)iters, sizeof *col, by_value);
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
    free(col), free(t), fer_cascade_free(c), fer_model_free(m);
    return 0;
}
