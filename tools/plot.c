/* The tools' pictures as SVG text: training curves and confusion heat maps. */
#include "plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf { char *s; size_t len, cap; int oom; } sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->oom || n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s, b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Text content with &, <, > and quotes escaped, cut to max characters. */
static void put_escaped(sbuf *b, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        char c = s[i];
        put(b, "%s", c == '&'   ? "&amp;"
                     : c == '<' ? "&lt;"
                     : c == '>' ? "&gt;"
                     : c == '"' ? "&quot;"
                                : (char[2]){c, 0});
    }
}

/* Writes the finished text atomically and frees it. */
static fer_status finish(sbuf *b, const char *path, fer_error *err)
{
    fer_status s = b->oom ? FER_ENOMEM : fer_file_write_atomic(path, b->s, b->len, err);
    if (b->oom && err)
        snprintf(err->msg, sizeof err->msg, "%s: out of memory", path);
    free(b->s);
    return s;
}

enum { PW = 420, PH = 300, ML = 60, MT = 40, MB = 45, GAP = 40 };

static void range_of(int n, const double *a, const double *b, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            double v = k ? b[i] : a[i];
            if (isfinite(v))
                *lo = v < *lo ? v : *lo, *hi = v > *hi ? v : *hi;
        }
    if (!isfinite(*lo))
        *lo = 0, *hi = 1;
    if (*hi - *lo < 1e-9)
        *hi = *lo + 1;
    double pad = (*hi - *lo) * 0.05;
    *lo -= pad, *hi += pad;
}

static void series(sbuf *b, int x0, int n, const double *v, double lo, double hi,
                   const char *colour, int dashed)
{
    put(b, "<polyline fill='none' stroke='%s' stroke-width='2'%s points='", colour,
        dashed ? " stroke-dasharray='6 4'" : "");
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            put(b, "%.1f,%.1f ", x0 + (n > 1 ? (double)i / (n - 1) : 0.5) * PW,
                MT + PH - (v[i] - lo) / (hi - lo) * PH);
    put(b, "'/>\n");
}

static void panel(sbuf *b, int x0, const char *name, int n, const double *tr, const double *va)
{
    double lo, hi;
    range_of(n, tr, va, &lo, &hi);
    put(b, "<rect x='%d' y='%d' width='%d' height='%d' fill='white' stroke='#888'/>\n", x0, MT, PW, PH);
    for (int t = 0; t <= 4; t++) {
        double v = lo + (hi - lo) * t / 4, y = MT + PH - (double)t / 4 * PH;
        put(b, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#eee'/>"
               "<text x='%d' y='%.1f' text-anchor='end' font-size='11'>%.3g</text>\n",
            x0, x0 + PW, y, y, x0 - 5, y + 4, v);
    }
    int step = n > 10 ? (n + 9) / 10 : 1;
    for (int i = 0; i < n; i += step)
        put(b, "<text x='%.1f' y='%d' text-anchor='middle' font-size='11'>%d</text>\n",
            x0 + (n > 1 ? (double)i / (n - 1) : 0.5) * PW, MT + PH + 16, i + 1);
    put(b, "<text x='%d' y='%d' text-anchor='middle' font-size='12'>epoch</text>\n", x0 + PW / 2,
        MT + PH + 34);
    put(b, "<text x='%d' y='%d' font-size='14' font-weight='bold'>%s</text>\n", x0, MT - 10, name);
    series(b, x0, n, tr, lo, hi, "#1f77b4", 0);
    series(b, x0, n, va, lo, hi, "#d62728", 1);
    put(b, "<text x='%d' y='%d' font-size='11' fill='#1f77b4' text-anchor='end'>training</text>"
           "<text x='%d' y='%d' font-size='11' fill='#d62728' text-anchor='end'>validation</text>\n",
        x0 + PW - 8, MT + 16, x0 + PW - 8, MT + 30);
}

