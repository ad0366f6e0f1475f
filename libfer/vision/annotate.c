/* Draws detection boxes and their labels on a colour image, and writes it
 * as PNG or JPEG. Text comes from stb_easy_font, which Debian ships as a
 * header of static functions (no implementation macro, nothing in
 * libstb.so): it turns a string into quads that we fill as rectangles. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stb_image_write.h>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-braces"
#endif
#include <stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "core/core.h"

#define MAX_LABEL 120
#define FONT_HEIGHT 12 /* stb_easy_font's line height in font units */
#define JPEG_QUALITY 90

static const uint8_t BOX_RGB[3] = {0, 230, 64};
static const uint8_t TEXT_RGB[3] = {0, 0, 0};

typedef struct rect { long x0, y0, x1, y1; } rect;

/* Fills r, clipped to the image. */
static void fill(fer_rgb_image *c, rect r, const uint8_t *rgb)
{
    r.x0 = r.x0 < 0 ? 0 : r.x0;
    r.y0 = r.y0 < 0 ? 0 : r.y0;
    r.x1 = r.x1 > c->w ? c->w : r.x1;
    r.y1 = r.y1 > c->h ? c->h : r.y1;
    for (long y = r.y0; y < r.y1; y++)
        for (long x = r.x0; x < r.x1; x++)
            memcpy(c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3, rgb, 3);
}

static void outline(fer_rgb_image *c, const fer_box *b, int t)
{
    long x0 = b->x, y0 = b->y, x1 = (long)b->x + b->w, y1 = (long)b->y + b->h;
    fill(c, (rect){x0, y0, x1, y0 + t}, BOX_RGB);
    fill(c, (rect){x0, y1 - t, x1, y1}, BOX_RGB);
    fill(c, (rect){x0, y0, x0 + t, y1}, BOX_RGB);
    fill(c, (rect){x1 - t, y0, x1, y1}, BOX_RGB);
}

/* stb_easy_font indexes a table by (char - 32): keep to printable ASCII. */
static void printable(const char *src, char *dst)
{
    size_t k = 0;
    for (; src[k] && k < MAX_LABEL; k++)
        dst[k] = src[k] >= 32 && src[k] < 127 ? src[k] : '?';
    dst[k] = 0;
}

static long overlap(rect a, rect b)
{
    long w = (a.x1 < b.x1 ? a.x1 : b.x1) - (a.x0 > b.x0 ? a.x0 : b.x0);
    long h = (a.y1 < b.y1 ? a.y1 : b.y1) - (a.y0 > b.y0 ? a.y0 : b.y0);
    return w > 0 && h > 0 ? w * h : 0;
}

/* Where a tw x th band goes for box b: above it, below it, or inside its top
 * edge, each slid left to stay inside the image; the first that overlaps no
 * band placed before, else the one that overlaps least. */
static rect place(const fer_rgb_image *c, const fer_box *b, long tw, long th, const rect *placed,
                  size_t n_placed)
{
    long x = b->x + tw > c->w ? c->w - tw : b->x;
    x = x < 0 ? 0 : x;
    long ys[3] = {(long)b->y - th, (long)b->y + b->h, b->y};
    rect best = {0, 0, 0, 0};
    long best_cost = -1;
    for (int k = 0; k < 3; k++) {
        long y = ys[k];
        if (y < 0 || y + th > c->h)
            continue;
        rect r = {x, y, x + tw, y + th};
        long cost = 0;
        for (size_t i = 0; i < n_placed; i++)
            cost += overlap(r, placed[i]);
        if (best_cost < 0 || cost < best_cost)
            best = r, best_cost = cost;
        if (cost == 0)
            break;
    }
    if (best_cost < 0) /* no room above, below or inside: at the top of the image */
        best = (rect){x, 0, x + tw, th};
    return best;
}

/* A label's band: the text at scale s with s*2 pixels of padding each side. */
static long band_width(char *text, int s) { return (long)stb_easy_font_width(text) * s + 4L * s; }

