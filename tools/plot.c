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

/* The first len bytes of s as text content, with &, <, > and quotes escaped. */
static void put_escaped(sbuf *b, const char *s, size_t len)
{
    for (size_t i = 0; s[i] && i < len; i++) {
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

/* ------------------------------------------------------------ text */

typedef struct font { int size, bold; } font;

static int line_height(font f) { return (int)(f.size * 1.3 + 0.5); }

/* The bytes of the first `chars` UTF-8 characters of s (all of a shorter s). */
static size_t prefix_len(const char *s, size_t chars)
{
    size_t i = 0;
    for (; s[i] && chars > 0; chars--)
        for (i++; ((unsigned char)s[i] & 0xC0) == 0x80; i++) {
        }
    return i;
}

/* The rendered width of len bytes of s, estimated high: DejaVu Sans (the
 * sans-serif of librsvg and browsers on Debian) sets prose at about 0.53 em
 * a character (bold 0.59) and digits at 0.63 (bold 0.69); 0.65 and 0.72
 * cover both. Counts characters, not bytes. */
static double text_px(const char *s, size_t len, font f)
{
    size_t chars = 0;
    for (size_t i = 0; i < len && s[i]; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return (double)chars * f.size * (f.bold ? 0.72 : 0.65);
}

/* The width of the widest of the words of s (separated by spaces or
 * newlines). */
static double widest_word(const char *s, font f)
{
    double w = 0;
    for (s += strspn(s, " \n"); *s; s += strspn(s, " \n")) {
        size_t n = strcspn(s, " \n");
        double px = text_px(s, n, f);
        w = px > w ? px : w;
        s += n;
    }
    return w;
}

/* The length of the next line of *s: up to a newline, and broken at spaces
 * to fit in room px (a longer word has a line of its own); *s moves past it. */
static size_t next_line(const char **s, font f, double room)
{
    const char *p = *s;
    size_t len = strcspn(p, " \n");
    while (p[len] == ' ') {
        size_t word = len + strspn(p + len, " "), end = word + strcspn(p + word, " \n");
        if (end == word || text_px(p, end, f) > room)
            break;
        len = end;
    }
    p += len + strspn(p + len, " ");
    *s = p + (*p == '\n') + strspn(p + (*p == '\n'), " ");
    return len;
}

static int line_count(const char *s, font f, double room)
{
    int n = 0;
    for (s += strspn(s, " "); *s; n++)
        next_line(&s, f, room);
    return n;
}

/* s in lines of at most room px (a newline in s starts a new one), the
 * first on baseline y; anchor is the text-anchor at x ("start" or "middle"). */
static void put_lines(sbuf *b, const char *s, font f, double room, int x, int y,
                      const char *anchor)
{
    for (s += strspn(s, " "); *s; y += line_height(f)) {
        const char *line = s;
        size_t n = next_line(&s, f, room);
        put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\" font-size=\"%d\"%s>", x, y, anchor,
            f.size, f.bold ? " font-weight=\"bold\"" : "");
        put_escaped(b, line, n);
        put(b, "</text>\n");
    }
}

/* ------------------------------------------------------------ curves */

enum { PW = 420, PH = 300, ML = 60, MR = 20, MT = 40, MB = 45, GAP = 40, MARKERS = 25 };

#define BLUE "#1f77b4"
#define RED "#d62728"

/* The 1-2-5 step (1, 2 or 5 times a power of ten) that divides span into at
 * most max steps; *decimals: the digits that tell its multiples apart. */
static double nice_step(double span, int max, int *decimals)
{
    double raw = span / max;
    int e = (int)floor(log10(raw));
    double m = raw / pow(10, e);
    int k = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
    if (k == 10)
        k = 1, e++;
    *decimals = e < 0 ? -e : 0;
    return k * pow(10, e);
}

/* A panel's mapping: epochs xlo..xhi across, values ylo..yhi up. */
typedef struct view { int x0; double xlo, xhi, ylo, yhi; } view;

static double view_x(const view *v, double epoch)
{
    return v->x0 + (epoch - v->xlo) / (v->xhi - v->xlo) * PW;
}

static double view_y(const view *v, double value)
{
    return MT + PH - (value - v->ylo) / (v->yhi - v->ylo) * PH;
}

/* The finite values of a and b, widened by 5% of their span (0.5 when they
 * are all equal) but not below 0 when none is negative, nor above cap when
 * none is above it. No value: 0..1. */
static void range_of(int n, const double *a, const double *b, double cap, double *lo, double *hi)
{
    double min = INFINITY, max = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            double v = k ? b[i] : a[i];
            if (isfinite(v))
                min = v < min ? v : min, max = v > max ? v : max;
        }
    if (!isfinite(min))
        min = 0, max = 1;
    double pad = max - min < 1e-9 ? 0.5 : (max - min) * 0.05;
    *lo = min >= 0 && min < pad ? 0 : min - pad;
    *hi = max <= cap && max + pad > cap ? cap : max + pad;
}

/* Round value ticks, the axis stretched to the outer ones, with grid lines. */
static void y_ticks(sbuf *b, view *v, double lo, double hi)
{
    int decimals;
    double step = nice_step(hi - lo, 6, &decimals);
    double first = floor(lo / step + 1e-9), last = ceil(hi / step - 1e-9);
    v->ylo = first * step, v->yhi = last * step;
    for (int t = 0; t <= (int)(last - first); t++) {
        double value = (first + t) * step, y = view_y(v, value);
        put(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>"
               "<text class=\"tick-y\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">"
               "%.*f</text>\n",
            v->x0, v->x0 + PW, y, y, v->x0 - 5, y + 4, decimals, value);
    }
}

/* The epochs that are multiples of a round step (every epoch up to 10). */
static void x_ticks(sbuf *b, const view *v, int n)
{
    int decimals, step = n > 1 ? (int)lround(nice_step(n - 1, 10, &decimals)) : 1;
    if (step < 1)
        step = 1;
    for (int e = step; e <= n; e += step)
        put(b, "<text class=\"tick-x\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
               "font-size=\"11\">%d</text>\n",
            view_x(v, e), MT + PH + 16, e);
}

/* A line through the finite values (epoch i + 1 at i), and a dot on each
 * when there are few epochs or the series has a single point. */
static void series(sbuf *b, const view *v, int n, const double *y, const char *colour,
                   int dashed)
{
    int finite = 0;
    for (int i = 0; i < n; i++)
        finite += isfinite(y[i]) != 0;
    put(b, "<g class=\"series\">\n");
    if (finite > 1) {
        put(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colour,
            dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (int i = 0; i < n; i++)
            if (isfinite(y[i]))
                put(b, "%.1f,%.1f ", view_x(v, i + 1), view_y(v, y[i]));
        put(b, "\"/>\n");
    }
    if (n <= MARKERS || finite == 1)
        for (int i = 0; i < n; i++)
            if (isfinite(y[i]))
                put(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    view_x(v, i + 1), view_y(v, y[i]), colour);
    put(b, "</g>\n");
}

/* The key, above the panel's top right corner: outside the data. */
static void legend(sbuf *b, int x0, int markers)
{
    static const struct { const char *name, *colour; int dashed; } key[] = {
        {"training", BLUE, 0}, {"validation", RED, 1}};
    enum { SAMPLE = 20, PAD = 4, SEP = 10 };
    font f = {11, 0};
    double x = x0 + PW + SEP;
    for (int i = 0; i < 2; i++)
        x -= SAMPLE + PAD + text_px(key[i].name, strlen(key[i].name), f) + SEP;
    int y = MT - 10;
    put(b, "<g class=\"legend\">\n");
    for (int i = 0; i < 2; i++) {
        put(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>",
            x, x + SAMPLE, y - 4, y - 4, key[i].colour,
            key[i].dashed ? " stroke-dasharray=\"6 4\"" : "");
        if (markers)
            put(b, "<circle cx=\"%.1f\" cy=\"%d\" r=\"3\" fill=\"%s\"/>", x + SAMPLE / 2, y - 4,
                key[i].colour);
        put(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>\n",
            x + SAMPLE + PAD, y, key[i].colour, key[i].name);
        x += SAMPLE + PAD + text_px(key[i].name, strlen(key[i].name), f) + SEP;
    }
    put(b, "</g>\n");
}

/* cap: the largest value the quantity can take (an accuracy's 1). */
static void panel(sbuf *b, int x0, const char *name, double cap, int n, const double *tr,
                  const double *va)
{
    view v = {.x0 = x0, .xlo = n > 1 ? 1 : 0, .xhi = n > 1 ? n : 2};
    double lo, hi;
    range_of(n, tr, va, cap, &lo, &hi);
    put(b, "<g class=\"panel\">\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" stroke=\"#888888\"/>\n",
        x0, MT, PW, PH);
    y_ticks(b, &v, lo, hi);
    x_ticks(b, &v, n);
    put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n",
        x0 + PW / 2, MT + PH + 34);
    put(b, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", x0,
        MT - 10, name);
    series(b, &v, n, tr, BLUE, 0);
    series(b, &v, n, va, RED, 1);
    legend(b, x0, n <= MARKERS);
    put(b, "</g>\n");
}

fer_status plot_curves_svg(const char *path, const char *title, int n, const double *loss,
                           const double *val_loss, const double *acc, const double *val_acc,
                           fer_error *err)
{
    sbuf b = {0};
    font tf = {15, 0};
    double need = ML + widest_word(title, tf) + MR;
    int width = ML + 2 * PW + GAP + MR;
    width = need > width ? (int)ceil(need) : width;
    int lines = line_count(title, tf, width - ML - MR);
    int top = 20 + line_height(tf) * (lines > 1 ? lines - 1 : 0);
    int height = top + MT + PH + MB + 15;
    put(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n",
        width, height, width, height);
    put_lines(&b, title, tf, width - ML - MR, ML, 20, "start");
    put(&b, "<g transform=\"translate(0,%d)\">\n", top);
    panel(&b, ML, "loss", INFINITY, n, loss, val_loss);
    panel(&b, ML + PW + GAP, "accuracy", 1, n, acc, val_acc);
    put(&b, "</g>\n</svg>\n");
    return finish(&b, path, err);
}

/* ------------------------------------------------------------ heat map */

/* CELL: a cell's side; BAND: the column of the rotated "true class";
 * MARGIN: the least room beside the title; ROW_CHARS and COL_CHARS: how much
 * of a class name the row and column labels show. */
enum { CELL = 72, BAND = 30, MARGIN = 12, ROW_CHARS = 14, COL_CHARS = 10 };

/* Where the k x k cells start. */
typedef struct grid { int x, y, k; } grid;

/* White to dark blue as the row share f goes 0 to 1. */
static void cell_colour(double f, char out[8])
{
    int r = (int)(247 + (8 - 247) * f), g = (int)(251 + (48 - 251) * f),
        b = (int)(255 + (107 - 255) * f);
    snprintf(out, 8, "#%02x%02x%02x", r, g, b);
}

static void heat_cell(sbuf *b, grid g, int t, int p, long count, long row_total)
{
    double f = row_total ? (double)count / (double)row_total : 0;
    char fill[8];
    cell_colour(f, fill);
    int x = g.x + p * CELL, y = g.y + t * CELL;
    const char *ink = f > 0.5 ? "#ffffff" : "#000000";
    put(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#cccccc\"/>\n",
        x, y, CELL, CELL, fill);
    put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"15\" fill=\"%s\">%ld</text>\n",
        x + CELL / 2, y + CELL / 2 - 2, ink, count);
    if (row_total)
        put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\" fill=\"%s\">%.1f%%</text>\n",
            x + CELL / 2, y + CELL / 2 + 14, ink, 100 * f);
}

