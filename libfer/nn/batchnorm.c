/* Batch normalisation over the channels of a (c, h, w) input (a dense
 * output is (units, 1, 1): per feature), with PyTorch's conventions:
 *   training:   y = gamma (x - mean) / sqrt(var + eps) + beta, the batch's
 *               mean and biased variance over (n, h, w); the running ones
 *               move by `momentum`: r = (1 - m) r + m * batch (the variance
 *               unbiased, times N / (N - 1));
 *   evaluation: the running mean and variance instead.
 * A fused ReLU may follow. Threads take whole channels, and every channel
 * sums in double in a fixed order, so results do not depend on the thread
 * count. The running statistics are saved with the weights
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

/* The batch's mean and 1/std of channel c into stats, folded into the running ones. */
static void batch_stats(const bn_job *j, int c)
{
    const fer_layer *l = j->l;
    size_t S = plane(l), N = (size_t)j->e->n * S;
    double sum = 0, sq = 0;
    for (int i = 0; i < j->e->n; i++) {
        const float *x = j->x + ((size_t)i * l->ic + c) * S;
        for (size_t s = 0; s < S; s++)
            sum += x[s];
    }
    double mean = sum / (double)N;
    for (int i = 0; i < j->e->n; i++) {
        const float *x = j->x + ((size_t)i * l->ic + c) * S;
        for (size_t s = 0; s < S; s++)
            sq += ((double)x[s] - mean) * ((double)x[s] - mean);
    }
    double var = sq / (double)N;
    l->stats[c] = (float)mean;
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
            const float *restrict x = j->x + ((size_t)i * l->ic + c) * S;
            float *restrict y = j->out + ((size_t)i * l->ic + c) * S;
            if (l->act == FER_ACT_RELU)
                for (size_t s = 0; s < S; s++) {
                    float v = x[s] * scale + shift;
                    y[s] = v > 0 ? v : 0;
                }
            else
                for (size_t s = 0; s < S; s++)
                    y[s] = x[s] * scale + shift;
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
    double N = (double)n * (double)S;
    for (int c = begin; c < end; c++) {
        float mean = j->e->train ? l->stats[c] : l->run_mean.data[c];
        float inv = j->e->train ? l->stats[l->ic + c]
                                : (float)(1.0 / sqrt((double)l->run_var.data[c] + l->eps));
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * l->ic + c) * S;
            const float *x = j->x + off;
            float *dy = j->dy + off;
            if (l->act == FER_ACT_RELU && j->y)
                for (size_t s = 0; s < S; s++)
                    dy[s] = j->y[off + s] > 0 ? dy[s] : 0;
            for (size_t s = 0; s < S; s++) {
                sdy += dy[s];
                sdyx += (double)dy[s] * ((double)x[s] - mean) * inv;
            }
        }
        l->db.data[c] = (float)sdy;
        l->dw.data[c] = (float)sdyx;
        if (!j->dx)
            continue;
        double g = (double)l->w.data[c] * inv;
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * l->ic + c) * S;
            const float *x = j->x + off, *dy = j->dy + off;
            float *dx = j->dx + off;
            for (size_t s = 0; s < S; s++) {
                double xh = ((double)x[s] - mean) * inv;
                dx[s] = j->e->train ? (float)(g / N * (N * dy[s] - sdy - xh * sdyx))
                                    : (float)(g * dy[s]);
            }
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

static fer_status bn_reserve(fer_layer *l, int n)
{
    (void)n;
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
