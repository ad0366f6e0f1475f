/* Bilinear 8-bit downscaling with the same fixed-point arithmetic as
 * OpenCV's bit-exact resize (INTER_LINEAR_EXACT), which is what
 * detectMultiScale in OpenCV 4.6 builds its image pyramid with: so our
 * levels, and so our detections, match it pixel for pixel. */
#include <math.h>

#include "vision/haar.h"

/* Coefficients have 8 fractional bits; a horizontal result is pixel*256
 * scale, a vertical one pixel*65536 scale, rounded at the end. */
#define FRAC_BITS 8
#define ONE (1 << FRAC_BITS)

/* Source index and the weight of its right/lower neighbour for each
 * destination coordinate; coordinates past the last full pair take the
 * edge pixel (flagged by w1 < 0). */
static void axis(int src_n, int dst_n, int *ofs, int *w1)
{
    double scale = 1. / ((double)dst_n / src_n);
    for (int d = 0; d < dst_n; d++) {
        double f = scale * ((double)d + 0.5) - 0.5;
        double fl = floor(f);
        if (f < 0 || src_n <= 1) {
            ofs[d] = 0;
            w1[d] = -1;
        } else if (fl < src_n - 1) {
            ofs[d] = (int)fl;
            w1[d] = (int)llrint((f - fl) * ONE); /* to nearest, ties to even */
        } else {
            ofs[d] = src_n - 1;
            w1[d] = -1;
        }
    }
}

static void hresize(const uint8_t *src, const int *xofs, const int *w1, int dw, int *out)
{
    for (int x = 0; x < dw; x++) {
        int s = xofs[x], b = w1[x];
        out[x] = b < 0 ? src[s] << FRAC_BITS : src[s] * (ONE - b) + src[s + 1] * b;
    }
}

static void vresize(const int *r0, const int *r1, int b, int dw, uint8_t *dst)
{
    for (int x = 0; x < dw; x++) {
        int v = b < 0 ? (r0[x] + (1 << (FRAC_BITS - 1))) >> FRAC_BITS
                      : (r0[x] * (ONE - b) + r1[x] * b + (1 << (2 * FRAC_BITS - 1))) >>
                            (2 * FRAC_BITS);
        dst[x] = (uint8_t)(v > 255 ? 255 : v);
    }
}

/* Exactly half size: OpenCV switches to its area average, rounded. */
static void halve(const uint8_t *src, int sw, uint8_t *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        const uint8_t *a = src + (size_t)2 * y * sw, *b = a + sw;
        for (int x = 0; x < dw; x++)
            dst[(size_t)y * dw + x] =
                (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
    }
}

void haar_resize_linear(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh,
                        haar_resize_buf *b)
{
    if (dw == sw && dh == sh) {
        for (size_t i = 0; i < (size_t)sw * sh; i++)
            dst[i] = src[i];
        return;
    }
    if (sw == 2 * dw && sh == 2 * dh) {
        halve(src, sw, dst, dw, dh);
        return;
    }
    axis(sw, dw, b->xofs, b->xw);
    axis(sh, dh, b->yofs, b->yw);
    int have0 = -1, have1 = -1; /* source rows now in row0 / row1 */
    for (int y = 0; y < dh; y++) {
        int s0 = b->yofs[y], s1 = b->yw[y] < 0 ? s0 : s0 + 1;
        if (s0 == have1) { /* reuse the previous lower row as the upper one */
            int *t = b->row0;
            b->row0 = b->row1;
            b->row1 = t;
            have0 = have1;
            have1 = -1;
        }
        if (s0 != have0)
            hresize(src + (size_t)s0 * sw, b->xofs, b->xw, dw, b->row0);
        have0 = s0;
        if (s1 != have1 && s1 != s0)
            hresize(src + (size_t)s1 * sw, b->xofs, b->xw, dw, b->row1);
        if (s1 != s0)
            have1 = s1;
        vresize(b->row0, b->row1, b->yw[y], dw, dst + (size_t)y * dw);
    }
}
