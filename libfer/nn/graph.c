/* The model's graph: nodes in file order (a topological order: a node's
 * inputs come before it), run forward in that order and backward in
 * reverse. The plan, made once, decides where every activation and every
 * gradient lives:
 *   - a flatten's output is its input's buffer, and a dropout runs over its
 *     input when that buffer has no other reader (the layer before only
 *     needs its output's sign by then);
 *   - backward takes gradient buffers from a pool as a gradient is first
 *     written and returns them when its producer has run, so a chain
 *     alternates between two;
 *   - an elementwise node writes its input gradient over its output
 *     gradient, and a convolution or 2x2 max pool over its input (the
 *     into_ok rule of each), when that input has no other consumer;
 *   - a tensor read by several nodes sums their gradients: the first one
 *     backward reaches writes it, the others write a spare buffer that is
 *     then added in;
 *   - inference alone (no backward to come) takes activation buffers from
 *     a second pool as each node runs and returns them once their last
 *     reader has run, so a chain alternates between two as well. */
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"

static size_t node_size(const fer_model *m, int t)
{
    return t == FER_NODE_INPUT ? (size_t)m->in_c * m->in_h * m->in_w
                               : fer_layer_out_size(&m->layers[t]);
}

/* Consumers of each node's output. */
static int *count_consumers(const fer_model *m)
{
    int *c = calloc((size_t)m->n_layers, sizeof *c);
    for (int i = 0; c && i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i].n_in; k++)
            if (m->layers[i].in[k] != FER_NODE_INPUT)
                c[m->layers[i].in[k]]++;
    return c;
}

/* 1 when node t's buffer (through the aliases it is) is read by one node
 * only, and is not the caller's input: it may be written over. */
static int sole_reader(const fer_model *m, const int *consumers, int t)
{
    for (;;) {
        if (t == FER_NODE_INPUT || consumers[t] != 1)
            return 0;
        const fer_layer *l = &m->layers[t];
        if (!l->ops->alias)
            return 1;
        t = l->in[0];
    }
}

/* The backward buffer pool: the lowest free buffer, grown to hold `size`. */
typedef struct pool { int n; size_t *need; unsigned char *busy; } pool;

static int take(pool *p, size_t size)
{
    int b = 0;
    while (b < p->n && p->busy[b])
        b++;
    if (b == p->n)
        p->need[p->n++] = 0;
    p->busy[b] = 1;
    if (size > p->need[b])
        p->need[b] = size;
    return b;
}

/* The inference pool: each node's output taken before its inputs are
 * returned (a node never writes over what it reads, unless it shares). */
static fer_status plan_inference(fer_model *m, fer_plan *p, fer_error *err)
{
    int n = m->n_layers;
    int *owner = malloc((size_t)n * sizeof *owner), *last = malloc((size_t)n * sizeof *last);
    pool ap = {0, calloc((size_t)n + 1, sizeof *ap.need), calloc((size_t)n + 1, 1)};
    p->act_buf = malloc((size_t)n * sizeof *p->act_buf);
    fer_status s = FER_OK;
    if (!owner || !last || !ap.need || !ap.busy || !p->act_buf)
        s = fer_fail(err, FER_ENOMEM, "model: out of memory");
    for (int i = 0; !s && i < n; i++) { /* whose buffer node i's output is (-1: the caller's) */
        int t = m->layers[i].in[0];
        owner[i] = !p->shares[i] ? i : t == FER_NODE_INPUT ? -1 : owner[t];
        last[i] = i == n - 1 ? n : -1; /* the logits outlive the pass */
        for (int k = 0; k < m->layers[i].n_in; k++) {
            int o = (t = m->layers[i].in[k]) == FER_NODE_INPUT ? -1 : owner[t];
            if (o >= 0 && last[o] < i)
                last[o] = i;
        }
    }
    for (int i = 0; !s && i < n; i++) {
        p->act_buf[i] = p->shares[i] ? -1 : take(&ap, node_size(m, i));
        for (int o = 0; o < i; o++)
            if (last[o] == i && p->act_buf[o] >= 0)
                ap.busy[p->act_buf[o]] = 0;
    }
    p->n_act_bufs = ap.n;
    p->act_need = ap.need;
    free(ap.busy);
    free(owner);
    free(last);
    return s;
}

