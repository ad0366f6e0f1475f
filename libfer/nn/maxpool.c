/* Max pooling ('valid': windows that fit), remembering where each maximum
 * came from so that backward is a scatter. The position is stored as the
 * index inside its window (16 bits rather than a 32-bit offset: a quarter of
 * the memory of the float activations it indexes). The common 2x2, stride 2
 * case has its own loops: its windows do not overlap, so backward writes
 * every input gradient once instead of clearing and accumulating. Both
 * passes split the batch across threads. Inference keeps no argmax (and a
 * model that only infers allocates none). */
#include <stdlib.h>
#include <string.h>

#include "nn/layers.h"

typedef struct pool_job {
    const fer_layer *l;
    const float *x, *dy;
    float *y, *dx;
    uint16_t *argmax;
    int relu; /* backward_into: apply the ReLU mask of the values overwritten */
} pool_job;

static int is_2x2(const fer_layer *l) { return l->size == 2 && l->stride == 2; }

/* v when c, else +0, without a branch (GCC keeps float selects as jumps,
 * and which window element holds the maximum is unpredictable). */
static inline float keep_if(float v, int c)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u &= 0u - (uint32_t)(c != 0);
    memcpy(&v, &u, sizeof v);
    return v;
}


/* One channel plane, any window: the first maximum in row-major order wins
 * (am NULL: inference, which keeps no argmax). */
static void plane_forward(const fer_layer *l, const float *x, float *y, uint16_t *am)
{
    for (int oy = 0; oy < l->oh; oy++)
        for (int ox = 0; ox < l->ow; ox++) {
            const float *win = x + (size_t)oy * l->stride * l->iw + (size_t)ox * l->stride;
            int best = 0;
            float mx = win[0];
            for (int wy = 0; wy < l->size; wy++)
                for (int wx = 0; wx < l->size; wx++)
                    if (win[wy * l->iw + wx] > mx) {
                        mx = win[wy * l->iw + wx];
                        best = wy * l->size + wx;
                    }
            y[oy * l->ow + ox] = mx;
            if (am)
                am[oy * l->ow + ox] = (uint16_t)best;
        }
}

FER_VECTOR_CLONES
static void plane_forward_2x2(const fer_layer *l, const float *x, float *restrict y,
                              uint16_t *restrict am)
{
    for (int oy = 0; oy < l->oh; oy++) {
        const float *r0 = x + (size_t)2 * oy * l->iw, *r1 = r0 + l->iw;
        for (int ox = 0; ox < l->ow; ox++) {
            /* pairwise, strict >: the first maximum wins, as in plane_forward */
            float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
            /* maxss-shaped selects and integer arithmetic on the compares */
            int i01 = b > a, i23 = (d > c) | 2;
            float m01 = b > a ? b : a, m23 = d > c ? d : c;
            int hi = m23 > m01;
            y[oy * l->ow + ox] = m23 > m01 ? m23 : m01;
            am[oy * l->ow + ox] = (uint16_t)(i01 + hi * (i23 - i01));
        }
    }
}

/* The same maxima without the argmax (inference). */
FER_VECTOR_CLONES
static void plane_max_2x2(const fer_layer *l, const float *x, float *restrict y)
{
    for (int oy = 0; oy < l->oh; oy++) {
        const float *r0 = x + (size_t)2 * oy * l->iw, *r1 = r0 + l->iw;
        for (int ox = 0; ox < l->ow; ox++) {
            float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
            float m01 = b > a ? b : a, m23 = d > c ? d : c;
            y[oy * l->ow + ox] = m23 > m01 ? m23 : m01;
        }
    }
}

static void forward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const pool_job *j = arg;
    const fer_layer *l = j->l;
    size_t in_plane = (size_t)l->ih * l->iw, out_plane = (size_t)l->oh * l->ow;
    for (size_t p = (size_t)begin * l->oc; p < (size_t)end * l->oc; p++) {
        const float *x = j->x + p * in_plane;
        float *y = j->y + p * out_plane;
        uint16_t *am = j->argmax ? j->argmax + p * out_plane : NULL;
        if (!is_2x2(l))
            plane_forward(l, x, y, am);
        else if (am)
            plane_forward_2x2(l, x, y, am);
        else
            plane_max_2x2(l, x, y);
    }
}

static void maxpool_forward(fer_layer *l, const fer_exec *e, const float *x, float *y)
{
    pool_job j = {.l = l, .x = x, .y = y, .argmax = e->train ? l->argmax : NULL};
    fer_pool_for(e->pool, e->n, forward_range, &j);
}

static void plane_backward(const fer_layer *l, const float *dy, const uint16_t *am, float *dx)
{
    memset(dx, 0, (size_t)l->ih * l->iw * sizeof *dx);
    for (int oy = 0; oy < l->oh; oy++)
        for (int ox = 0; ox < l->ow; ox++) {
            int a = am[oy * l->ow + ox];
            int iy = oy * l->stride + a / l->size, ix = ox * l->stride + a % l->size;
            dx[(size_t)iy * l->iw + ix] += dy[oy * l->ow + ox];
        }
}

FER_VECTOR_CLONES
static void plane_backward_2x2(const fer_layer *l, const float *dy, const uint16_t *am,
                               float *restrict dx)
{
    for (int oy = 0; oy < l->oh; oy++) {
        float *r0 = dx + (size_t)2 * oy * l->iw, *r1 = r0 + l->iw;
        for (int ox = 0; ox < l->ow; ox++) {
            float g = dy[oy * l->ow + ox];
            int a = am[oy * l->ow + ox];
            r0[2 * ox] = keep_if(g, a == 0);
            r0[2 * ox + 1] = keep_if(g, a == 1);
            r1[2 * ox] = keep_if(g, a == 2);
            r1[2 * ox + 1] = keep_if(g, a == 3);
        }
        if (l->iw > 2 * l->ow) /* an odd last column belongs to no window */
            r0[l->iw - 1] = r1[l->iw - 1] = 0;
    }
    if (l->ih > 2 * l->oh)
        memset(dx + (size_t)(l->ih - 1) * l->iw, 0, (size_t)l->iw * sizeof *dx);
}

