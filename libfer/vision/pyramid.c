/* Bilinear 8-bit downscaling with the same fixed-point arithmetic as
 * OpenCV's bit-exact resize (INTER_LINEAR_EXACT), which is what
 * detectMultiScale in OpenCV 4.6 builds its image pyramid with: so our
 * levels, and so our detections, match it pixel for pixel. Both passes
 * have an AVX2 path (eight outputs at once, the same integers). */
#include <math.h>

#include "vision/haar.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define RESIZE_X86 1
#endif

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

static void hresize_from(const uint8_t *src, const int *xofs, const int *w1, int x, int dw,
                         int *out)
{
    for (; x < dw; x++) {
        int s = xofs[x], b = w1[x];
        out[x] = b < 0 ? src[s] << FRAC_BITS : src[s] * (ONE - b) + src[s + 1] * b;
    }
}

#ifdef RESIZE_X86
/* Eight outputs at once while the 32 bits gathered at each source pixel
 * stay inside the row (xofs never decreases): a pixel and its right
 * neighbour as two 16-bit lanes, times the weights (ONE - b, b) by one
 * multiply-add ((ONE, 0) for the edge pixels, b < 0: the plain path's
 * shift), then the plain path for the rest of the row. */
__attribute__((target("avx2"))) static void hresize_avx2(const uint8_t *src, int sw,
                                                         const int *xofs, const int *w1, int dw,
                                                         int *out)
{
    const __m256i lo = _mm256_set1_epi32(0xff), hi = _mm256_set1_epi32(0xff00),
                  one = _mm256_set1_epi32(ONE), zero = _mm256_setzero_si256();
    const int *base = (const int *)(const void *)src;
    int x = 0;
    for (; x + 8 <= dw && xofs[x + 7] + 3 < sw; x += 8) {
        __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)(xofs + x));
        __m256i b = _mm256_max_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(w1 + x)), zero);
        __m256i g = _mm256_i32gather_epi32(base, s, 1);
        __m256i px = _mm256_or_si256(_mm256_and_si256(g, lo),
                                     _mm256_slli_epi32(_mm256_and_si256(g, hi), 8));
        __m256i wt = _mm256_or_si256(_mm256_sub_epi32(one, b), _mm256_slli_epi32(b, 16));
        _mm256_storeu_si256((__m256i *)(void *)(out + x), _mm256_madd_epi16(px, wt));
    }
    hresize_from(src, xofs, w1, x, dw, out);
}
#endif

static void hresize(const uint8_t *src, int sw, const int *xofs, const int *w1, int dw, int *out,
                    int simd)
{
#ifdef RESIZE_X86
    if (simd) {
        hresize_avx2(src, sw, xofs, w1, dw, out);
        return;
    }
#else
    (void)sw, (void)simd;
#endif
    hresize_from(src, xofs, w1, 0, dw, out);
}

static void vresize_from(const int *r0, const int *r1, int b, int x, int dw, uint8_t *dst)
{
    for (; x < dw; x++) {
        int v = b < 0 ? (r0[x] + (1 << (FRAC_BITS - 1))) >> FRAC_BITS
                      : (r0[x] * (ONE - b) + r1[x] * b + (1 << (2 * FRAC_BITS - 1))) >>
                            (2 * FRAC_BITS);
        dst[x] = (uint8_t)(v > 255 ? 255 : v);
    }
}

#ifdef RESIZE_X86
/* Eight outputs at once, the same integers; the saturating packs are the
 * plain path's clamp (the values are never negative). */
__attribute__((target("avx2"))) static void vresize_avx2(const int *r0, const int *r1, int b,
                                                         int dw, uint8_t *dst)
{
    int x = 0;
    const __m256i w0 = _mm256_set1_epi32(ONE - b), w1 = _mm256_set1_epi32(b),
                  half1 = _mm256_set1_epi32(1 << (FRAC_BITS - 1)),
                  half2 = _mm256_set1_epi32(1 << (2 * FRAC_BITS - 1));
    for (; x + 8 <= dw; x += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(r0 + x)), v;
        if (b < 0) {
            v = _mm256_srai_epi32(_mm256_add_epi32(a, half1), FRAC_BITS);
        } else {
            __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(r1 + x));
            v = _mm256_add_epi32(_mm256_mullo_epi32(a, w0), _mm256_mullo_epi32(c, w1));
            v = _mm256_srai_epi32(_mm256_add_epi32(v, half2), 2 * FRAC_BITS);
        }
        __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(void *)(dst + x), _mm_packus_epi16(p, p));
    }
    vresize_from(r0, r1, b, x, dw, dst);
}
#endif

static void vresize(const int *r0, const int *r1, int b, int dw, uint8_t *dst, int simd)
{
#ifdef RESIZE_X86
    if (simd) {
        vresize_avx2(r0, r1, b, dw, dst);
        return;
    }
#else
    (void)simd;
#endif
    vresize_from(r0, r1, b, 0, dw, dst);
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
            hresize(src + (size_t)s0 * sw, sw, b->xofs, b->xw, dw, b->row0, b->simd);
        have0 = s0;
        if (s1 != have1 && s1 != s0)
            hresize(src + (size_t)s1 * sw, sw, b->xofs, b->xw, dw, b->row1, b->simd);
        if (s1 != s0)
            have1 = s1;
        vresize(b->row0, b->row1, b->yw[y], dw, dst + (size_t)y * dw, b->simd);
    }
}