fer_status fer_graph_plan(fer_model *m, fer_error *err)
{
    int n = m->n_layers;
    if (n < 1)
        return fer_fail(err, FER_EFORMAT, "architecture: no layers");
    fer_plan *p = &m->plan;
    int *consumers = count_consumers(m);
    pool bp = {0, calloc((size_t)n + 2, sizeof *bp.need), calloc((size_t)n + 2, 1)};
    p->loc = calloc((size_t)n, sizeof *p->loc);
    p->masked = calloc((size_t)n, 1);
    p->shares = calloc((size_t)n, 1);
    p->dest = calloc((size_t)n, sizeof *p->dest);
    unsigned char *set = calloc((size_t)n, 1);
    fer_status s = FER_OK;
    if (!consumers || !bp.need || !bp.busy || !p->loc || !p->masked || !p->shares || !p->dest ||
        !set)
        s = fer_fail(err, FER_ENOMEM, "model: out of memory");
    for (int i = 0; !s && i < n - 1; i++)
        if (!consumers[i])
            s = fer_fail(err, FER_EFORMAT, "architecture: layer %d: its output is not used (only "
                         "the last layer's may be unused)", i);
    for (int i = 0; !s && i < n; i++) {
        const fer_layer *l = &m->layers[i];
        p->shares[i] = l->ops->alias || (l->ops->in_place && sole_reader(m, consumers, l->in[0]));
    }
    if (!s) {
        p->loc[n - 1] = FER_LOC_LOGITS;
        set[n - 1] = 1;
    }
    for (int i = n - 1; !s && i >= 0; i--) {
        const fer_layer *l = &m->layers[i];
        for (int k = 0; k < l->n_in; k++) {
            int t = l->in[k], into;
            signed char *d = p->dest[i][k];
            d[1] = -1;
            if (t == FER_NODE_INPUT) {
                d[0] = FER_G_NONE;
            } else if (set[t]) { /* another consumer wrote it first: add ours in */
                d[0] = FER_G_ADD;
                d[1] = (signed char)take(&bp, node_size(m, t));
            } else if (k == 0 && l->ops->elementwise && consumers[t] == 1 &&
                       p->loc[i] != FER_LOC_ACT) {
                d[0] = FER_G_SAME;
                p->loc[t] = p->loc[i];
            } else if (k == 0 && l->n_in == 1 && l->ops->into_ok && consumers[t] == 1 &&
                       (into = l->ops->into_ok(l, &m->layers[t]))) {
                d[0] = FER_G_INTO;
                d[1] = (signed char)into;
                p->loc[t] = FER_LOC_ACT;
                p->masked[t] = 1;
            } else {
                d[0] = FER_G_BUF;
                d[1] = (signed char)take(&bp, node_size(m, t));
                p->loc[t] = d[1];
            }
            if (t != FER_NODE_INPUT)
                set[t] = 1;
        }
        for (int k = 0; k < l->n_in; k++) /* the spare buffers were added in */
            if (p->dest[i][k][0] == FER_G_ADD)
                bp.busy[(int)p->dest[i][k][1]] = 0;
        /* node i's output gradient is spent, unless its input took it over */
        if (p->loc[i] >= 0 && p->dest[i][0][0] != FER_G_SAME)
            bp.busy[p->loc[i]] = 0;
        if (bp.n > 120)
            s = fer_fail(err, FER_ERANGE, "architecture: too many gradients live at once");
    }
    p->n_bufs = bp.n;
    p->need = bp.need;
    free(bp.busy);
    free(consumers);
    free(set);
    return s ? s : plan_inference(m, p, err);
}

void fer_graph_plan_free(fer_plan *p)
{
    free(p->loc);
    free(p->masked);
    free(p->shares);
    free(p->dest);
    free(p->need);
    free(p->act_buf);
    free(p->act_need);
    memset(p, 0, sizeof *p);
}

static const float *input_of(const fer_model *m, const float *x, int t)
{
    return t == FER_NODE_INPUT ? x : m->act[t];
}

const float *fer_graph_forward(fer_model *m, const fer_exec *e, const float *x)
{
    for (int i = 0; i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        const float *in[FER_MAX_INPUTS];
        for (int k = 0; k < l->n_in; k++)
            in[k] = input_of(m, x, l->in[k]);
        if (m->plan.shares[i])
            m->act[i] = (float *)in[0];
        l->ops->forward(l, e, in, m->act[i]);
    }
    return m->act[m->n_layers - 1];
}

static float *grad_at(const fer_model *m, int t, float *dlogits)
{
    int loc = m->plan.loc[t];
    return loc == FER_LOC_LOGITS ? dlogits : loc == FER_LOC_ACT ? m->act[t] : m->gbuf[loc];
}

FER_VECTOR_CLONES
static void add_into(size_t n, const float *restrict src, float *restrict dst)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

void fer_graph_backward(fer_model *m, const fer_exec *e, const float *x, float *dlogits)
{
    for (int i = m->n_layers - 1; i >= 0; i--) {
        fer_layer *l = &m->layers[i];
        signed char(*dest)[2] = m->plan.dest[i];
        float *dy = grad_at(m, i, dlogits);
        const float *y = m->plan.masked[i] ? NULL : m->act[i];
        if (l->ops->alias && dest[0][0] != FER_G_BUF && dest[0][0] != FER_G_ADD)
            continue; /* a reshape whose gradient is its output's */
        if (dest[0][0] == FER_G_INTO) {
            l->ops->backward_into(l, e, m->act[l->in[0]], y, dy, dest[0][1] == 2);
            continue;
        }
        const float *in[FER_MAX_INPUTS];
        float *dx[FER_MAX_INPUTS];
        for (int k = 0; k < l->n_in; k++) {
            in[k] = input_of(m, x, l->in[k]);
            switch (dest[k][0]) {
            case FER_G_SAME: dx[k] = dy; break;
            case FER_G_BUF:
            case FER_G_ADD: dx[k] = m->gbuf[(int)dest[k][1]]; break;
            default: dx[k] = NULL; break;
            }
        }
        l->ops->backward(l, e, in, y, dy, dx);
        for (int k = 0; k < l->n_in; k++)
            if (dest[k][0] == FER_G_ADD)
                add_into((size_t)e->n * node_size(m, l->in[k]), dx[k],
                         grad_at(m, l->in[k], dlogits));
    }
}
