/* Draws detection boxes and their labels on the original colour photo and
 * writes it as PNG. Text comes from stb_easy_font, which Debian ships as a
 * header of static functions (no implementation macro, nothing in
 * libstb.so): it turns a string into quads that we fill as rectangles. */
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
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

#include "internal.h"

#define MAX_PIXELS ((size_t)64 << 20)
#define MAX_FILE_BYTES ((size_t)512 << 20)
#define MAX_LABEL 120
#define FONT_HEIGHT 12 /* stb_easy_font's line height in font units */

static const uint8_t BOX_RGB[3] = {0, 230, 64};
static const uint8_t TEXT_RGB[3] = {0, 0, 0};

typedef struct canvas {
    uint8_t *px; /* RGB */
    int w, h;
} canvas;

/* Fills [x0,x1) x [y0,y1), clipped to the canvas. */
static void fill(canvas *c, long x0, long y0, long x1, long y1, const uint8_t *rgb)
{
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > c->w ? c->w : x1;
    y1 = y1 > c->h ? c->h : y1;
    for (long y = y0; y < y1; y++)
        for (long x = x0; x < x1; x++)
            memcpy(c->px + ((size_t)y * c->w + (size_t)x) * 3, rgb, 3);
}

static void outline(canvas *c, const fer_box *b, int t)
{
    long x0 = b->x, y0 = b->y, x1 = (long)b->x + b->w, y1 = (long)b->y + b->h;
    fill(c, x0, y0, x1, y0 + t, BOX_RGB);
    fill(c, x0, y1 - t, x1, y1, BOX_RGB);
    fill(c, x0, y0, x0 + t, y1, BOX_RGB);
    fill(c, x1 - t, y0, x1, y1, BOX_RGB);
}

/* stb_easy_font indexes a table by (char - 32): keep to printable ASCII. */
static void printable(const char *src, char *dst)
{
    size_t k = 0;
    for (; src[k] && k < MAX_LABEL; k++)
        dst[k] = src[k] >= 32 && src[k] < 127 ? src[k] : '?';
    dst[k] = 0;
}

/* The label on a filled band just above the box (inside it at the top
 * edge of the photo), in font pixels scaled by s. */
static void label(canvas *c, const fer_box *b, const char *text, int s, void *vbuf, int vbuf_size)
{
    char buf[MAX_LABEL + 1];
    printable(text, buf);
    if (!buf[0])
        return;
    long tw = (long)stb_easy_font_width(buf) * s + 4, th = (long)FONT_HEIGHT * s;
    long x = b->x, y = (long)b->y - th;
    if (y < 0)
        y = b->y;
    fill(c, x, y, x + tw, y + th, BOX_RGB);
    int quads = stb_easy_font_print(0, 0, buf, NULL, vbuf, vbuf_size);
    const float *v = vbuf;
    for (int q = 0; q < quads; q++, v += 16) { /* 4 vertices of x,y,z,rgba */
        long qx0 = (long)v[0], qy0 = (long)v[1], qx1 = (long)v[8], qy1 = (long)v[9];
        fill(c, x + 2 + qx0 * s, y + 1 + qy0 * s, x + 2 + qx1 * s, y + 1 + qy1 * s, TEXT_RGB);
    }
}

/* PNG bytes collected in memory, so the file is written atomically. */
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

static fer_status load_rgb(const char *path, canvas *c, fer_error *err)
{
    char *data;
    size_t len;
    fer_status s = fer_file_read(path, MAX_FILE_BYTES, &data, &len, err);
    if (s != FER_OK)
        return s;
    int comp;
    if (len > (size_t)0x7fffffff || !stbi_info_from_memory((uint8_t *)data, (int)len, &c->w,
                                                           &c->h, &comp)) {
        free(data);
        return fer_fail(err, FER_EFORMAT, "%s: not a readable image", path);
    }
    if (c->w <= 0 || c->h <= 0 || (size_t)c->w > MAX_PIXELS / (size_t)c->h) {
        free(data);
        return fer_fail(err, FER_ERANGE, "%s: %dx%d image is too large", path, c->w, c->h);
    }
    c->px = stbi_load_from_memory((uint8_t *)data, (int)len, &c->w, &c->h, &comp, 3);
    free(data);
    if (!c->px)
        return fer_fail(err, FER_EFORMAT, "%s: cannot decode image", path);
    return FER_OK;
}

static fer_status write_png(const canvas *c, const char *out_png, fer_error *err)
{
    membuf m = {NULL, 0, 0, 0};
    int ok = stbi_write_png_to_func(collect, &m, c->w, c->h, 3, c->px, c->w * 3);
    fer_status s;
    if (!ok || m.failed)
        s = fer_fail(err, FER_ENOMEM, "%s: cannot encode PNG", out_png);
    else
        s = fer_file_write_atomic(out_png, m.p, m.n, err);
    free(m.p);
    return s;
}

fer_status fer_image_annotate(const char *src_path, const fer_box *boxes,
                              const char *const *labels, size_t n, const char *out_png,
                              fer_error *err)
{
    if (!src_path || !out_png || (n && !boxes))
        return fer_fail(err, FER_EINVAL, "fer_image_annotate: NULL argument");
    canvas c;
    fer_status s = load_rgb(src_path, &c, err);
    if (s != FER_OK)
        return s;
    int small = c.w < c.h ? c.w : c.h;
    int t = small >= 300 ? 3 : 2;          /* line thickness */
    int scale = 1 + small / 400;           /* text readable on big photos */
    int vbuf_size = MAX_LABEL * 300;       /* ~270 bytes per character */
    void *vbuf = malloc((size_t)vbuf_size);
    if (!vbuf) {
        stbi_image_free(c.px);
        return fer_fail(err, FER_ENOMEM, "fer_image_annotate: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        outline(&c, &boxes[i], t);
        if (labels && labels[i])
            label(&c, &boxes[i], labels[i], scale, vbuf, vbuf_size);
    }
    free(vbuf);
    s = write_png(&c, out_png, err);
    stbi_image_free(c.px);
    return s;
}
