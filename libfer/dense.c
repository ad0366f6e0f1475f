/* Fully connected layer: y[n, out] = x[n, in] W[in, out] + b, activation
 * fused. Threads take disjoint column blocks, so no reduction is needed and
 * results do not depend on the thread count. */
#include "layers.h"

enum { COL_BLOCK = 32 }; /* keeps each thread's share a multiple of the SIMD width */

size_t fer_dense_scratch(const fer_layer *l)
{
    (void)l;
    return 0;
}

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

static void dense_forward_range(void *arg, int begin, int end, int t)
{
    (void)t;
    const dense_job *j = arg;
    const fer_layer *l = j->l;
    int c0, nc, n = j->e->n;
    col_range(begin, end, j->units, &c0, &nc);
    fer_gemm(0, 0, n, nc, j->in, j->x, j->in, l->w.data + c0, j->units, 0, j->out + c0, j->units);
    for (int r = 0; r < n; r++) {
        float *row = j->out + (size_t)r * j->units;
        for (int c = c0; c < c0 + nc; c++) {
            float v = row[c] + l->b.data[c];
            row[c] = (l->act == FER_ACT_RELU && v < 0) ? 0 : v;
        }
    }
}

static int blocks(int cols) { return (cols + COL_BLOCK - 1) / COL_BLOCK; }

void fer_dense_forward(const fer_layer *l, const fer_exec *e, const float *x, float *y)
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

void fer_dense_backward(fer_layer *l, const fer_exec *e, const float *x, const float *y, float *dy,
                        float *dx)
{
    dense_job j = {.l = l, .e = e, .x = x, .y = y, .dy = dy, .dx = dx,
                   .in = (int)fer_layer_in_size(l), .units = l->oc};
    if (l->act == FER_ACT_RELU)
        fer_relu_backward((size_t)e->n * l->oc, y, dy, dy);
    fer_pool_for(e->pool, blocks(l->oc), dense_grad_range, &j);
    if (dx)
        fer_pool_for(e->pool, blocks(j.in), dense_dx_range, &j);
}
