/* Batch normalisation over the channels of a (c, h, w) input (a dense
 * output is (units, 1, 1): per feature), with PyTorch's conventions:
 *   training:   y = gamma (x - mean) / sqrt(var + eps) + beta, the batch's
 *               mean and biased variance over (n, h, w); the running ones
 *               move by `momentum`: r = (1 - m) r + m * batch (the variance
 *               unbiased, times N / (N - 1));
 *   evaluation: the running mean and variance instead.
 * A fused ReLU may follow. Threads take whole channels; a channel's planes
 * are summed in 16 float lanes, the planes in double, always in the same
 * order, so results do not depend on the thread count. The running statistics are saved with the weights
 * ("N.running_mean", "N.running_var"). */
#include <math.h>
#include <string.h>

#include "nn/layers.h"

typedef struct bn_job {
    fer_layer *l;
    const fer_exec *e;
    const float *x, *y;
    float *out, *dy, *dx;
} bn_job;

static size_t plane(const fer_layer *l) { return (size_t)l->ih * l->iw; }

/* Plane-sized loops in 16 float lanes (they vectorise without reassociation
 * flags and sum in a fixed order); planes are then summed in double. */
FER_VECTOR_CLONES
static double plane_sum(const float *restrict x, size_t n)
{
    float lane[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++)
            lane[k] += x[i + k];
    double s = 0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < 16; k++)
        s += lane[k];
    return s;
}

/* sum (x - mean)^2 */
FER_VECTOR_CLONES
static double plane_sq(const float *restrict x, size_t n, float mean)
{
    float lane[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++)
            lane[k] += (x[i + k] - mean) * (x[i + k] - mean);
    double s = 0;
    for (; i < n; i++)
        s += (double)(x[i] - mean) * (x[i] - mean);
    for (int k = 0; k < 16; k++)
        s += lane[k];
    return s;
}

/* The output gradient that reaches the affine map: dy, or with mask dy
 * where the ReLU let the value through (x * scale + shift > 0, the
 * forward's own arithmetic, so the same mask without reading the output). */
#if defined(__GNUC__) || defined(__clang__)
#define BN_INLINE static inline __attribute__((always_inline))
#else
#define BN_INLINE static inline
#endif
BN_INLINE float masked(const int mask, float dy, float x, float scale, float shift)
{
    return !mask || x * scale + shift > 0 ? dy : 0;
}

/* sum dy and sum dy (x - mean) (dy masked as above), added to *sdy and
 * *sdyx. Inlined into each vector copy of its two callers. */
BN_INLINE void dy_sums(const int mask, const float *restrict dy, const float *restrict x, size_t n,
                       float mean, float scale, float shift, double *sdy, double *sdyx)
{
    float a[16] = {0}, b[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) {
            float d = masked(mask, dy[i + k], x[i + k], scale, shift);
            a[k] += d;
            b[k] += d * (x[i + k] - mean);
        }
    double s = 0, t = 0;
    for (; i < n; i++) {
        float d = masked(mask, dy[i], x[i], scale, shift);
        s += d, t += (double)d * (x[i] - mean);
    }
    for (int k = 0; k < 16; k++)
        s += a[k], t += b[k];
    *sdy += s, *sdyx += t;
}

FER_VECTOR_CLONES
static void plane_dy_sums(const float *dy, const float *x, size_t n, float mean, double *sdy,
                          double *sdyx)
{
    dy_sums(0, dy, x, n, mean, 0, 0, sdy, sdyx);
}

FER_VECTOR_CLONES
static void plane_mask_dy_sums(const float *dy, const float *x, size_t n, float mean, float scale,
                               float shift, double *sdy, double *sdyx)
{
    dy_sums(1, dy, x, n, mean, scale, shift, sdy, sdyx);
}

/* y = x * scale + shift, ReLU'd when relu. */
FER_VECTOR_CLONES
static void plane_affine(const float *restrict x, size_t n, float scale, float shift, int relu,
                         float *restrict y)
{
    if (relu)
        for (size_t i = 0; i < n; i++) {
            float v = x[i] * scale + shift;
            y[i] = v > 0 ? v : 0;
        }
    else
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] * scale + shift;
}

/* dx = a dy - b - c (x - mean), dy masked as above */
BN_INLINE void dx_of(const int mask, const float *restrict dy, const float *restrict x, size_t n,
                     float mean, float scale, float shift, float a, float b, float c,
                     float *restrict dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = a * masked(mask, dy[i], x[i], scale, shift) - b - c * (x[i] - mean);
}

FER_VECTOR_CLONES
static void plane_dx(const float *dy, const float *x, size_t n, float mean, float a, float b,
                     float c, float *dx)
{
    dx_of(0, dy, x, n, mean, 0, 0, a, b, c, dx);
}

FER_VECTOR_CLONES
static void plane_mask_dx(const float *dy, const float *x, size_t n, float mean, float scale,
                          float shift, float a, float b, float c, float *dx)
{
    dx_of(1, dy, x, n, mean, scale, shift, a, b, c, dx);
}

/* The batch's mean and 1/std of channel c into stats, folded into the running ones. */
static void batch_stats(const bn_job *j, int c)
{
    const fer_layer *l = j->l;
    size_t S = plane(l), N = (size_t)j->e->n * S;
    double sum = 0, sq = 0;
    for (int i = 0; i < j->e->n; i++)
        sum += plane_sum(j->x + ((size_t)i * l->ic + c) * S, S);
    float mean = (float)(sum / (double)N);
    for (int i = 0; i < j->e->n; i++)
        sq += plane_sq(j->x + ((size_t)i * l->ic + c) * S, S, mean);
    double var = sq / (double)N;
    l->stats[c] = mean;
    l->stats[l->ic + c] = (float)(1.0 / sqrt(var + l->eps));
    if (j->e->update_stats) {
        double m = l->momentum, unbiased = N > 1 ? var * (double)N / (double)(N - 1) : var;
        l->run_mean.data[c] = (float)((1 - m) * l->run_mean.data[c] + m * mean);
        l->run_var.data[c] = (float)((1 - m) * l->run_var.data[c] + m * unbiased);
    }
}