static void draw_text(fer_rgb_image *c, rect band, const char *text, int s, void *vbuf,
                      int vbuf_size)
{
    fill(c, band, BOX_RGB);
    int quads = stb_easy_font_print(0, 0, (char *)text, NULL, vbuf, vbuf_size);
    const float *v = vbuf;
    for (int q = 0; q < quads; q++, v += 16) { /* 4 vertices of x,y,z,rgba */
        long qx0 = (long)v[0], qy0 = (long)v[1], qx1 = (long)v[8], qy1 = (long)v[9];
        fill(c, (rect){band.x0 + 2 * s + qx0 * s, band.y0 + s + qy0 * s,
                       band.x0 + 2 * s + qx1 * s, band.y0 + s + qy1 * s}, TEXT_RGB);
    }
}

fer_status fer_image_annotate(fer_rgb_image *img, const fer_box *boxes, const char *const *labels,
                              size_t n, fer_error *err)
{
    if (!img || !img->px || img->w <= 0 || img->h <= 0 || (n && !boxes))
        return fer_fail(err, FER_EINVAL, "fer_image_annotate: NULL argument or empty image");
    int small = img->w < img->h ? img->w : img->h;
    int t = 2 + small / 400;     /* line width: 2 px at 400, 7 px at 2000 */
    int scale = 1 + small / 400; /* text readable on big photos */
    int vbuf_size = MAX_LABEL * 300; /* ~270 bytes per character */
    void *vbuf = malloc((size_t)vbuf_size);
    rect *placed = malloc((n ? n : 1) * sizeof *placed);
    if (!vbuf || !placed) {
        free(vbuf);
        free(placed);
        return fer_fail(err, FER_ENOMEM, "fer_image_annotate: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        outline(img, &boxes[i], t);
    size_t n_placed = 0;
    for (size_t i = 0; i < n; i++) {
        char buf[MAX_LABEL + 1];
        if (!labels || !labels[i])
            continue;
        printable(labels[i], buf);
        if (!buf[0])
            continue;
        int sc = scale; /* a long label on a small image gets smaller text */
        while (sc > 1 && band_width(buf, sc) > img->w)
            sc--;
        long tw = band_width(buf, sc), th = (FONT_HEIGHT + 2L) * sc;
        placed[n_placed] = place(img, &boxes[i], tw, th, placed, n_placed);
        draw_text(img, placed[n_placed], buf, sc, vbuf, vbuf_size);
        n_placed++;
    }
    free(vbuf);
    free(placed);
    return FER_OK;
}

/* Encoded bytes collected in memory, so the file is written atomically. */
typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
    int failed;
} membuf;

static void collect(void *ctx, void *data, int size)
{
    membuf *m = ctx;
    if (m->failed || size <= 0)
        return;
    if (m->n + (size_t)size > m->cap) {
        size_t nc = m->cap ? m->cap : 1 << 16;
        while (nc < m->n + (size_t)size)
            nc *= 2;
        uint8_t *np = realloc(m->p, nc);
        if (!np) {
            m->failed = 1;
            return;
        }
        m->p = np;
        m->cap = nc;
    }
    memcpy(m->p + m->n, data, (size_t)size);
    m->n += (size_t)size;
}

static int is_jpeg_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

fer_status fer_rgb_image_save(const fer_rgb_image *img, const char *path, fer_error *err)
{
    if (!img || !img->px || !path || img->w <= 0 || img->h <= 0)
        return fer_fail(err, FER_EINVAL, "fer_rgb_image_save: NULL argument or empty image");
    if ((size_t)img->w > 0x7fffffff / 3 / (size_t)img->h)
        return fer_fail(err, FER_ERANGE, "%s: %dx%d image is too large to encode", path, img->w,
                        img->h);
    membuf m = {NULL, 0, 0, 0};
    int jpeg = is_jpeg_name(path);
    int ok = jpeg ? stbi_write_jpg_to_func(collect, &m, img->w, img->h, 3, img->px, JPEG_QUALITY)
                  : stbi_write_png_to_func(collect, &m, img->w, img->h, 3, img->px, img->w * 3);
    fer_status s;
    if (!ok || m.failed)
        s = fer_fail(err, FER_ENOMEM, "%s: cannot encode %s", path, jpeg ? "JPEG" : "PNG");
    else
        s = fer_file_write_atomic(path, m.p, m.n, err);
    free(m.p);
    return s;
}
