/* Training-time augmentation: one random affine map per image (flip, shift,
 * rotation, zoom about the centre) sampled bilinearly with edge clamping
 * (Keras' fill_mode "nearest"), then a brightness factor, then optionally
 * random erasing (Zhong et al. 2017: a rectangle of noise); the same
 * sampler gives predict.c its zoomed test-time views. */
#include <math.h>

#include "core/core.h"
#include "emotion/emotion.h"

void fer_augment_opts_default(fer_augment_opts *o)
{
    o->flip = 1;
    o->shift = 0.1f;
    o->rotation = 10;
    o->zoom = 0.1f;
    o->brightness = 0.2f;
    o->erase = 0;
}

static float uniform_in(fer_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)fer_rng_uniform(r);
}

static float sample(const uint8_t *src, int h, int w, float x, float y)
{
    x = x < 0 ? 0 : (x > w - 1 ? (float)(w - 1) : x);
    y = y < 0 ? 0 : (y > h - 1 ? (float)(h - 1) : y);
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    float top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
    float bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
    return top * (1 - fy) + bot * fy;
}

void augment_view(const uint8_t *src, int h, int w, int flip, float tx, float ty, float ang,
                  float zoom, float bright, float *dst)
{
    /* Output pixel p maps to source c + R(-ang) (p - c - t) / zoom. */
    float cx = (float)(w - 1) / 2, cy = (float)(h - 1) / 2;
    float ca = cosf(ang) / zoom, sa = sinf(ang) / zoom;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float dx = (flip ? (float)(w - 1 - x) : (float)x) - cx - tx, dy = (float)y - cy - ty;
            float sx = cx + ca * dx + sa * dy, sy = cy - sa * dx + ca * dy;
            float v = sample(src, h, w, sx, sy) * bright;
            dst[y * w + x] = (v > 255 ? 255 : v) * (1.0f / 255.0f);
        }
}

/* One rectangle of 2-33% of the area, aspect (height over width) 1/3..3
 * on a log scale, cut to the image, at a uniform place; its pixels
 * uniform in [0, 1) (the preprocessed range). */
static void erase_rect(int h, int w, fer_rng *rng, float *dst)
{
    float area = uniform_in(rng, 0.02f, 0.33f) * (float)(h * w);
    float aspect = expf(uniform_in(rng, -logf(3), logf(3)));
    int eh = (int)lroundf(sqrtf(area * aspect)), ew = (int)lroundf(sqrtf(area / aspect));
    eh = eh < 1 ? 1 : eh > h ? h : eh;
    ew = ew < 1 ? 1 : ew > w ? w : ew;
    int y0 = (int)(fer_rng_uniform(rng) * (h - eh + 1));
    int x0 = (int)(fer_rng_uniform(rng) * (w - ew + 1));
    for (int y = y0; y < y0 + eh; y++)
        for (int x = x0; x < x0 + ew; x++)
            dst[y * w + x] = (float)fer_rng_uniform(rng);
}

void fer_augment(const uint8_t *src, int h, int w, const fer_augment_opts *o, fer_rng *rng,
                 float *dst)
{
    /* Draw every parameter, used or not, so the stream of random numbers
     * does not depend on the options. */
    int flip = o->flip && fer_rng_uniform(rng) < 0.5;
    float tx = uniform_in(rng, -o->shift, o->shift) * (float)w;
    float ty = uniform_in(rng, -o->shift, o->shift) * (float)h;
    float ang = uniform_in(rng, -o->rotation, o->rotation) * (float)(M_PI / 180.0);
    float zoom = uniform_in(rng, 1 - o->zoom, 1 + o->zoom);
    float bright = uniform_in(rng, 1 - o->brightness, 1 + o->brightness);
    augment_view(src, h, w, flip, tx, ty, ang, zoom, bright, dst);
    if (o->erase > 0 && fer_rng_uniform(rng) < o->erase)
        erase_rect(h, w, rng, dst);
}