static void forward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const bn_job *j = arg;
    fer_layer *l = j->l;
    size_t S = plane(l);
    for (int c = begin; c < end; c++) {
        float mean, inv;
        if (j->e->train) {
            batch_stats(j, c);
            mean = l->stats[c], inv = l->stats[l->ic + c];
        } else {
            mean = l->run_mean.data[c];
            inv = (float)(1.0 / sqrt((double)l->run_var.data[c] + l->eps));
        }
        float scale = l->w.data[c] * inv, shift = l->b.data[c] - mean * scale;
        for (int i = 0; i < j->e->n; i++) {
            size_t off = ((size_t)i * l->ic + c) * S;
            plane_affine(j->x + off, S, scale, shift, l->act == FER_ACT_RELU, j->out + off);
        }
    }
}

static void bn_forward(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    bn_job j = {.l = l, .e = e, .x = x[0], .out = y};
    fer_pool_for(e->pool, l->ic, forward_range, &j);
}

/* With N values a channel and xh = (x - mean) / std:
 *   dbeta = sum dy, dgamma = sum dy xh,
 *   dx = gamma / std / N (N dy - dbeta - xh dgamma)   (training)
 *   dx = gamma / std dy                                (evaluation). */
static void backward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const bn_job *j = arg;
    fer_layer *l = j->l;
    size_t S = plane(l);
    int n = j->e->n;
    /* y is given when the fused ReLU's mask is still to be applied */
    int mask = l->act == FER_ACT_RELU && j->y;
    double N = (double)n * (double)S;
    for (int c = begin; c < end; c++) {
        float mean = j->e->train ? l->stats[c] : l->run_mean.data[c];
        float inv = j->e->train ? l->stats[l->ic + c]
                                : (float)(1.0 / sqrt((double)l->run_var.data[c] + l->eps));
        float scale = l->w.data[c] * inv, shift = l->b.data[c] - mean * scale; /* as forward */
        double sdy = 0, sdyx = 0; /* sum dy, sum dy (x - mean) */
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * l->ic + c) * S;
            if (mask)
                plane_mask_dy_sums(j->dy + off, j->x + off, S, mean, scale, shift, &sdy, &sdyx);
            else
                plane_dy_sums(j->dy + off, j->x + off, S, mean, &sdy, &sdyx);
        }
        l->db.data[c] = (float)sdy;
        l->dw.data[c] = (float)(sdyx * inv);
        if (!j->dx)
            continue;
        double g = (double)l->w.data[c] * inv;
        float a = (float)g, b = j->e->train ? (float)(g * sdy / N) : 0,
              k = j->e->train ? (float)(g * inv * (sdyx * inv) / N) : 0;
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * l->ic + c) * S;
            if (mask)
                plane_mask_dx(j->dy + off, j->x + off, S, mean, scale, shift, a, b, k,
                              j->dx + off);
            else
                plane_dx(j->dy + off, j->x + off, S, mean, a, b, k, j->dx + off);
        }
    }
}

static void bn_backward(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                        float *dy, float *const *dx)
{
    bn_job j = {.l = l, .e = e, .x = x[0], .y = y, .dy = dy, .dx = dx[0]};
    fer_pool_for(e->pool, l->ic, backward_range, &j);
}

/* ---- {"type":"batchnorm","momentum":0.1,"eps":1e-5,"activation":...} */

static fer_status bn_parse(fer_layer *l, const void *o, fer_error *err)
{
    fer_status s;
    if ((s = fer_layer_real(l, o, "momentum", 0.1, 0, 1, &l->momentum, err)) ||
        (s = fer_layer_real(l, o, "eps", 1e-5, 1e-12, 1, &l->eps, err)))
        return s;
    return fer_layer_act(l, o, 0, err);
}

static fer_status bn_alloc(fer_layer *l, fer_error *err)
{
    fer_status s;
    if ((s = fer_layer_add_param(l, "weight", &l->w, &l->dw, 0, 1, &l->ic, err)) ||
        (s = fer_layer_add_param(l, "bias", &l->b, &l->db, 0, 1, &l->ic, err)) ||
        (s = fer_layer_add_param(l, "running_mean", &l->run_mean, NULL, 0, 1, &l->ic, err)) ||
        (s = fer_layer_add_param(l, "running_var", &l->run_var, NULL, 0, 1, &l->ic, err)))
        return s;
    return FER_OK;
}

static fer_status bn_reserve(fer_layer *l, int n, int backward)
{
    (void)n, (void)backward;
    if (!l->stats)
        l->stats = fer_aligned_alloc(2 * (size_t)l->ic * sizeof *l->stats);
    return l->stats ? FER_OK : FER_ENOMEM;
}

static void bn_init(fer_layer *l, fer_rng *rng)
{
    (void)rng;
    for (int c = 0; c < l->ic; c++) {
        l->w.data[c] = 1, l->b.data[c] = 0;
        l->run_mean.data[c] = 0, l->run_var.data[c] = 1;
    }
}

static void bn_release(fer_layer *l)
{
    fer_aligned_free(l->stats);
    l->stats = NULL;
}

const fer_layer_ops fer_batchnorm_ops = {
    .type = "batchnorm", .parse = bn_parse, .alloc = bn_alloc, .init = bn_init,
    .reserve = bn_reserve, .release = bn_release, .forward = bn_forward, .backward = bn_backward,
};
