/* fer-bench detect: single-thread time of fer_detect_faces on one photo
 * (default: a 640x480 opencv-doc photo with two people), median of N runs
 * in thread CPU time. --json prints the figures for bench/compare-detect.py,
 * which times OpenCV's detectMultiScale on the same photo and settings;
 * --boxes also prints the boxes found (for its --photos mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "fer.h"

#define DEFAULT_PHOTO "/usr/share/doc/opencv-doc/opencv4/html/astra_color.jpg"
#define FALLBACK_PHOTO "datasets/demo/face.png"

static int usage(void)
{
    fprintf(stderr, "usage: fer-bench detect [--image PATH] [--cascade XML] [--iters 20] "
                    "[--json] [--boxes]\n");
    return 2;
}

int bench_detect_main(int argc, char **argv)
{
    const char *image = NULL, *cascade = FER_DEFAULT_CASCADE;
    int iters = 20, json = 0, print_boxes = 0;
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
    fer_image_free(&img);
    fer_cascade_free(c);
    return 0;
}
