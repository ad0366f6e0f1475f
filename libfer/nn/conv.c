/* 2-D convolution, stride 1, as im2col + GEMM, one image per task:
 * y[oc, oh*ow] = W[oc, ic*k*k] x col[ic*k*k, oh*ow] + b, with the activation
 * fused. Backward recomputes im2col rather than storing it (it would be the
 * largest buffer of the whole network), applies the ReLU mask while summing
 * the bias gradient, and reuses col for dcol. A layer with one input channel
 * (the first) uses a direct kernel instead: its GEMM would have K = k*k.
 * The 3x3 layers Winograd suits take it instead (winograd.c): the forward
 * pass, and for 'same' padding the input gradient, a chunk of images at a
 * time after their weight gradients. */
#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "nn/layers.h"
#include "nn/winograd.h"

/* Output columns [*lo, *hi) read inside the input row for kernel column kx;
 * the rest fall on the zero padding. */
static void valid_span(int kx, int pad, int w, int ow, int *lo, int *hi)
{
    int x0 = kx - pad; /* input column of output column 0 */
    *lo = x0 < 0 ? -x0 : 0;
    if (*lo > ow) /* "same" padding wider than the output: all padding */
        *lo = ow;
    *hi = w - x0 < ow ? w - x0 : ow;
    if (*hi < *lo)
        *hi = *lo;
}

/* GCC turns short copy loops back into memcpy/memset calls; for rows of a
 * few dozen floats the call costs more than the copy. */
#if defined(__GNUC__) && !defined(__clang__)
#define FER_INLINE_COPIES __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define FER_INLINE_COPIES
#endif

/* dst[0, n) = src[0, n) outside [lo, hi) zeroed; src is read only inside. */
FER_INLINE_COPIES
static inline void copy_span(float *restrict dst, const float *restrict src, int lo, int hi, int n)
{
    for (int i = 0; i < lo; i++)
        dst[i] = 0;
    for (int i = lo; i < hi; i++)
        dst[i] = src[i];
    for (int i = hi; i < n; i++)
        dst[i] = 0;
}

FER_INLINE_COPIES FER_VECTOR_CLONES
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
                    if (iy < 0 || iy >= h)
                        copy_span(dst, NULL, 0, 0, ow);
                    else
                        copy_span(dst, x + ((size_t)ch * h + iy) * w + kx - pad, lo, hi, ow);
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
/* The direct path (one input channel) computes C1_OC output channels over
 * C1_W outputs of a row at once. */
enum { C1_OC = 8, C1_W = 16 };

/* The direct path's zero-padded input plane, plus spare floats for the
 * reads of its last row's last block. */
static size_t padded_floats(const fer_layer *l)
{
    return l->ic == 1 ? (size_t)(l->oh + l->k - 1) * (l->ow + l->k - 1) + l->k + C1_W : 0;
}

/* col: im2col's matrix, or the direct path's output gradient laid out at
 * the padded width (its weight gradient). */
static size_t col_region(const fer_layer *l)
{
    size_t plane = l->ic == 1 ? (size_t)l->oh * (l->ow + l->k - 1) : 0;
    return col_floats(l) > plane ? col_floats(l) : plane;
}

/* Images whose gradients backward computes at once: a Winograd chunk, or
 * one. */
static int dx_images(const fer_layer *l)
{
    if (!fer_winograd_dx_scratch(l) && !fer_winograd_dw_scratch(l))
        return 1;
    int c2 = fer_winograd_chunk(l, 2), c4 = fer_winograd_chunk(l, 4);
    return c2 > c4 ? c2 : c4;
}

/* Per-thread scratch: col (im2col, then reused for dcol once dW has been
 * taken from it; the direct path's tap sums) and the zero-padded plane of
 * the one-channel path, or Winograd's scratch for the input gradient; a
 * partial dW and db; then the input gradient of dx_images images
 * (fer_conv_backward_into). The forward pass by Winograd takes it all. */
static size_t region_floats(const fer_layer *l)
{
    size_t direct = col_region(l) + padded_floats(l), wino = fer_winograd_dx_scratch(l);
    size_t dw = fer_winograd_dw_scratch(l), r = direct > wino ? direct : wino;
    return r > dw ? r : dw;
}

/* Forward: col and the plane, or Winograd's; backward adds the partial dW
 * and db, the input gradients and Winograd's weight-gradient sums. */
