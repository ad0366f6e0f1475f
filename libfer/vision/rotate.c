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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/vision.h"

/* Bilinear sample of a w x h grey buffer at (x, y) in pixel-centre
 * coordinates (pixel i covers [i, i+1)), edges repeated. */
static inline double sample(const uint8_t *px, int w, int h, double x, double y)
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

/* The turned image's pixel (x, y): sample() at its source point. */
static inline uint8_t turned_px(const fer_image *src, double c, double s, double cx, double cy,
                                int x, double v)
{
    double u = x + 0.5 - cx;
    return to_u8(sample(src->px, src->w, src->h, cx + c * u + s * v, cy - s * u + c * v));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TURN_X86
#include <immintrin.h>

/* Four pixels of a row at once in AVX2 doubles: sample()'s operations one
 * by one (its clamps as selects; no FMA: the target is avx2 alone), so the
 * same bits. The two source pixels of each row of a sample come from one
 * 32-bit gather at the left one (the right one is the next byte; at the
 * right edge, where sample() takes the left one twice, its weight a is 0,
 * so any byte there gives the same sum); the four pixels take the scalar
 * path when a gather would read past the image's last byte. */
__attribute__((target("avx2"))) static void turn_row_avx2(const fer_image *src, double c,
                                                           double s, double cx, double cy, int y,
                                                           uint8_t *row)
{
    const double v = y + 0.5 - cy;
    const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1), vcx = _mm256_set1_pd(cx),
                  vcy = _mm256_set1_pd(cy), vc = _mm256_set1_pd(c), vs = _mm256_set1_pd(s),
                  sv = _mm256_set1_pd(s * v), cv = _mm256_set1_pd(c * v),
                  zero = _mm256_setzero_pd(), xmax = _mm256_set1_pd(src->w - 1),
                  ymax = _mm256_set1_pd(src->h - 1), four_px = _mm256_set1_pd(4);
    const __m128i w = _mm_set1_epi32(src->w), hlast = _mm_set1_epi32(src->h - 1), ione = _mm_set1_epi32(1),
                  lo = _mm_set1_epi32(0xff), last = _mm_set1_epi32(src->w * src->h - 4);
    const int *base = (const int *)(const void *)src->px;
    int x = 0;
    __m256d xs = _mm256_set_pd(3, 2, 1, 0); /* whole numbers: exact */
    for (; x + 4 <= src->w; x += 4, xs = _mm256_add_pd(xs, four_px)) {
        __m256d u = _mm256_sub_pd(_mm256_add_pd(xs, half), vcx);
        __m256d sx = _mm256_sub_pd(_mm256_add_pd(_mm256_add_pd(vcx, _mm256_mul_pd(vc, u)), sv), half);
        __m256d sy = _mm256_sub_pd(_mm256_add_pd(_mm256_sub_pd(vcy, _mm256_mul_pd(vs, u)), cv), half);
        sx = _mm256_blendv_pd(sx, zero, _mm256_cmp_pd(sx, zero, _CMP_LT_OQ));
        sx = _mm256_blendv_pd(sx, xmax, _mm256_cmp_pd(sx, xmax, _CMP_GT_OQ));
        sy = _mm256_blendv_pd(sy, zero, _mm256_cmp_pd(sy, zero, _CMP_LT_OQ));
        sy = _mm256_blendv_pd(sy, ymax, _mm256_cmp_pd(sy, ymax, _CMP_GT_OQ));
        __m128i x0 = _mm256_cvttpd_epi32(sx), y0 = _mm256_cvttpd_epi32(sy);
        __m128i y1 = _mm_min_epi32(_mm_add_epi32(y0, ione), hlast);
        __m128i i0 = _mm_add_epi32(_mm_mullo_epi32(y0, w), x0);
        __m128i i1 = _mm_add_epi32(_mm_mullo_epi32(y1, w), x0);
        if (_mm_movemask_epi8(_mm_cmpgt_epi32(i1, last))) {
            for (int k = 0; k < 4; k++)
                row[x + k] = turned_px(src, c, s, cx, cy, x + k, v);
            continue;
        }
        __m256d a = _mm256_sub_pd(sx, _mm256_cvtepi32_pd(x0));
        __m256d b = _mm256_sub_pd(sy, _mm256_cvtepi32_pd(y0));
        __m128i g0 = _mm_i32gather_epi32(base, i0, 1), g1 = _mm_i32gather_epi32(base, i1, 1);
        __m256d p00 = _mm256_cvtepi32_pd(_mm_and_si128(g0, lo));
        __m256d p01 = _mm256_cvtepi32_pd(_mm_and_si128(_mm_srli_epi32(g0, 8), lo));
        __m256d p10 = _mm256_cvtepi32_pd(_mm_and_si128(g1, lo));
        __m256d p11 = _mm256_cvtepi32_pd(_mm_and_si128(_mm_srli_epi32(g1, 8), lo));
        __m256d na = _mm256_sub_pd(one, a), nb = _mm256_sub_pd(one, b);
        __m256d t0 = _mm256_add_pd(_mm256_mul_pd(na, p00), _mm256_mul_pd(a, p01));
        __m256d t1 = _mm256_add_pd(_mm256_mul_pd(na, p10), _mm256_mul_pd(a, p11));
        __m256d val = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(nb, t0), _mm256_mul_pd(b, t1)), half);
        __m128i q = _mm256_cvttpd_epi32(val); /* 0..255: the scalar clamp never bites */
        q = _mm_packus_epi16(_mm_packus_epi32(q, q), q);
        int four = _mm_cvtsi128_si32(q);
        memcpy(row + x, &four, 4);
    }
    for (; x < src->w; x++)
        row[x] = turned_px(src, c, s, cx, cy, x, v);
}
#endif

int fer_image_turn_simd(void)
{
#ifdef TURN_X86
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

fer_status fer_image_turn_with(const fer_image *src, double deg, int simd, fer_image *dst,
                               fer_error *err)
{
    *dst = (fer_image){src->w, src->h, malloc((size_t)src->w * (size_t)src->h)};
    if (!dst->px)
        return fer_fail(err, FER_ENOMEM, "out of memory for a %dx%d turned image", src->w, src->h);
    double c = cos(deg * M_PI / 180), s = sin(deg * M_PI / 180);
    double cx = src->w / 2.0, cy = src->h / 2.0;
    /* the gathers index the image with 32-bit offsets */
    simd = simd && fer_image_turn_simd() && (size_t)src->w * (size_t)src->h < INT32_MAX / 2;
    for (int y = 0; y < dst->h; y++) {
        uint8_t *row = dst->px + (size_t)y * (size_t)dst->w;
#ifdef TURN_X86
        if (simd) {
            turn_row_avx2(src, c, s, cx, cy, y, row);
            continue;
        }
#endif
        double v = y + 0.5 - cy;
        for (int x = 0; x < dst->w; x++)
            row[x] = turned_px(src, c, s, cx, cy, x, v);
    }
    return FER_OK;
}

fer_status fer_image_turn(const fer_image *src, double deg, fer_image *dst, fer_error *err)
{
    return fer_image_turn_with(src, deg, 1, dst, err);
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
