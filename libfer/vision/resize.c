/* Area-averaged crop and resize (the face box -> 48x48 CNN input). Each
 * output pixel is the mean of the source area it covers, with partially
 * covered source pixels weighted by the covered fraction, like OpenCV's
 * INTER_AREA when shrinking. The weights are separable, so the work is a
 * horizontal pass into a float buffer and a vertical pass from it. */
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "vision/vision.h"

/* Sizes beyond this are surely a bug in the caller. */
#define MAX_OUT_SIDE 16384

/* One source pixel's share of one output pixel along one axis. */
typedef struct tap { int src, dst; double w; } tap;

/* Taps mapping `n` source pixels starting at `first` onto `out` pixels;
 * each output's weights sum to 1. Returns the count written to t (at most
 * n + out). */
static int axis_taps(int first, int n, int out, tap *t)
{
    double scale = (double)n / out;
    int k = 0;
    for (int o = 0; o < out; o++) {
        double lo = o * scale, hi = (o + 1) * scale;
        int s = (int)lo;
        if (s >= n)
            s = n - 1;
        for (; s < n && s < hi; s++) {
            double a = s > lo ? s : lo, b = s + 1 < hi ? s + 1 : hi;
            if (b > a) {
                t[k].src = first + s;
                t[k].dst = o;
                t[k].w = (b - a) / scale;
                k++;
            }
        }
    }
    return k;
}

static fer_status clip_box(const fer_image *img, int *x, int *y, int *w, int *h, fer_error *err)
{
    long x0 = *x, y0 = *y, x1 = (long)*x + *w, y1 = (long)*y + *h;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > img->w) x1 = img->w;
    if (y1 > img->h) y1 = img->h;
    if (*w <= 0 || *h <= 0 || x1 <= x0 || y1 <= y0)
        return fer_fail(err, FER_ERANGE, "crop box (%d,%d %dx%d) does not overlap the %dx%d image",
                        *x, *y, *w, *h, img->w, img->h);
    *x = (int)x0;
    *y = (int)y0;
    *w = (int)(x1 - x0);
    *h = (int)(y1 - y0);
    return FER_OK;
}

fer_status fer_image_crop_resize(const fer_image *img, int x, int y, int w, int h, int ow, int oh,
                                 uint8_t *out, fer_error *err)
{
    if (!img || !img->px || !out || img->w <= 0 || img->h <= 0)
        return fer_fail(err, FER_EINVAL, "fer_image_crop_resize: NULL or empty image");
    if (ow <= 0 || oh <= 0 || ow > MAX_OUT_SIDE || oh > MAX_OUT_SIDE)
        return fer_fail(err, FER_ERANGE, "fer_image_crop_resize: output size %dx%d out of range",
                        ow, oh);
    fer_status s = clip_box(img, &x, &y, &w, &h, err);
    if (s != FER_OK)
        return s;
    tap *tx = malloc(sizeof *tx * ((size_t)w + ow));
    tap *ty = malloc(sizeof *ty * ((size_t)h + oh));
    double *rows = calloc((size_t)h * ow, sizeof *rows); /* h source rows, ow columns */
    double *acc = calloc((size_t)oh * ow, sizeof *acc);
    if (!tx || !ty || !rows || !acc) {
        free(tx), free(ty), free(rows), free(acc);
        return fer_fail(err, FER_ENOMEM, "fer_image_crop_resize: out of memory");
    }
    int nx = axis_taps(x, w, ow, tx), ny = axis_taps(y, h, oh, ty);
    for (int r = 0; r < h; r++) {
        const uint8_t *src = img->px + (size_t)(y + r) * img->w;
        double *row = rows + (size_t)r * ow;
        for (int k = 0; k < nx; k++)
            row[tx[k].dst] += tx[k].w * src[tx[k].src];
    }
    for (int k = 0; k < ny; k++) {
        const double *row = rows + (size_t)(ty[k].src - y) * ow;
        double *dst = acc + (size_t)ty[k].dst * ow;
        for (int c = 0; c < ow; c++)
            dst[c] += ty[k].w * row[c];
    }
    for (size_t i = 0; i < (size_t)oh * ow; i++) {
        double v = acc[i] + 0.5;
        out[i] = v >= 255 ? 255 : v <= 0 ? 0 : (uint8_t)v;
    }
    free(tx), free(ty), free(rows), free(acc);
    return FER_OK;
}

static int min_int(int a, int b) { return a < b ? a : b; }

fer_box fer_face_crop_box(const fer_image *img, fer_box b, double margin)
{
    int room_x = min_int(b.x, img->w - b.x - b.w), room_y = min_int(b.y, img->h - b.y - b.h);
    double f = margin > 0 ? margin : 0;
    if (b.w > 0 && room_x < f * b.w)
        f = room_x > 0 ? (double)room_x / b.w : 0;
    if (b.h > 0 && room_y < f * b.h)
        f = room_y > 0 ? (double)room_y / b.h : 0;
    /* f <= room / size on both axes and the rooms are whole pixels, so the
     * rounded margins never leave the image */
    int mx = (int)lround(b.w * f), my = (int)lround(b.h * f);
    fer_box c = {b.x - mx, b.y - my, b.w + 2 * mx, b.h + 2 * my};
    return c;
}

fer_status fer_image_shrink(const fer_image *src, int q, fer_image *dst, fer_error *err)
{
    if (q < 1 || q > 4096)
        return fer_fail(err, FER_ERANGE, "fer_image_shrink: factor %d is not 1..4096", q);
    *dst = (fer_image){(src->w + q - 1) / q, (src->h + q - 1) / q, NULL};
    dst->px = malloc((size_t)dst->w * (size_t)dst->h);
    uint32_t *col = malloc((size_t)src->w * sizeof *col); /* column sums of a band of q rows */
    if (!dst->px || !col) {
        free(col);
        fer_image_free(dst);
        return fer_fail(err, FER_ENOMEM, "out of memory for a %dx%d image", dst->w, dst->h);
    }
    for (int oy = 0; oy < dst->h; oy++) {
        int y0 = oy * q, y1 = y0 + q < src->h ? y0 + q : src->h;
        const uint8_t *row = src->px + (size_t)y0 * (size_t)src->w;
        for (int x = 0; x < src->w; x++)
            col[x] = row[x];
        for (int y = y0 + 1; y < y1; y++) { /* a plain loop the compiler vectorises */
            row = src->px + (size_t)y * (size_t)src->w;
            for (int x = 0; x < src->w; x++)
                col[x] += row[x];
        }
        uint8_t *out = dst->px + (size_t)oy * (size_t)dst->w;
        for (int ox = 0; ox < dst->w; ox++) {
            int x0 = ox * q, x1 = x0 + q < src->w ? x0 + q : src->w;
            uint32_t sum = 0;
            for (int x = x0; x < x1; x++)
                sum += col[x];
            uint32_t n = (uint32_t)(y1 - y0) * (uint32_t)(x1 - x0);
            out[ox] = (uint8_t)((sum + n / 2) / n);
        }
    }
    free(col);
    return FER_OK;
}