static void heat_labels(sbuf *b, grid g, int band_x, const char *const *names)
{
    int size = g.k * CELL;
    put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">predicted class</text>\n",
        g.x + size / 2, g.y - 32);
    put(b, "<text transform=\"translate(%d %d) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">true class</text>\n",
        band_x + 18, g.y + size / 2);
    for (int c = 0; c < g.k; c++) {
        put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">",
            g.x + c * CELL + CELL / 2, g.y - 10);
        put_escaped(b, names[c], prefix_len(names[c], COL_CHARS));
        put(b, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"12\">",
            g.x - 8, g.y + c * CELL + CELL / 2 + 4);
        put_escaped(b, names[c], prefix_len(names[c], ROW_CHARS));
        put(b, "</text>\n");
    }
}

/* The width of the row labels' column: the longest label shown. */
static double row_label_px(int k, const char *const *names)
{
    double w = 0;
    for (int c = 0; c < k; c++) {
        double px = text_px(names[c], prefix_len(names[c], ROW_CHARS), (font){12, 0});
        w = px > w ? px : w;
    }
    return w;
}

fer_status plot_confusion_svg(const char *path, const char *title, int k,
                              const char *const *names, const long *confusion, fer_error *err)
{
    static const char note[] = "colour and % = share of the true class's row";
    font tf = {17, 1}, nf = {11, 0};
    int left = BAND + (int)ceil(row_label_px(k, names)) + 8, size = k * CELL;
    int content = left + size + 24;
    double need = fmax(widest_word(title, tf), text_px(note, strlen(note), nf)) + 2 * MARGIN;
    int width = need > content ? (int)ceil(need) : content;
    int lines = line_count(title, tf, width - 2 * MARGIN);
    int extra = line_height(tf) * (lines > 1 ? lines - 1 : 0);
    int band_x = (width - content) / 2;
    grid g = {band_x + left, 110 + extra, k};
    int height = g.y + size + 40;
    sbuf b = {0};
    put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
        width, height, width, height);
    put_lines(&b, title, tf, width - 2 * MARGIN, width / 2, 28, "middle");
    put(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555555\">"
            "%s</text>\n", width / 2, 48 + extra, note);
    heat_labels(&b, g, band_x, names);
    for (int t = 0; t < k; t++) {
        long row = 0;
        for (int p = 0; p < k; p++)
            row += confusion[t * k + p];
        for (int p = 0; p < k; p++)
            heat_cell(&b, g, t, p, confusion[t * k + p], row);
    }
    for (int c = 0; c < k; c++) /* outlines last, so no neighbour paints over them */
        put(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                "stroke=\"#222222\" stroke-width=\"2\"/>\n",
            g.x + c * CELL, g.y + c * CELL, CELL, CELL);
    put(&b, "</svg>\n");
    return finish(&b, path, err);
}
