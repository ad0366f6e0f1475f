/* 2-D convolution, stride 1, as im2col + GEMM, one image per task:
 * y[oc, oh*ow] = W[oc, ic*k*k] x col[ic*k*k, oh*ow] + b, with the activation
 * fused. Backward recomputes im2col rather than storing it (it would be the
 * largest buffer of the whole network). */
#include <math.h>
#include <string.h>

#include "layers.h"

/* Output columns [*lo, *hi) read inside the input row for kernel column kx;
 * the rest fall on the zero padding. */
static void valid_span(int kx, int pad, int w, int ow, int *lo, int *hi)
{
    int x0 = kx - pad; /* input column of output column 0 */
    *lo = x0 < 0 ? -x0 : 0;
    *hi = w - x0 < ow ? w - x0 : ow;
    if (*hi < *lo)
        *hi = *lo;
}

void fer_im2col(const float *x, int c, int h, int w, int k, int pad, int oh, int ow, float *col)
{
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(ch * k + ky) * k + kx) * oh * ow;
                int lo, hi;
                valid_span(kx, pad, w, ow, &lo, &hi);
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy + ky - pad;
                    float *dst = row + (size_t)oy * ow;
                    if (iy < 0 || iy >= h) {
                        memset(dst, 0, (size_t)ow * sizeof *dst);
                        continue;
                    }
                    const float *src = x + ((size_t)ch * h + iy) * w + kx - pad;
                    memset(dst, 0, (size_t)lo * sizeof *dst);
                    memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof *dst);
                    memset(dst + hi, 0, (size_t)(ow - hi) * sizeof *dst);
                }
            }
}

void fer_col2im(const float *col, int c, int h, int w, int k, int pad, int oh, int ow, float *x)
{
    memset(x, 0, (size_t)c * h * w * sizeof *x);
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((size_t)(ch * k + ky) * k + kx) * oh * ow;
                int lo, hi;
                valid_span(kx, pad, w, ow, &lo, &hi);
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy + ky - pad;
                    if (iy < 0 || iy >= h)
                        continue;
                    float *restrict dst = x + ((size_t)ch * h + iy) * w + kx - pad;
                    const float *restrict src = row + (size_t)oy * ow;
                    for (int ox = lo; ox < hi; ox++)
                        dst[ox] += src[ox];
                }
            }
}

static size_t col_floats(const fer_layer *l) { return (size_t)l->ic * l->k * l->k * l->oh * l->ow; }
static size_t w_floats(const fer_layer *l) { return (size_t)l->oc * l->ic * l->k * l->k; }

size_t fer_conv_scratch(const fer_layer *l)
{
    /* col + dcol + a partial dW and db per thread */
    return 2 * col_floats(l) + w_floats(l) + (size_t)l->oc;
}

typedef struct conv_job {
    const fer_layer *l;
    const fer_exec *e;
    const float *x, *y;
    float *out, *dy, *dx;
} conv_job;

static void bias_act(const fer_layer *l, float *y)
{
    size_t hw = (size_t)l->oh * l->ow;
    for (int o = 0; o < l->oc; o++) {
        float bo = l->b.data[o], *restrict row = y + o * hw;
        if (l->act == FER_ACT_RELU)
            for (size_t i = 0; i < hw; i++)
                row[i] = fmaxf(row[i] + bo, 0.0f);
        else
            for (size_t i = 0; i < hw; i++)
                row[i] += bo;
    }
}

static void conv_forward_range(void *arg, int begin, int end, int t)
{
    const conv_job *j = arg;
    const fer_layer *l = j->l;
    float *col = j->e->scratch[t];
    int kk = l->ic * l->k * l->k, hw = l->oh * l->ow;
    for (int i = begin; i < end; i++) {
        fer_im2col(j->x + i * fer_layer_in_size(l), l->ic, l->ih, l->iw, l->k, l->pad, l->oh, l->ow,
                   col);
        float *y = j->out + i * fer_layer_out_size(l);
        fer_gemm(0, 0, l->oc, hw, kk, l->w.data, kk, col, hw, 0, y, hw);
        bias_act(l, y);
    }
}

void fer_conv_forward(const fer_layer *l, const fer_exec *e, const float *x, float *y)
{
    conv_job j = {.l = l, .e = e, .x = x, .out = y};
    fer_pool_for(e->pool, e->n, conv_forward_range, &j);
}

static void conv_backward_range(void *arg, int begin, int end, int t)
{
    const conv_job *j = arg;
    const fer_layer *l = j->l;
    int kk = l->ic * l->k * l->k, hw = l->oh * l->ow;
    float *col = j->e->scratch[t], *dcol = col + col_floats(l);
    float *dw = dcol + col_floats(l), *db = dw + w_floats(l);
    for (int i = begin; i < end; i++) {
        const float *x = j->x + i * fer_layer_in_size(l);
        float *dy = j->dy + i * fer_layer_out_size(l);
        if (l->act == FER_ACT_RELU)
            fer_relu_backward(fer_layer_out_size(l), j->y + i * fer_layer_out_size(l), dy, dy);
        fer_im2col(x, l->ic, l->ih, l->iw, l->k, l->pad, l->oh, l->ow, col);
        fer_gemm(0, 1, l->oc, kk, hw, dy, hw, col, hw, i > begin, dw, kk);
        for (int o = 0; o < l->oc; o++) {
            float s = 0;
            for (int p = 0; p < hw; p++)
                s += dy[(size_t)o * hw + p];
            db[o] = (i > begin ? db[o] : 0) + s;
        }
        if (j->dx) {
            fer_gemm(1, 0, kk, hw, l->oc, l->w.data, kk, dy, hw, 0, dcol, hw);
            fer_col2im(dcol, l->ic, l->ih, l->iw, l->k, l->pad, l->oh, l->ow,
                       j->dx + i * fer_layer_in_size(l));
        }
    }
}

void fer_conv_backward(fer_layer *l, const fer_exec *e, const float *x, const float *y, float *dy,
                       float *dx)
{
    conv_job j = {.l = l, .e = e, .x = x, .y = y, .dy = dy, .dx = dx};
    fer_pool_for(e->pool, e->n, conv_backward_range, &j);
    /* Sum the per-thread partials in thread order: the same thread count
     * gives the same shares and so bit-identical gradients. */
    size_t nw = w_floats(l);
    int first = 1;
    for (int t = 0; t < e->threads; t++) {
        if ((long long)e->n * t / e->threads == (long long)e->n * (t + 1) / e->threads)
            continue; /* this thread had no images: its partials are stale */
        const float *pw = e->scratch[t] + 2 * col_floats(l), *pb = pw + nw;
        for (size_t q = 0; q < nw; q++)
            l->dw.data[q] = (first ? 0 : l->dw.data[q]) + pw[q];
        for (int o = 0; o < l->oc; o++)
            l->db.data[o] = (first ? 0 : l->db.data[o]) + pb[o];
        first = 0;
    }
}
