/* Global average pooling: (c, h, w) to (c, 1, 1), the mean of each channel
 * plane; backward spreads each gradient evenly over its plane. */
#include "nn/layers.h"

typedef struct gap_job {
    const fer_layer *l;
    const float *x, *dy;
    float *y, *dx;
} gap_job;

static void forward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const gap_job *j = arg;
    size_t S = (size_t)j->l->ih * j->l->iw;
    for (size_t p = (size_t)begin * j->l->ic; p < (size_t)end * j->l->ic; p++) {
        const float *x = j->x + p * S;
        double s = 0;
        for (size_t i = 0; i < S; i++)
            s += x[i];
        j->y[p] = (float)(s / (double)S);
    }
}

static void backward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const gap_job *j = arg;
    size_t S = (size_t)j->l->ih * j->l->iw;
    for (size_t p = (size_t)begin * j->l->ic; p < (size_t)end * j->l->ic; p++) {
        float g = j->dy[p] / (float)S, *dx = j->dx + p * S;
        for (size_t i = 0; i < S; i++)
            dx[i] = g;
    }
}

static void gap_forward(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    gap_job j = {.l = l, .x = x[0], .y = y};
    fer_pool_for(e->pool, e->n, forward_range, &j);
}

static void gap_backward(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                         float *dy, float *const *dx)
{
    (void)x, (void)y;
    gap_job j = {.l = l, .dy = dy, .dx = dx[0]};
    if (dx[0])
        fer_pool_for(e->pool, e->n, backward_range, &j);
}

/* ---- {"type":"globalavgpool"} */

static fer_status gap_parse(fer_layer *l, const void *o, fer_error *err)
{
    (void)o, (void)err;
    l->oh = l->ow = 1;
    return FER_OK;
}

const fer_layer_ops fer_gap_ops = {
    .type = "globalavgpool", .parse = gap_parse, .forward = gap_forward,
    .backward = gap_backward,
};
