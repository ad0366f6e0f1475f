/* Inverted dropout: in training each element is kept with probability
 * 1-rate and scaled by 1/(1-rate); in evaluation it is the identity. The
 * mask (one byte per element) is drawn serially from the model's RNG, so it
 * does not depend on the thread count. Both passes work in place: the model
 * runs dropout over its input's buffer. */
#include <string.h>

#include "nn/layers.h"

/* y = x * (mask ? scale : 0): a select between constants, so the loop
 * vectorises (a conditional load of x would not, and random masks
 * mispredict every fourth branch). */
FER_VECTOR_CLONES
static void apply_mask(size_t n, const uint8_t *restrict m, float scale, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * (m[i] ? scale : 0.0f);
}

void fer_dropout_forward(fer_layer *l, const fer_exec *e, const float *x, float *y)
{
    size_t n = (size_t)e->n * fer_layer_out_size(l);
    if (!e->train || l->rate <= 0) {
        if (y != x)
            memcpy(y, x, n * sizeof *y);
        return;
    }
    float scale = 1.0f / (1.0f - l->rate);
    /* two 32-bit uniforms per draw of the generator */
    uint32_t thresh = (uint32_t)((double)l->rate * 4294967296.0);
    for (size_t i = 0; i < n; i += 2) {
        uint64_t r = fer_rng_u64(e->rng);
        l->mask[i] = (uint32_t)r >= thresh;
        if (i + 1 < n)
            l->mask[i + 1] = (uint32_t)(r >> 32) >= thresh;
    }
    apply_mask(n, l->mask, scale, x, y);
}

void fer_dropout_backward(const fer_layer *l, const fer_exec *e, const float *dy, float *dx)
{
    size_t n = (size_t)e->n * fer_layer_out_size(l);
    if (!e->train || l->rate <= 0) {
        if (dx != dy)
            memcpy(dx, dy, n * sizeof *dx);
        return;
    }
    float scale = 1.0f / (1.0f - l->rate);
    apply_mask(n, l->mask, scale, dy, dx);
}
