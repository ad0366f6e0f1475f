/* Residual add: the elementwise sum of two or more inputs of one shape,
 * with an optional fused ReLU; backward hands the (masked) output gradient
 * to every input. "average" is their mean, so backward hands each input
 * 1/n of it; as the last layer (softmax) it averages the logits of the
 * members of an ensemble (ensemble.c). Threads take whole images. */
#include <string.h>

#include "nn/layers.h"

typedef struct add_job {
    const fer_layer *l;
    const float *const *x;
    float *y;
} add_job;

FER_VECTOR_CLONES
static void sum_into(size_t n, const float *restrict a, const float *restrict b,
                     float *restrict y, int relu)
{
    if (relu)
        for (size_t i = 0; i < n; i++) {
            float v = a[i] + b[i];
            y[i] = v > 0 ? v : 0;
        }
    else
        for (size_t i = 0; i < n; i++)
            y[i] = a[i] + b[i];
}

/* y = s x (y may be x), ReLU'd when relu: the mean's forward scaling and
 * its backward share of the gradient. */
FER_VECTOR_CLONES
static void scale(size_t n, float s, const float *x, float *y, int relu)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i] * s;
        y[i] = relu && v < 0 ? 0 : v;
    }
}

static void add_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const add_job *j = arg;
    const fer_layer *l = j->l;
    size_t sz = fer_layer_out_size(l), off = (size_t)begin * sz, n = (size_t)(end - begin) * sz;
    /* Inputs summed left to right; the ReLU on the last sum only (after
     * the scaling, for a mean). */
    int mean = l->ops == &fer_average_ops;
    const float *acc = j->x[0] + off;
    for (int k = 1; k < l->n_in; k++) {
        sum_into(n, acc, j->x[k] + off, j->y + off,
                 !mean && k == l->n_in - 1 && l->act == FER_ACT_RELU);
        acc = j->y + off;
    }
    if (mean)
        scale(n, 1.0f / (float)l->n_in, j->y + off, j->y + off, l->act == FER_ACT_RELU);
}

static void add_forward(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    add_job j = {l, x, y};
    fer_pool_for(e->pool, e->n, add_range, &j);
}

static void add_backward(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                         float *dy, float *const *dx)
{
    (void)x;
    size_t n = (size_t)e->n * fer_layer_out_size(l);
    if (l->act == FER_ACT_RELU && y)
        fer_relu_backward(n, y, dy, dy);
    if (l->ops == &fer_average_ops) {
        float s = 1.0f / (float)l->n_in;
        for (int k = l->n_in - 1; k >= 0; k--) /* dx[0] may be dy itself: last */
            if (dx[k])
                scale(n, s, dy, dx[k], 0);
        return;
    }
    for (int k = l->n_in - 1; k >= 0; k--) /* dx[0] may be dy itself: last */
        if (dx[k] && dx[k] != dy)
            memcpy(dx[k], dy, n * sizeof *dy);
}

/* ---- {"type":"add"|"average","inputs":["a","b"],"activation":...} */

static fer_status add_parse(fer_layer *l, const void *o, fer_error *err)
{
    const char *type = l->ops->type;
    if (l->n_in < 2)
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: %s needs two or more "
                        "\"inputs\"", l->index, type);
    for (int k = 1; k < l->n_in; k++)
        if (memcmp(l->in_shape[k], l->in_shape[0], sizeof l->in_shape[0]))
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: %s of inputs of "
                            "different shapes (%dx%dx%d and %dx%dx%d)", l->index, type,
                            l->in_shape[0][0], l->in_shape[0][1], l->in_shape[0][2],
                            l->in_shape[k][0], l->in_shape[k][1], l->in_shape[k][2]);
    /* softmax: the model's logits (arch.c allows it on the last layer only) */
    return fer_layer_act(l, o, l->ops == &fer_average_ops, err);
}

const fer_layer_ops fer_add_ops = {
    .type = "add", .parse = add_parse, .forward = add_forward, .backward = add_backward,
    .elementwise = 1,
};

const fer_layer_ops fer_average_ops = {
    .type = "average", .parse = add_parse, .forward = add_forward, .backward = add_backward,
    .elementwise = 1,
};