static size_t conv_scratch(const fer_layer *l, int backward)
{
    size_t fwd = col_region(l) + padded_floats(l), wino = fer_winograd_scratch(l);
    fwd = fwd > wino ? fwd : wino;
    if (!backward)
        return fwd;
    size_t back = region_floats(l) + w_floats(l) + (size_t)l->oc +
                  (size_t)dx_images(l) * fer_layer_in_size(l) + fer_winograd_dw_acc_floats(l, 4);
    return back > fwd ? back : fwd;
}

static float *scratch_col(const fer_exec *e, int t) { return e->scratch[t]; }
static float *scratch_plane(const fer_layer *l, const fer_exec *e, int t)
{
    return e->scratch[t] + col_region(l);
}
static float *scratch_dw(const fer_layer *l, const fer_exec *e, int t)
{
    return e->scratch[t] + region_floats(l);
}

typedef struct conv_job {
    const fer_layer *l;
    const fer_exec *e;
    const float *x, *y;
    float *out, *dy, *dx;
    float *x_dx;  /* backward_into: the input, overwritten by its gradient */
    int relu_in;  /* backward_into: mask with the input's sign (a ReLU output) */
    int wino;     /* backward: the input gradient's Winograd tile size (0: GEMM) */
    int wdw;      /* backward: the weight gradient's (0: im2col and GEMM) */
} conv_job;

/* Sum of n floats in 16 independent lanes: vectorises without reassociation
 * flags, and the order is fixed, so results are reproducible. */
FER_VECTOR_CLONES
static float sum_floats(const float *restrict v, size_t n)
{
    float lane[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++)
            lane[k] += v[i + k];
    float s = 0;
    for (int k = 0; k < 16; k++)
        s += lane[k];
    for (; i < n; i++)
        s += v[i];
    return s;
}

/* A select rather than fmaxf: GCC calls libm's fmaxf out of line. */
FER_VECTOR_CLONES
static void bias_act(const fer_layer *l, float *y)
{
    size_t hw = (size_t)l->oh * l->ow;
    for (int o = 0; o < l->oc; o++) {
        float bo = l->b.data[o], *restrict row = y + o * hw;
        if (l->act == FER_ACT_RELU)
            for (size_t i = 0; i < hw; i++) {
                float v = row[i] + bo;
                row[i] = v > 0 ? v : 0;
            }
        else
            for (size_t i = 0; i < hw; i++)
                row[i] += bo;
    }
}

/* ---- one input channel (the first layer): a direct kernel. With K = k*k
 * (9) the GEMM would spend more time loading and storing C than in FMAs. */

/* x zero-padded to (oh+k-1) rows of pw = ow+k-1 (plus spare zeros), so
 * every tap reads in bounds. */
static void pad_plane(const fer_layer *l, const float *x, float *xp)
{
    int pw = l->ow + l->k - 1, ph = l->oh + l->k - 1;
    memset(xp + (size_t)ph * pw, 0, (size_t)(l->k + C1_W) * sizeof *xp);
    for (int r = 0; r < ph; r++) {
        int iy = r - l->pad;
        float *dst = xp + (size_t)r * pw;
        memset(dst, 0, (size_t)pw * sizeof *dst);
        if (iy < 0 || iy >= l->ih)
            continue;
        int lo, hi; /* columns of the padded row that hold input pixels */
        valid_span(0, l->pad, l->iw, pw, &lo, &hi);
        memcpy(dst + lo, x + (size_t)iy * l->iw + lo - l->pad, (size_t)(hi - lo) * sizeof *dst);
    }
}

/* C1_OC output channels over C1_W outputs of a row, the sums kept in
 * registers across the taps (each tap's input vector is loaded once for all
 * the channels). w holds C1_OC filters of k*k taps; y, C1_OC output
 * planes `plane` floats apart. Each output is summed tap by tap in order, as
 * the plain loop does. Reads of xp may run C1_W floats past a row (into the
 * next, or the spare zeros after the plane); those outputs are not stored. */
FER_VECTOR_CLONES
static void conv1ch_group(const float *restrict xp, const float *restrict w, int k, int pw,
                          int oh, int ow, size_t plane, int noc, float *restrict y)
{
    for (int oy = 0; oy < oh; oy++)
        for (int x0 = 0; x0 < ow; x0 += C1_W) {
            float acc[C1_OC][C1_W] = {{0}};
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    const float *src = xp + (size_t)(oy + ky) * pw + x0 + kx;
#pragma GCC unroll 8
                    for (int o = 0; o < C1_OC; o++) {
                        float wv = w[o * k * k + ky * k + kx];
                        for (int j = 0; j < C1_W; j++)
                            acc[o][j] += wv * src[j];
                    }
                }
            float *yo = y + (size_t)oy * ow + x0;
            if (ow - x0 >= C1_W && noc == C1_OC) {
#pragma GCC unroll 8
                for (int o = 0; o < C1_OC; o++)
                    for (int j = 0; j < C1_W; j++)
                        yo[o * plane + j] = acc[o][j];
            } else
                for (int o = 0; o < noc; o++)
                    for (int j = 0; j < C1_W && j < ow - x0; j++)
                        yo[o * plane + j] = acc[o][j];
        }
}