/* As plane_backward_2x2, over the input itself. The ReLU mask at the
 * maximum is taken as "largest of the window > 0" (the same value), which
 * reads the window in order instead of gathering; selects, not branches:
 * which of the four holds the maximum is unpredictable. */
FER_VECTOR_CLONES
static void plane_backward_into_2x2(const fer_layer *l, const float *restrict dy,
                                    const uint16_t *restrict am, int relu, float *restrict xdx)
{
    for (int oy = 0; oy < l->oh; oy++) {
        float *restrict r0 = xdx + (size_t)2 * oy * l->iw, *restrict r1 = r0 + l->iw;
        const float *restrict d = dy + (size_t)oy * l->ow;
        const uint16_t *restrict a = am + (size_t)oy * l->ow;
        for (int ox = 0; ox < l->ow; ox++) {
            float m0 = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
            float m1 = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
            float g = keep_if(d[ox], !relu | ((m0 > m1 ? m0 : m1) > 0));
            int k = a[ox];
            r0[2 * ox] = keep_if(g, k == 0);
            r0[2 * ox + 1] = keep_if(g, k == 1);
            r1[2 * ox] = keep_if(g, k == 2);
            r1[2 * ox + 1] = keep_if(g, k == 3);
        }
        if (l->iw > 2 * l->ow)
            r0[l->iw - 1] = r1[l->iw - 1] = 0;
    }
    if (l->ih > 2 * l->oh)
        memset(xdx + (size_t)(l->ih - 1) * l->iw, 0, (size_t)l->iw * sizeof *xdx);
}

static void backward_into_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const pool_job *j = arg;
    const fer_layer *l = j->l;
    size_t in_plane = (size_t)l->ih * l->iw, out_plane = (size_t)l->oh * l->ow;
    for (size_t p = (size_t)begin * l->oc; p < (size_t)end * l->oc; p++)
        plane_backward_into_2x2(l, j->dy + p * out_plane, j->argmax + p * out_plane, j->relu,
                                j->dx + p * in_plane);
}

static void maxpool_backward_into(fer_layer *l, const fer_exec *e, float *x_dx, const float *y,
                                  float *dy, int relu)
{
    (void)y;
    pool_job j = {.l = l, .dy = dy, .dx = x_dx, .argmax = l->argmax, .relu = relu};
    fer_pool_for(e->pool, e->n, backward_into_range, &j);
}

static void backward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const pool_job *j = arg;
    const fer_layer *l = j->l;
    size_t in_plane = (size_t)l->ih * l->iw, out_plane = (size_t)l->oh * l->ow;
    for (size_t p = (size_t)begin * l->oc; p < (size_t)end * l->oc; p++)
        (is_2x2(l) ? plane_backward_2x2 : plane_backward)(l, j->dy + p * out_plane,
                                                           j->argmax + p * out_plane,
                                                           j->dx + p * in_plane);
}

static void maxpool_backward(const fer_layer *l, const fer_exec *e, const float *dy, float *dx)
{
    pool_job j = {.l = l, .dy = dy, .dx = dx, .argmax = l->argmax};
    fer_pool_for(e->pool, e->n, backward_range, &j);
}

/* ---- the layer: {"type":"maxpool2d","size":S,"stride":T} (stride defaults to size) */

static fer_status maxpool_parse(fer_layer *l, const void *o, fer_error *err)
{
    fer_status s;
    if ((s = fer_layer_int(l, o, "size", 2, 1, 64, &l->size, err)) ||
        (s = fer_layer_int(l, o, "stride", l->size, 1, 64, &l->stride, err)))
        return s;
    l->oh = l->ih >= l->size ? (l->ih - l->size) / l->stride + 1 : 0;
    l->ow = l->iw >= l->size ? (l->iw - l->size) / l->stride + 1 : 0;
    return FER_OK;
}

static fer_status maxpool_reserve(fer_layer *l, int n, int backward)
{
    fer_aligned_free(l->argmax);
    l->argmax = backward ? fer_aligned_alloc((size_t)n * fer_layer_out_size(l) * sizeof *l->argmax)
                         : NULL;
    return l->argmax || !backward ? FER_OK : FER_ENOMEM;
}

static void maxpool_release(fer_layer *l)
{
    fer_aligned_free(l->argmax);
    l->argmax = NULL;
}

static void maxpool_fwd(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    maxpool_forward(l, e, x[0], y);
}

static void maxpool_bwd(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                        float *dy, float *const *dx)
{
    (void)x, (void)y;
    if (dx[0])
        maxpool_backward(l, e, dy, dx[0]);
}

/* 2x2, stride 2, over a convolution's output, which nothing needs after
 * this (the convolution applies no mask of its own then: this does). */
static int maxpool_into_ok(const fer_layer *l, const fer_layer *p)
{
    if (!is_2x2(l) || p->ops != &fer_conv_ops)
        return 0;
    return p->act == FER_ACT_RELU ? 2 : 1;
}

const fer_layer_ops fer_maxpool_ops = {
    .type = "maxpool2d", .parse = maxpool_parse, .reserve = maxpool_reserve,
    .release = maxpool_release, .forward = maxpool_fwd, .backward = maxpool_bwd,
    .into_ok = maxpool_into_ok, .backward_into = maxpool_backward_into,
};
