/* Inverted dropout: in training each element is kept with probability
 * 1-rate and scaled by 1/(1-rate); in evaluation it is the identity. The
 * mask (one byte per element) is drawn serially from the model's RNG, so it
 * does not depend on the thread count. Both passes work in place: the model
 * runs dropout over its input's buffer when nothing else reads it. Dropout
 * is active when the pass has an rng (training steps), else the identity. */
#include <cJSON.h>
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

static void dropout_forward(fer_layer *l, const fer_exec *e, const float *x, float *y)
{
    size_t n = (size_t)e->n * fer_layer_out_size(l);
    if (!e->rng || l->rate <= 0) {
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

static void dropout_backward(const fer_layer *l, const fer_exec *e, const float *dy, float *dx)
{
    size_t n = (size_t)e->n * fer_layer_out_size(l);
    if (!e->rng || l->rate <= 0) {
        if (dx != dy)
            memcpy(dx, dy, n * sizeof *dx);
        return;
    }
    float scale = 1.0f / (1.0f - l->rate);
    apply_mask(n, l->mask, scale, dy, dx);
}

/* ---- the layer: {"type":"dropout","rate":R}, R in [0, 1) */

static fer_status dropout_parse(fer_layer *l, const void *o, fer_error *err)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rate");
    if (!cJSON_IsNumber(r) || !(r->valuedouble >= 0 && r->valuedouble < 1))
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: dropout \"rate\" must be in "
                        "[0,1)", l->index);
    l->rate = (float)r->valuedouble;
    return FER_OK;
}

/* Inference (no rng) draws no mask. */
static fer_status dropout_reserve(fer_layer *l, int n, int backward)
{
    fer_aligned_free(l->mask);
    l->mask = backward ? fer_aligned_alloc((size_t)n * fer_layer_out_size(l)) : NULL;
    return l->mask || !backward ? FER_OK : FER_ENOMEM;
}

static void dropout_release(fer_layer *l)
{
    fer_aligned_free(l->mask);
    l->mask = NULL;
}

static void dropout_fwd(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    dropout_forward(l, e, x[0], y);
}

static void dropout_bwd(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                        float *dy, float *const *dx)
{
    (void)x, (void)y;
    if (dx[0])
        dropout_backward(l, e, dy, dx[0]);
}

const fer_layer_ops fer_dropout_ops = {
    .type = "dropout", .parse = dropout_parse, .reserve = dropout_reserve,
    .release = dropout_release, .forward = dropout_fwd, .backward = dropout_bwd,
    .elementwise = 1, .in_place = 1,
};
