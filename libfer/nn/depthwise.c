/* Depthwise 2-D convolution, stride 1: each channel convolved with its own
 * k x k filter (a channel multiplier of 1), bias and activation fused.
 * Forward splits (image, channel) planes across threads; backward gives each
 * thread whole channels, summing the filter gradient over the images in
 * order, so results do not depend on the thread count. */
#include <string.h>

#include "nn/layers.h"

typedef struct dw_job {
    fer_layer *l;
    const fer_exec *e;
    const float *x, *y;
    float *out, *dy, *dx;
} dw_job;

/* Output rows and columns [lo, hi) whose tap (ky or kx) falls inside the input. */
static void tap_span(int kk, int pad, int in, int out, int *lo, int *hi)
{
    int o0 = kk - pad; /* input index of output 0 */
    *lo = o0 < 0 ? -o0 : 0;
    *hi = in - o0 < out ? in - o0 : out;
    if (*lo > out)
        *lo = out;
    if (*hi < *lo)
        *hi = *lo;
}

static void plane_forward(const fer_layer *l, int c, const float *x, float *y)
{
    int k = l->k, oh = l->oh, ow = l->ow;
    const float *w = l->w.data + (size_t)c * k * k;
    for (int i = 0; i < oh * ow; i++)
        y[i] = l->b.data[c];
    for (int ky = 0; ky < k; ky++) {
        int y0, y1;
        tap_span(ky, l->pad, l->ih, oh, &y0, &y1);
        for (int kx = 0; kx < k; kx++) {
            int x0, x1;
            tap_span(kx, l->pad, l->iw, ow, &x0, &x1);
            float wv = w[ky * k + kx];
            for (int oy = y0; oy < y1; oy++) {
                const float *restrict src = x + (size_t)(oy + ky - l->pad) * l->iw + kx - l->pad;
                float *restrict dst = y + (size_t)oy * ow;
                for (int ox = x0; ox < x1; ox++)
                    dst[ox] += wv * src[ox];
            }
        }
    }
    if (l->act == FER_ACT_RELU)
        for (int i = 0; i < oh * ow; i++)
            y[i] = y[i] > 0 ? y[i] : 0;
}

static void forward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const dw_job *j = arg;
    const fer_layer *l = j->l;
    size_t in_plane = (size_t)l->ih * l->iw, out_plane = (size_t)l->oh * l->ow;
    for (int p = begin; p < end; p++)
        plane_forward(l, p % l->ic, j->x + p * in_plane, j->out + p * out_plane);
}

static void dw_forward(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    dw_job j = {.l = l, .e = e, .x = x[0], .out = y};
    fer_pool_for(e->pool, e->n * l->ic, forward_range, &j);
}

/* Channel c of image i: mask dy, add to dw and db, and write dx. */
static void plane_backward(fer_layer *l, int c, const float *x, const float *y, float *dy,
                           float *dx)
{
    int k = l->k, oh = l->oh, ow = l->ow;
    const float *w = l->w.data + (size_t)c * k * k;
    float *dw = l->dw.data + (size_t)c * k * k;
    if (l->act == FER_ACT_RELU && y)
        for (int i = 0; i < oh * ow; i++)
            dy[i] = y[i] > 0 ? dy[i] : 0;
    float db = 0;
    for (int i = 0; i < oh * ow; i++)
        db += dy[i];
    l->db.data[c] += db;
    if (dx)
        memset(dx, 0, (size_t)l->ih * l->iw * sizeof *dx);
    for (int ky = 0; ky < k; ky++) {
        int y0, y1;
        tap_span(ky, l->pad, l->ih, oh, &y0, &y1);
        for (int kx = 0; kx < k; kx++) {
            int x0, x1;
            tap_span(kx, l->pad, l->iw, ow, &x0, &x1);
            float wv = w[ky * k + kx], s = 0;
            for (int oy = y0; oy < y1; oy++) {
                size_t in_row = (size_t)(oy + ky - l->pad) * l->iw + kx - l->pad;
                const float *src = x + in_row, *g = dy + (size_t)oy * ow;
                for (int ox = x0; ox < x1; ox++)
                    s += g[ox] * src[ox];
                if (dx)
                    for (int ox = x0; ox < x1; ox++)
                        dx[in_row + ox] += wv * g[ox];
            }
            dw[ky * k + kx] += s;
        }
    }
}

static void backward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const dw_job *j = arg;
    fer_layer *l = j->l;
    size_t in_plane = (size_t)l->ih * l->iw, out_plane = (size_t)l->oh * l->ow;
    for (int c = begin; c < end; c++) {
        memset(l->dw.data + (size_t)c * l->k * l->k, 0, (size_t)l->k * l->k * sizeof(float));
        l->db.data[c] = 0;
        for (int i = 0; i < j->e->n; i++) {
            size_t p = (size_t)i * l->ic + c;
            plane_backward(l, c, j->x + p * in_plane, j->y ? j->y + p * out_plane : NULL,
                           j->dy + p * out_plane, j->dx ? j->dx + p * in_plane : NULL);
        }
    }
}

static void dw_backward(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                        float *dy, float *const *dx)
{
    dw_job j = {.l = l, .e = e, .x = x[0], .y = y, .dy = dy, .dx = dx[0]};
    fer_pool_for(e->pool, l->ic, backward_range, &j);
}

/* ---- {"type":"depthwise_conv2d","kernel":K,"padding":"valid"|"same","activation":...} */

static fer_status dw_parse(fer_layer *l, const void *o, fer_error *err)
{
    fer_status s;
    if ((s = fer_layer_int(l, o, "kernel", -1, 1, 15, &l->k, err)) ||
        (s = fer_layer_padding(l, o, err)))
        return s;
    return fer_layer_act(l, o, 0, err);
}

static fer_status dw_alloc(fer_layer *l, fer_error *err)
{
    int w[4] = {l->ic, 1, l->k, l->k};
    fer_status s = fer_layer_add_param(l, "weight", &l->w, &l->dw, 1, 4, w, err);
    return s ? s : fer_layer_add_param(l, "bias", &l->b, &l->db, 0, 1, &l->ic, err);
}

/* Each filter sees k*k inputs and feeds k*k outputs. */
static void dw_init(fer_layer *l, fer_rng *rng)
{
    fer_layer_glorot(l, (double)l->k * l->k, (double)l->k * l->k, rng);
}

static double dw_flops(const fer_layer *l) { return 2.0 * l->ic * l->k * l->k * l->oh * l->ow; }

const fer_layer_ops fer_depthwise_ops = {
    .flops = dw_flops,
    .type = "depthwise_conv2d", .parse = dw_parse, .alloc = dw_alloc, .init = dw_init,
    .forward = dw_forward, .backward = dw_backward,
};
