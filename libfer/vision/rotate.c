/* In-plane rotation for the face pipeline: a turned copy of the detector's
 * working image (tilted faces become upright for the Haar cascade), and the
 * upright crop of a tilted face box from the photo.
 *
 * One convention for both: turning by `deg` maps a point p of the turned
 * image to the source point c + A (p - c'), A = [[cos, sin], [-sin, cos]],
 * where c and c' are the two images' centres (the turned image has the
 * source's size: corners that leave it are lost, those that enter it
 * repeat the nearest edge pixel). */
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "vision/vision.h"

/* Bilinear sample of a w x h grey buffer at (x, y) in pixel-centre
 * coordinates (pixel i covers [i, i+1)), edges repeated. */
static double sample(const uint8_t *px, int w, int h, double x, double y)
{
    x -= 0.5;
    y -= 0.5;
    x = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
    y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    double a = x - x0, b = y - y0;
    const uint8_t *r0 = px + (size_t)y0 * (size_t)w, *r1 = px + (size_t)y1 * (size_t)w;
    return (1 - b) * ((1 - a) * r0[x0] + a * r0[x1]) + b * ((1 - a) * r1[x0] + a * r1[x1]);
}

static uint8_t to_u8(double v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5); }

fer_status fer_image_turn(const fer_image *src, double deg, fer_image *dst, fer_error *err)
{
    *dst = (fer_image){src->w, src->h, malloc((size_t)src->w * (size_t)src->h)};
    if (!dst->px)
        return fer_fail(err, FER_ENOMEM, "out of memory for a %dx%d turned image", src->w, src->h);
    double c = cos(deg * M_PI / 180), s = sin(deg * M_PI / 180);
    double cx = src->w / 2.0, cy = src->h / 2.0;
    for (int y = 0; y < dst->h; y++) {
        uint8_t *row = dst->px + (size_t)y * (size_t)dst->w;
        double v = y + 0.5 - cy;
        for (int x = 0; x < dst->w; x++) {
            double u = x + 0.5 - cx;
            row[x] = to_u8(sample(src->px, src->w, src->h, cx + c * u + s * v, cy - s * u + c * v));
        }
    }
    return FER_OK;
}

void fer_turn_point(int w, int h, double deg, double x, double y, double *sx, double *sy)
{
    double c = cos(deg * M_PI / 180), s = sin(deg * M_PI / 180);
    double u = x - w / 2.0, v = y - h / 2.0;
    *sx = w / 2.0 + c * u + s * v;
    *sy = h / 2.0 - s * u + c * v;
}

fer_status fer_image_crop_turned(const fer_image *img, double cx, double cy, double bw, double bh,
                                 double deg, int ow, int oh, uint8_t *out, fer_error *err)
{
    if (!(bw >= 1 && bh >= 1) || ow < 1 || oh < 1)
        return fer_fail(err, FER_ERANGE, "turned crop %gx%g -> %dx%d is empty", bw, bh, ow, oh);
    double c = cos(deg * M_PI / 180), s = sin(deg * M_PI / 180);
    /* The source area the turned box covers, area-resized to about the
     * output's resolution first, so that a big face is averaged, not aliased. */
    double ex = (bw * fabs(c) + bh * fabs(s)) / 2, ey = (bw * fabs(s) + bh * fabs(c)) / 2;
    long x0 = (long)floor(cx - ex) - 1, y0 = (long)floor(cy - ey) - 1;
    long x1 = (long)ceil(cx + ex) + 1, y1 = (long)ceil(cy + ey) + 1;
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > img->w ? img->w : x1, y1 = y1 > img->h ? img->h : y1;
    if (x1 <= x0 || y1 <= y0)
        return fer_fail(err, FER_ERANGE, "turned crop at %g,%g is outside the %dx%d image", cx, cy,
                        img->w, img->h);
    double k = fmin(1, fmin(ow / bw, oh / bh)); /* patch pixels per source pixel */
    int pw = (int)ceil((x1 - x0) * k), ph = (int)ceil((y1 - y0) * k);
    pw = pw < 1 ? 1 : pw, ph = ph < 1 ? 1 : ph;
    uint8_t *patch = malloc((size_t)pw * (size_t)ph);
    if (!patch)
        return fer_fail(err, FER_ENOMEM, "out of memory for a turned crop");
    fer_status st = fer_image_crop_resize(img, (int)x0, (int)y0, (int)(x1 - x0), (int)(y1 - y0),
                                          pw, ph, patch, err);
    double kx = (double)pw / (x1 - x0), ky = (double)ph / (y1 - y0);
    for (int oy = 0; !st && oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            double u = ((ox + 0.5) / ow - 0.5) * bw, v = ((oy + 0.5) / oh - 0.5) * bh;
            double sx = cx + c * u + s * v, sy = cy - s * u + c * v;
            out[(size_t)oy * (size_t)ow + (size_t)ox] =
                to_u8(sample(patch, pw, ph, (sx - x0) * kx, (sy - y0) * ky));
        }
    free(patch);
    return st;
}
