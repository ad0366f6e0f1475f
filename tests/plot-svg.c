/* plot-svg: the tools' SVG pictures (tools/plot.c) drawn from numbers given,
 * for tests/sh/plot.sh and for redrawing docs/img from its committed figures:
 *
 *   plot-svg curves OUT.svg TITLE METRICS.csv
 *   plot-svg confusion OUT.svg TITLE NAME,NAME,... COUNT,COUNT,...
 *
 * METRICS.csv has fer-train --log's columns (epoch, loss, accuracy, val_loss,
 * val_accuracy, ...; a nan is a missing point); the counts are the k x k
 * matrix row by row (row: true class). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

enum { MAX_EPOCHS = 10000, MAX_CLASSES = 64 };

static int curves(const char *out, const char *title, const char *csv)
{
    FILE *f = fopen(csv, "r");
    if (!f)
        return perror(csv), 1;
    static double v[4][MAX_EPOCHS];
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < MAX_EPOCHS)
        if (sscanf(line, "%*d,%lf,%lf,%lf,%lf", &v[0][n], &v[2][n], &v[1][n], &v[3][n]) == 4)
            n++;
    fclose(f);
    fer_error err;
    if (plot_curves_svg(out, title, n, v[0], v[1], v[2], v[3], &err) != FER_OK)
        return fprintf(stderr, "plot-svg: %s\n", err.msg), 1;
    return 0;
}

static int confusion(const char *out, const char *title, char *names, const char *counts)
{
    const char *name[MAX_CLASSES];
    int k = 0;
    for (char *s = strtok(names, ","); s && k < MAX_CLASSES; s = strtok(NULL, ","))
        name[k++] = s;
    long cell[MAX_CLASSES * MAX_CLASSES];
    int cells = 0;
    for (char *end; *counts && cells < k * k; counts = *end ? end + 1 : end)
        cell[cells++] = strtol(counts, &end, 10);
    if (k == 0 || cells != k * k)
        return fprintf(stderr, "plot-svg: %d names and %d counts\n", k, cells), 1;
    fer_error err;
    if (plot_confusion_svg(out, title, k, name, cell, &err) != FER_OK)
        return fprintf(stderr, "plot-svg: %s\n", err.msg), 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "curves"))
        return curves(argv[2], argv[3], argv[4]);
    if (argc == 6 && !strcmp(argv[1], "confusion"))
        return confusion(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: plot-svg curves OUT.svg TITLE METRICS.csv\n"
                    "       plot-svg confusion OUT.svg TITLE NAME,... COUNT,...\n");
    return 2;
}
