/* fer-bench faces: single-thread time of the whole face detection of the
 * analyzer (working copy, upright and turned proposals, verifier, overlap
 * suppression; no emotion model) on one photo, median of N runs in thread
 * CPU time. --width W resizes the photo first (area; not timed), e.g. to
 * compare a photo at 1920 px with the same photo at 8000 px. --json prints
 * the figures for bench/compare-detect.py --faces, which times OpenCV's
 * detectMultiScale with its default settings on the same photo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "fer.h"

#define DEFAULT_PHOTO "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"
#define FALLBACK_PHOTO "datasets/demo/face.png"
#define SHIPPED_VERIFIER "weights/face-verifier.safetensors"

static int usage(void)
{
    fprintf(stderr, "usage: fer-bench faces [--image PATH] [--verifier W] [--width W] "
                    "[--iters 20] [--json]\n");
    return 2;
}

static int fail(const fer_error *e)
{
    fprintf(stderr, "fer-bench faces: %s\n", e->msg);
    return 1;
}

int bench_faces_main(int argc, char **argv)
{
    const char *image = NULL, *verifier = SHIPPED_VERIFIER;
    int iters = 20, json = 0, width = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--image") && i + 1 < argc)
            image = argv[++i];
        else if (!strcmp(argv[i], "--verifier") && i + 1 < argc)
            verifier = argv[++i];
        else if (!strcmp(argv[i], "--width") && i + 1 < argc)
            width = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            return usage();
    }
    if (iters < 1 || iters > 10000 || width < 0 || width > 16384)
        return usage();
    if (!image) {
        FILE *f = fopen(DEFAULT_PHOTO, "rb");
        image = f ? DEFAULT_PHOTO : FALLBACK_PHOTO;
        if (f)
            fclose(f);
    }
    fer_error err;
    fer_image img;
    if (fer_image_load(image, 0, &img, &err) != FER_OK)
        return fail(&err);
    if (width && width != img.w) {
        fer_image big = {width, (int)((double)img.h * width / img.w + 0.5), NULL};
        big.px = malloc((size_t)big.w * (size_t)big.h);
        if (!big.px || fer_image_crop_resize(&img, 0, 0, img.w, img.h, big.w, big.h, big.px, &err))
            return fail(&err);
        fer_image_free(&img);
        img = big;
    }
    fer_analyzer_opts o;
    fer_analyzer_opts_default(&o);
    o.verifier_model = verifier;
    o.threads = 1;
    fer_analyzer *a;
    if (fer_analyzer_new(&o, &a, &err) != FER_OK)
        return fail(&err);
    double *t = malloc(sizeof *t * (size_t)iters);
    size_t n = 0;
    for (int i = 0; i <= iters && t; i++) { /* run 0 warms the caches */
        fer_faces f;
        double t0 = bench_cpu_now();
        if (fer_analyze(a, &img, NULL, &f, &err) != FER_OK)
            return fail(&err);
        if (i)
            t[i - 1] = bench_cpu_now() - t0;
        n = f.n;
        fer_faces_free(&f);
    }
    if (!t)
        return 1;
    qsort(t, (size_t)iters, sizeof *t, bench_by_value);
    double median = t[iters / 2] * 1e3;
    if (json)
        printf("{\"image\": \"%s\", \"width\": %d, \"height\": %d, \"faces\": %zu, "
               "\"iters\": %d, \"median_ms\": %.3f}\n", image, img.w, img.h, n, iters, median);
    else
        printf("faces %s (%dx%d): %zu faces, median %.2f ms over %d runs (analyzer without "
               "emotion, 1 thread, CPU time)\n", image, img.w, img.h, n, median, iters);
    free(t);
    fer_analyzer_free(a);
    fer_image_free(&img);
    return 0;
}
