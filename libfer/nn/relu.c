/* ReLU, also fused into conv, dense, batch norm and add; the standalone
 * layer uses these, and so does flatten, the other shape-keeping layer.
 * Selects, not branches and not fmaxf (an out-of-line libm call under GCC),
 * so the loops vectorise. The vector copies are static helpers: clang only
 * emits target_clones dispatchers for functions local to the file. */
#include <string.h>

#include "nn/layers.h"

FER_VECTOR_CLONES
static void relu(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : 0;
}

FER_VECTOR_CLONES
static void relu_mask(size_t n, const float *y, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0; /* 0 * inf is never formed */
}

void fer_relu_forward(size_t n, const float *x, float *y) { relu(n, x, y); }

void fer_relu_backward(size_t n, const float *y, const float *dy, float *dx)
{
    relu_mask(n, y, dy, dx);
}

/* ---- {"type":"relu"} */

static fer_status relu_parse(fer_layer *l, const void *o, fer_error *err)
{
    (void)l, (void)o, (void)err;
    return FER_OK;
}

static void relu_fwd(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    relu((size_t)e->n * fer_layer_out_size(l), x[0], y);
}

static void relu_bwd(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                     float *dy, float *const *dx)
{
    (void)x;
    if (dx[0])
        relu_mask((size_t)e->n * fer_layer_out_size(l), y, dy, dx[0]);
}

const fer_layer_ops fer_relu_ops = {
    .type = "relu", .parse = relu_parse, .forward = relu_fwd, .backward = relu_bwd,
    .elementwise = 1,
};

/* ---- {"type":"flatten"}: (c, h, w) seen as (c*h*w, 1, 1), the same buffer */

static fer_status flatten_parse(fer_layer *l, const void *o, fer_error *err)
{
    (void)o, (void)err;
    l->oc = l->ic * l->ih * l->iw, l->oh = 1, l->ow = 1;
    return FER_OK;
}

static void flatten_fwd(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    (void)l, (void)e, (void)x, (void)y; /* y is x's buffer */
}

static void flatten_bwd(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                        float *dy, float *const *dx)
{
    (void)x, (void)y;
    if (dx[0] && dx[0] != dy)
        memcpy(dx[0], dy, (size_t)e->n * fer_layer_out_size(l) * sizeof *dy);
}

const fer_layer_ops fer_flatten_ops = {
    .type = "flatten", .parse = flatten_parse, .forward = flatten_fwd, .backward = flatten_bwd,
    .elementwise = 1, .alias = 1,
};