static void conv1ch_forward(const fer_layer *l, const float *xp, float *y)
{
    int k = l->k, kk = k * k, pw = l->ow + k - 1;
    size_t plane = (size_t)l->oh * l->ow;
    for (int o0 = 0; o0 < l->oc; o0 += C1_OC) {
        int noc = l->oc - o0 < C1_OC ? l->oc - o0 : C1_OC;
        const float *w = l->w.data + (size_t)o0 * kk;
        float wpad[C1_OC * 15 * 15]; /* the last group's filters, zero-filled (k <= 15) */
        if (noc < C1_OC) {
            memset(wpad, 0, sizeof wpad);
            memcpy(wpad, w, (size_t)noc * kk * sizeof *w);
            w = wpad;
        }
        conv1ch_group(xp, w, k, pw, l->oh, l->ow, plane, noc, y + o0 * plane);
    }
}

/* Dot product of n floats in 16 fixed lanes (vectorises, reproducible). */
FER_VECTOR_CLONES
static float dot_floats(const float *restrict a, const float *restrict b, int n)
{
    float lane[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++)
            lane[k] += a[i + k] * b[i + k];
    float s = 0;
    for (int k = 0; k < 16; k++)
        s += lane[k];
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* dw[o, tap] (+)= sum over outputs of dy[o] * xp shifted by the tap, as
 * one long dot product per tap: dy is first laid out at the padded width
 * (zeros in the k-1 extra columns), so output q pairs with xp[q + off]. */
static void conv1ch_dw(const fer_layer *l, const float *xp, const float *dy, float *dw, int add,
                       float *dyp)
{
    int k = l->k, kk = k * k, ow = l->ow, pw = ow + k - 1, n = l->oh * pw;
    for (int o = 0; o < l->oc; o++) {
        for (int oy = 0; oy < l->oh; oy++) {
            memcpy(dyp + (size_t)oy * pw, dy + ((size_t)o * l->oh + oy) * ow,
                   (size_t)ow * sizeof *dyp);
            memset(dyp + (size_t)oy * pw + ow, 0, (size_t)(k - 1) * sizeof *dyp);
        }
        for (int t = 0; t < kk; t++) {
            float s = dot_floats(dyp, xp + (t / k) * pw + t % k, n);
            dw[o * kk + t] = (add ? dw[o * kk + t] : 0) + s;
        }
    }
}

static void conv_forward_range(void *arg, int begin, int end, int t)
{
    const conv_job *j = arg;
    const fer_layer *l = j->l;
    float *col = scratch_col(j->e, t);
    int kk = l->ic * l->k * l->k, hw = l->oh * l->ow;
    for (int i = begin; i < end; i++) {
        const float *x = j->x + i * fer_layer_in_size(l);
        float *y = j->out + i * fer_layer_out_size(l);
        if (l->ic == 1) {
            float *xp = scratch_plane(l, j->e, t);
            pad_plane(l, x, xp);
            conv1ch_forward(l, xp, y);
        } else {
            fer_im2col(x, l->ic, l->ih, l->iw, l->k, l->pad, l->oh, l->ow, col);
            fer_gemm(0, 0, l->oc, hw, kk, l->w.data, kk, col, hw, 0, y, hw);
        }
        bias_act(l, y);
    }
}

/* Fewer images than threads (batch-1 inference): one image at a time, each
 * GEMM split across the pool (fer_gemm_mt sums in the same order as
 * fer_gemm, so the result does not change). */
static void conv_forward_few(const fer_layer *l, const fer_exec *e, const float *x, float *out)
{
    float *col = scratch_col(e, 0);
    int kk = l->ic * l->k * l->k, hw = l->oh * l->ow;
    for (int i = 0; i < e->n; i++) {
        float *y = out + i * fer_layer_out_size(l);
        fer_im2col(x + i * fer_layer_in_size(l), l->ic, l->ih, l->iw, l->k, l->pad, l->oh, l->ow,
                   col);
        fer_gemm_mt(e->pool, 0, 0, l->oc, hw, kk, l->w.data, kk, col, hw, 0, y, hw);
        bias_act(l, y);
    }
}

static void conv_forward(const fer_layer *l, const fer_exec *e, const float *x, float *y)
{
    conv_job j = {.l = l, .e = e, .x = x, .out = y};
    if (e->n < e->threads && l->ic > 1)
        conv_forward_few(l, e, x, y);
    else
        fer_pool_for(e->pool, e->n, conv_forward_range, &j);
}

/* The activation's backward fused with the bias gradient: one pass over
 * each channel's row while it is in L1. */
FER_VECTOR_CLONES
static void mask_and_db(const fer_layer *l, const float *y, float *dy, float *db, int add)
{
    size_t hw = (size_t)l->oh * l->ow;
    for (int o = 0; o < l->oc; o++) {
        float *restrict d = dy + o * hw;
        const float *restrict yo = y ? y + o * hw : NULL; /* NULL: dy is masked already */
        if (l->act == FER_ACT_RELU && y)
            for (size_t p = 0; p < hw; p++)
                d[p] = yo[p] > 0 ? d[p] : 0;
        float s = sum_floats(d, hw);
        db[o] = (add ? db[o] : 0) + s;
    }
}

/* x_dx = relu ? (x_dx > 0 ? g : 0) : g */
FER_VECTOR_CLONES
static void mask_into(size_t n, const float *restrict g, int relu, float *restrict x_dx)
{
    if (relu)
        for (size_t p = 0; p < n; p++)
            x_dx[p] = x_dx[p] > 0 ? g[p] : 0;
    else
        memcpy(x_dx, g, n * sizeof *x_dx);
}

/* The weight gradient of one image, added to thread t's unless first:
 * the direct one-channel path, or im2col and a GEMM. */
static void image_dw(const conv_job *j, const float *x, const float *dy, int t, int add)
{
    const fer_layer *l = j->l;
    int kk = l->ic * l->k * l->k, hw = l->oh * l->ow;
    float *col = scratch_col(j->e, t), *dw = scratch_dw(l, j->e, t);
    if (l->ic == 1) {
        float *xp = scratch_plane(l, j->e, t);
        pad_plane(l, x, xp);
        conv1ch_dw(l, xp, dy, dw, add, col);
    } else {
        fer_im2col(x, l->ic, l->ih, l->iw, l->k, l->pad, l->oh, l->ow, col);
        fer_gemm(0, 1, l->oc, kk, hw, dy, hw, col, hw, add, dw, kk);
    }
}

/* Per chunk of images: each one's bias gradient, the weight gradient
 * (by Winograd, summed over the thread's images and turned into dW at the
 * end; or each image's im2col again and a GEMM), then the chunk's input
 * gradients (Winograd, or each image's dcol = W^T dy and col2im), written
 * to dx, or over the inputs once their dW is done (backward_into). */
static void conv_backward_range(void *arg, int begin, int end, int t)
{
    const conv_job *j = arg;
    const fer_layer *l = j->l;
    int kk = l->ic * l->k * l->k, hw = l->oh * l->ow;
    size_t in = fer_layer_in_size(l), out = fer_layer_out_size(l);
    float *col = scratch_col(j->e, t), *dw = scratch_dw(l, j->e, t), *db = dw + w_floats(l);
    float *buf = db + l->oc; /* the input gradients backward_into masks into x_dx */
    float *acc = buf + (size_t)dx_images(l) * in; /* Winograd's dW sums */
    int m = j->wino ? j->wino : j->wdw, chunk = m ? fer_winograd_chunk(l, m) : 1;
    if (j->wdw && begin < end)
        memset(acc, 0, fer_winograd_dw_acc_floats(l, j->wdw) * sizeof *acc);
    for (int i0 = begin; i0 < end; i0 += chunk) {
        int n = end - i0 < chunk ? end - i0 : chunk;
        for (int i = i0; i < i0 + n; i++) {
            const float *x = j->x + i * in;
            float *dy = j->dy + i * out;
            mask_and_db(l, j->y ? j->y + i * out : NULL, dy, db, i > begin);
            if (!j->wdw) /* else the chunk's, below */
                image_dw(j, x, dy, t, i > begin);
            if (!j->wino && (j->dx || j->x_dx)) { /* col is free again: it takes dcol */
                fer_gemm(1, 0, kk, hw, l->oc, l->w.data, kk, dy, hw, 0, col, hw);
                fer_col2im(col, l->ic, l->ih, l->iw, l->k, l->pad, l->oh, l->ow,
                           j->dx ? j->dx + i * in : buf + (i - i0) * in);
            }
        }
        if (j->wdw)
            fer_winograd_dw(l, j->wdw, j->x + i0 * in, j->dy + i0 * out, n, acc, col);
        if (j->wino) /* col and the plane are free again: Winograd's scratch */
            fer_winograd_dx(l, j->wino, j->dy + i0 * out, j->dx ? j->dx + i0 * in : buf, n, col);
        for (int i = 0; j->x_dx && i < n; i++)
            mask_into(in, buf + i * in, j->relu_in, j->x_dx + (i0 + i) * in);
    }
    if (j->wdw && begin < end)
        fer_winograd_dw_finish(l, j->wdw, acc, dw);
}

static void conv_backward_job(fer_layer *l, const fer_exec *e, conv_job *j)
{
    if (j->dx || j->x_dx)
        j->wino = fer_winograd_dx_prepare(l, e);
    j->wdw = fer_winograd_dw_tile(l, e->n);
    fer_pool_for(e->pool, e->n, conv_backward_range, j);
    /* Sum the per-thread partials in thread order: the same thread count
     * gives the same shares and so bit-identical gradients. */
    size_t nw = w_floats(l);
    int first = 1;
    for (int t = 0; t < e->threads; t++) {
        if ((long long)e->n * t / e->threads == (long long)e->n * (t + 1) / e->threads)
            continue; /* this thread had no images: its partials are stale */
        const float *pw = scratch_dw(l, e, t), *pb = pw + nw;
        for (size_t q = 0; q < nw; q++)
            l->dw.data[q] = (first ? 0 : l->dw.data[q]) + pw[q];
        for (int o = 0; o < l->oc; o++)
            l->db.data[o] = (first ? 0 : l->db.data[o]) + pb[o];
        first = 0;
    }
}

static void conv_backward(fer_layer *l, const fer_exec *e, const float *x, const float *y,
                          float *dy, float *dx)
{
    conv_job j = {.l = l, .e = e, .x = x, .y = y, .dy = dy, .dx = dx};
    conv_backward_job(l, e, &j);
}

static void conv_backward_into(fer_layer *l, const fer_exec *e, float *x_dx, const float *y,
                               float *dy, int relu_in)
{
    conv_job j = {.l = l, .e = e, .x = x_dx, .y = y, .dy = dy, .x_dx = x_dx, .relu_in = relu_in};
    conv_backward_job(l, e, &j);
}

/* ---- the layer: {"type":"conv2d","filters":F,"kernel":K,"padding":"valid"|"same","activation":...} */

static fer_status conv_parse(fer_layer *l, const void *o, fer_error *err)
{
    fer_status s;
    if ((s = fer_layer_int(l, o, "filters", -1, 1, 4096, &l->oc, err)) ||
        (s = fer_layer_int(l, o, "kernel", -1, 1, 15, &l->k, err)) ||
        (s = fer_layer_padding(l, o, err)))
        return s;
    return fer_layer_act(l, o, 0, err);
}

static fer_status conv_alloc(fer_layer *l, fer_error *err)
{
    int w[4] = {l->oc, l->ic, l->k, l->k};
    fer_status s = fer_layer_add_param(l, "weight", &l->w, &l->dw, 1, 4, w, err);
    return s ? s : fer_layer_add_param(l, "bias", &l->b, &l->db, 0, 1, &l->oc, err);
}

static void conv_init(fer_layer *l, fer_rng *rng)
{
    fer_layer_glorot(l, (double)l->ic * l->k * l->k, (double)l->oc * l->k * l->k, rng);
}

/* Winograd where it pays (winograd.c), the direct path above for the rest. */
static void conv_fwd(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    if (!fer_winograd_forward(l, e, x[0], y))
        conv_forward(l, e, x[0], y);
}

static void conv_bwd(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                     float *dy, float *const *dx)
{
    conv_backward(l, e, x[0], y, dy, dx[0]);
}

/* Over the output of a convolution or a max pool: neither needs its output
 * any more by then (a convolution only its ReLU mask, applied on the way). */
static int conv_into_ok(const fer_layer *l, const fer_layer *p)
{
    (void)l;
    if (p->ops == &fer_conv_ops)
        return p->act == FER_ACT_RELU ? 2 : 1;
    return p->ops == &fer_maxpool_ops;
}

static double conv_flops(const fer_layer *l) { return 2.0 * l->oc * l->ic * l->k * l->k * l->oh * l->ow; }

const fer_layer_ops fer_conv_ops = {
    .flops = conv_flops,
    .type = "conv2d", .parse = conv_parse, .alloc = conv_alloc, .init = conv_init,
    .scratch = conv_scratch, .forward = conv_fwd, .backward = conv_bwd,
    .into_ok = conv_into_ok, .backward_into = conv_backward_into,
};
