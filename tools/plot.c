/* Line charts as SVG text. */
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
    for (const char *p = title; *p; p++) /* escape what XML needs */
        put(&b, "%s", *p == '<' ? "&lt;" : *p == '&' ? "&amp;" : *p == '>' ? "&gt;" : (char[]){*p, 0});
    put(&b, "</text>\n<g transform='translate(0,20)'>\n");
    panel(&b, ML, "loss", n, loss, val_loss);
    panel(&b, ML + PW + GAP, "accuracy", n, acc, val_acc);
    put(&b, "</g>\n</svg>\n");
    fer_status s = b.oom ? FER_ENOMEM : fer_file_write_atomic(path, b.s, b.len, err);
    if (b.oom && err)
        snprintf(err->msg, sizeof err->msg, "%s: out of memory", path);
    free(b.s);
    return s;
}
