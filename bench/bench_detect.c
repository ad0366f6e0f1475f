/* fer-bench detect: single-thread time of fer_detect_faces on one photo
 * (default: a 640x480 opencv-doc photo with two people), median of N runs
 * in thread CPU time. --json prints the figures for bench/compare-detect.py,
 * which times OpenCV's detectMultiScale on the same photo and settings;
 * --boxes also prints the boxes found (for its --photos mode); --paths
 * times the cascade scan of every pyramid level with each code path of
 * this CPU (plain C, AVX2), alternating, and prints their ratio. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "fer.h"
#include "vision/haar.h"

static int count_hit(void *arg, const fer_box *box)
{
    (void)box;
    ++*(size_t *)arg;
    return 1;
}

/* The scan of every level (the detector's pyramid at its default 1.1 step)
 * with each path, median thread CPU time of `iters` rounds. */
static int time_paths(const fer_cascade *c, const fer_image *img, int iters, int json)
{
    enum { MAX_LEVELS = 64 };
    haar_work wk[MAX_LEVELS]; /* every level prepared once: only the scans are timed */
    int lw[MAX_LEVELS], lh[MAX_LEVELS], nl = 0;
    float sc[MAX_LEVELS];
    double *t[2] = {malloc(sizeof(double) * (size_t)iters), malloc(sizeof(double) * (size_t)iters)};
    if (!t[0] || !t[1])
        return 1;
    for (float s = 1.f; nl < MAX_LEVELS; s *= 1.1f) {
        int w = (int)lrintf((float)img->w / s), h = (int)lrintf((float)img->h / s);
        if (w < c->win_w + 1 || h < c->win_h + 1)
            break;
        if (!haar_work_alloc(&wk[nl], c, w, h))
            return 1;
        haar_work_level(&wk[nl], img->px, img->w, img->h, w, h);
        lw[nl] = w, lh[nl] = h, sc[nl++] = s;
    }
    int paths[2] = {HAAR_PATH_C, HAAR_PATH_AVX2}, np = haar_path_supported(HAAR_PATH_AVX2) ? 2 : 1;
    size_t hits[2] = {0, 0};
    for (int i = 0; i <= iters; i++) /* round 0 warms the caches */
        for (int p = 0; p < np; p++) {
            for (int l = 0; l < nl; l++)
                haar_level_buf_use(wk[l].lb, paths[p]);
            size_t n = 0;
            double t0 = bench_cpu_now();
            for (int l = 0; l < nl; l++)
                haar_scan_level(c, wk[l].lb, wk[l].sum, wk[l].sq, (int)wk[l].tofs, lw[l], lh[l],
                                sc[l], sc[l] >= 2 ? 1 : 2, count_hit, &n);
            if (i)
                t[p][i - 1] = bench_cpu_now() - t0;
            hits[p] = n;
        }
    double ms[2] = {0, 0};
    for (int p = 0; p < np; p++) {
        qsort(t[p], (size_t)iters, sizeof *t[p], bench_by_value);
        ms[p] = t[p][iters / 2] * 1e3;
    }
    if (json)
        printf("{\"scan_levels\": %d, \"plain_ms\": %.3f, \"avx2_ms\": %.3f, \"hits\": %zu, "
               "\"same_hits\": %s}\n", nl, ms[0], np > 1 ? ms[1] : 0., hits[0],
               np < 2 || hits[0] == hits[1] ? "true" : "false");
    else if (np > 1)
        printf("scan of %d levels, 1 thread, median of %d: plain C %.2f ms, AVX2 %.2f ms, "
               "ratio %.3f (%zu raw hits each%s)\n", nl, iters, ms[0], ms[1], ms[1] / ms[0],
               hits[0], hits[0] == hits[1] ? "" : ", DIFFERENT");
    else
        printf("scan of %d levels: plain C %.2f ms (no AVX2 on this CPU)\n", nl, ms[0]);
    for (int l = 0; l < nl; l++)
        haar_work_free(&wk[l]);
    free(t[0]), free(t[1]);
    return np > 1 && hits[0] != hits[1];
}

#define DEFAULT_PHOTO "/usr/share/doc/opencv-doc/opencv4/html/astra_color.jpg"
#define FALLBACK_PHOTO "datasets/demo/face.png"

static int usage(void)
{
    fprintf(stderr, "usage: fer-bench detect [--image PATH] [--cascade XML] [--iters 20] "
                    "[--json] [--boxes] [--paths]\n");
    return 2;
}

int bench_detect_main(int argc, char **argv)
{
    const char *image = NULL, *cascade = FER_DEFAULT_CASCADE;
    int iters = 20, json = 0, print_boxes = 0, paths = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--image") && i + 1 < argc)
            image = argv[++i];
        else if (!strcmp(argv[i], "--cascade") && i + 1 < argc)
            cascade = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--boxes"))
            print_boxes = 1;
        else if (!strcmp(argv[i], "--paths"))
            paths = 1;
        else
            return usage();
    }
    if (iters < 1 || iters > 10000)
        return usage();
    if (!image) {
        FILE *f = fopen(DEFAULT_PHOTO, "rb");
        image = f ? DEFAULT_PHOTO : FALLBACK_PHOTO;
        if (f)
            fclose(f);
    }
    fer_error err;
    fer_cascade *c;
    fer_image img;
    if (fer_cascade_load(cascade, &c, &err) != FER_OK ||
        fer_image_load(image, 0, &img, &err) != FER_OK) {
        fprintf(stderr, "fer-bench detect: %s\n", err.msg);
        return 1;
    }
    fer_detect_opts o;
    fer_detect_opts_default(&o);
    double *t = malloc(sizeof *t * (size_t)iters);
    size_t n = 0;
    fer_box *b = NULL;
    for (int i = 0; i <= iters && t; i++) { /* run 0 warms the caches */
        free(b);
        double t0 = bench_cpu_now();
        if (fer_detect_faces(c, &img, &o, &b, &n, &err) != FER_OK) {
            fprintf(stderr, "fer-bench detect: %s\n", err.msg);
            return 1;
        }
        if (i)
            t[i - 1] = bench_cpu_now() - t0;
    }
    for (size_t i = 0; print_boxes && i < n; i++) /* for bench/compare-detect.py --photos */
        printf("box %d %d %d %d\n", b[i].x, b[i].y, b[i].w, b[i].h);
    free(b);
    if (!t)
        return 1;
    qsort(t, (size_t)iters, sizeof *t, bench_by_value);
    double median = t[iters / 2] * 1e3, best = t[0] * 1e3;
    if (json)
        printf("{\"image\": \"%s\", \"cascade\": \"%s\", \"width\": %d, \"height\": %d, "
               "\"scale_factor\": %g, \"min_neighbors\": %d, \"min_size\": %d, \"faces\": %zu, "
               "\"iters\": %d, \"median_ms\": %.3f, \"best_ms\": %.3f}\n",
               image, cascade, img.w, img.h, o.scale_factor, o.min_neighbors, o.min_size, n,
               iters, median, best);
    else
        printf("detect %s (%dx%d): %zu faces, median %.2f ms, best %.2f ms over %d runs "
               "(1 thread, CPU time)\n", image, img.w, img.h, n, median, best, iters);
    free(t);
    int rc = paths ? time_paths(c, &img, iters, json) : 0;
    fer_image_free(&img);
    fer_cascade_free(c);
    return rc;
}
