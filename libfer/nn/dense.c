/* Fully connected layer: y[n, out] = x[n, in] W[in, out] + b, activation
 * fused. Threads take disjoint column blocks, so no reduction is needed and
 * results do not depend on the thread count. A "softmax" activation (the
 * last layer's) applies nothing here: it says the outputs are logits, which
 * the loss and fer_model_predict turn into probabilities. */
#include "nn/layers.h"

enum { COL_BLOCK = 32 }; /* keeps each thread's share a multiple of the SIMD width */
/* Up to this many rows (inference on a few images) the forward pass streams
 * W once, row by row, instead of packing all of it for the GEMM: with one
 * row, packing 8 MB of weights took longer than the multiply. */
enum { DIRECT_ROWS = 4 };

typedef struct dense_job {
    const fer_layer *l;
    const fer_exec *e;
    const float *x, *y;
    float *out, *dy, *dx;
    int in, units;
} dense_job;

static void col_range(int begin, int end, int total, int *c0, int *nc)
{
    *c0 = begin * COL_BLOCK;
    int c1 = end * COL_BLOCK;
    *nc = (c1 > total ? total : c1) - *c0;
}

/* y[r, c0:c0+nc] = x[r, :] W[:, c0:c0+nc] for a few rows r < n. */
FER_VECTOR_CLONES
static void rows_times_w(const float *x, int n, int in, const float *w, int units, int c0, int nc,
                         float *y)
{
    for (int r = 0; r < n; r++)
        for (int c = 0; c < nc; c++)
            y[(size_t)r * units + c0 + c] = 0;
    int i = 0;
    for (; i + 4 <= in; i += 4) { /* four rows of W per pass over y: a quarter of the y traffic */
        const float *restrict w0 = w + (size_t)i * units + c0, *restrict w1 = w0 + units;
        const float *restrict w2 = w1 + units, *restrict w3 = w2 + units;
        for (int r = 0; r < n; r++) {
            const float *xr = x + (size_t)r * in + i;
            float x0 = xr[0], x1 = xr[1], x2 = xr[2], x3 = xr[3];
            float *restrict yr = y + (size_t)r * units + c0;
            for (int c = 0; c < nc; c++)
                yr[c] = yr[c] + x0 * w0[c] + x1 * w1[c] + x2 * w2[c] + x3 * w3[c];
        }
    }
    for (; i < in; i++) {
        const float *restrict wr = w + (size_t)i * units + c0;
        for (int r = 0; r < n; r++) {
            float xv = x[(size_t)r * in + i], *restrict yr = y + (size_t)r * units + c0;
            for (int c = 0; c < nc; c++)
                yr[c] += xv * wr[c];
        }
    }
}

static void dense_forward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const dense_job *j = arg;
    const fer_layer *l = j->l;
    int c0, nc, n = j->e->n;
    col_range(begin, end, j->units, &c0, &nc);
    if (n <= DIRECT_ROWS)
        rows_times_w(j->x, n, j->in, l->w.data, j->units, c0, nc, j->out);
    else
        fer_gemm(0, 0, n, nc, j->in, j->x, j->in, l->w.data + c0, j->units, 0, j->out + c0,
                 j->units);
    for (int r = 0; r < n; r++) {
        float *restrict row = j->out + (size_t)r * j->units;
        const float *restrict b = l->b.data;
        if (l->act == FER_ACT_RELU)
            for (int c = c0; c < c0 + nc; c++) {
                float v = row[c] + b[c];
                row[c] = v > 0 ? v : 0;
            }
        else
            for (int c = c0; c < c0 + nc; c++)
                row[c] += b[c];
    }
}

static int blocks(int cols) { return (cols + COL_BLOCK - 1) / COL_BLOCK; }

static void dense_forward(const fer_layer *l, const fer_exec *e, const float *x, float *y)
{
    dense_job j = {.l = l, .e = e, .x = x, .out = y, .in = (int)fer_layer_in_size(l), .units = l->oc};
    fer_pool_for(e->pool, blocks(l->oc), dense_forward_range, &j);
}

/* dW[:, cols] = x^T dy[:, cols]; db[cols] = column sums of dy. */
static void dense_grad_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const dense_job *j = arg;
    fer_layer *l = (fer_layer *)j->l;
    int c0, nc, n = j->e->n;
    col_range(begin, end, j->units, &c0, &nc);
    fer_gemm(1, 0, j->in, nc, n, j->x, j->in, j->dy + c0, j->units, 0, l->dw.data + c0, j->units);
    for (int c = c0; c < c0 + nc; c++) {
        float s = 0;
        for (int r = 0; r < n; r++)
            s += j->dy[(size_t)r * j->units + c];
        l->db.data[c] = s;
    }
}

/* dx[:, cols] = dy W[cols, :]^T */
static void dense_dx_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const dense_job *j = arg;
    int c0, nc;
    col_range(begin, end, j->in, &c0, &nc);
    fer_gemm(0, 1, j->e->n, nc, j->units, j->dy, j->units, j->l->w.data + (size_t)c0 * j->units,
             j->units, 0, j->dx + c0, j->in);
}

static void dense_backward(fer_layer *l, const fer_exec *e, const float *x, const float *y,
                           float *dy, float *dx)
{
    dense_job j = {.l = l, .e = e, .x = x, .y = y, .dy = dy, .dx = dx,
                   .in = (int)fer_layer_in_size(l), .units = l->oc};
    if (l->act == FER_ACT_RELU && y) /* y NULL: dy is masked already */
        fer_relu_backward((size_t)e->n * l->oc, y, dy, dy);
    fer_pool_for(e->pool, blocks(l->oc), dense_grad_range, &j);
    if (dx)
        fer_pool_for(e->pool, blocks(j.in), dense_dx_range, &j);
}

/* ---- the layer: {"type":"dense","units":U,"activation":...} on a flat input */

static fer_status dense_parse(fer_layer *l, const void *o, fer_error *err)
{
    if (l->ih != 1 || l->iw != 1)
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: dense needs a flat input "
                        "(add a flatten layer)", l->index);
    fer_status s = fer_layer_int(l, o, "units", -1, 1, 1 << 16, &l->oc, err);
    return s ? s : fer_layer_act(l, o, 1, err);
}

static fer_status dense_alloc(fer_layer *l, fer_error *err)
{
    int w[2] = {(int)fer_layer_in_size(l), l->oc};
    fer_status s = fer_layer_add_param(l, "weight", &l->w, &l->dw, 1, 2, w, err);
    return s ? s : fer_layer_add_param(l, "bias", &l->b, &l->db, 0, 1, &l->oc, err);
}

static void dense_init(fer_layer *l, fer_rng *rng)
{
    fer_layer_glorot(l, (double)fer_layer_in_size(l), l->oc, rng);
}

static void dense_fwd(fer_layer *l, const fer_exec *e, const float *const *x, float *y)
{
    dense_forward(l, e, x[0], y);
}

static void dense_bwd(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                      float *dy, float *const *dx)
{
    dense_backward(l, e, x[0], y, dy, dx[0]);
}

static double dense_flops(const fer_layer *l) { return 2.0 * (double)fer_layer_in_size(l) * l->oc; }

const fer_layer_ops fer_dense_ops = {
    .flops = dense_flops,
    .type = "dense", .parse = dense_parse, .alloc = dense_alloc, .init = dense_init,
    .forward = dense_fwd, .backward = dense_bwd,
};