fer_status plot_curves_svg(const char *path, const char *title, int n, const double *loss,
                           const double *val_loss, const double *acc, const double *val_acc,
                           fer_error *err)
{
    sbuf b = {0};
    int width = ML + 2 * PW + GAP + 20, height = MT + PH + MB + 30;
    put(&b, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
            "font-family='sans-serif'>\n<rect width='100%%' height='100%%' fill='#fafafa'/>\n",
        width, height + 20);
    put(&b, "<text x='%d' y='20' font-size='15'>", ML);
    put_escaped(&b, title, strlen(title));
    put(&b, "</text>\n<g transform='translate(0,20)'>\n");
    panel(&b, ML, "loss", n, loss, val_loss);
    panel(&b, ML + PW + GAP, "accuracy", n, acc, val_acc);
    put(&b, "</g>\n</svg>\n");
    return finish(&b, path, err);
}

/* ------------------------------------------------------------ heat map */

enum { CELL = 72, LEFT = 130, TOP = 110 };

/* White to dark blue as the row share f goes 0 to 1. */
static void cell_colour(double f, char out[8])
{
    int r = (int)(247 + (8 - 247) * f), g = (int)(251 + (48 - 251) * f),
        b = (int)(255 + (107 - 255) * f);
    snprintf(out, 8, "#%02x%02x%02x", r, g, b);
}

static void heat_cell(sbuf *b, int t, int p, long count, long row_total)
{
    double f = row_total ? (double)count / (double)row_total : 0;
    char fill[8];
    cell_colour(f, fill);
    int x = LEFT + p * CELL, y = TOP + t * CELL;
    const char *ink = f > 0.5 ? "#ffffff" : "#000000";
    put(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#cccccc\"/>\n",
        x, y, CELL, CELL, fill);
    put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"15\" fill=\"%s\">%ld</text>\n",
        x + CELL / 2, y + CELL / 2 - 2, ink, count);
    if (row_total)
        put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\" fill=\"%s\">%.1f%%</text>\n",
            x + CELL / 2, y + CELL / 2 + 14, ink, 100 * f);
}

static void heat_labels(sbuf *b, int k, const char *const *names)
{
    int size = k * CELL;
    put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">predicted class</text>\n",
        LEFT + size / 2, TOP - 32);
    put(b, "<text transform=\"translate(18 %d) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">true class</text>\n",
        TOP + size / 2);
    for (int c = 0; c < k; c++) {
        put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">",
            LEFT + c * CELL + CELL / 2, TOP - 10);
        put_escaped(b, names[c], 10);
        put(b, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"12\">",
            LEFT - 8, TOP + c * CELL + CELL / 2 + 4);
        put_escaped(b, names[c], 14);
        put(b, "</text>\n");
    }
}

fer_status plot_confusion_svg(const char *path, const char *title, int k,
                              const char *const *names, const long *confusion, fer_error *err)
{
    sbuf b = {0};
    int size = k * CELL, width = LEFT + size + 24, height = TOP + size + 40;
    put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
        width, height, width, height);
    put(&b, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">",
        width / 2);
    put_escaped(&b, title, strlen(title));
    put(&b, "</text>\n<text x=\"%d\" y=\"48\" text-anchor=\"middle\" font-size=\"11\" "
            "fill=\"#555555\">colour and %% = share of the true class's row</text>\n", width / 2);
    heat_labels(&b, k, names);
    for (int t = 0; t < k; t++) {
        long row = 0;
        for (int p = 0; p < k; p++)
            row += confusion[t * k + p];
        for (int p = 0; p < k; p++)
            heat_cell(&b, t, p, confusion[t * k + p], row);
    }
    for (int c = 0; c < k; c++) /* outlines last, so no neighbour paints over them */
        put(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                "stroke=\"#222222\" stroke-width=\"2\"/>\n",
            LEFT + c * CELL, TOP + c * CELL, CELL, CELL);
    put(&b, "</svg>\n");
    return finish(&b, path, err);
}
