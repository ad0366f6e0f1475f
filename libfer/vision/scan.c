/* Evaluation of a Haar cascade on every window position of one pyramid
 * level, with the arithmetic of OpenCV's CascadeClassifier (float feature
 * sums, variance normalisation over the window minus a 1-pixel border,
 * double stage sums) so that the same windows pass. */
#include <math.h>
#include <stdlib.h>

#include "vision/haar.h"

/* A tree node with its feature's rectangle corners turned into offsets
 * from the window's top-left corner in the integral image. */
typedef struct cnode {
    int ofs[HAAR_MAX_RECTS][4];
    float w[HAAR_MAX_RECTS];
    float threshold;
    int child[2]; /* taken when value < threshold, and otherwise */
} cnode;

struct haar_level_buf {
    cnode *nodes;
    int n_nodes;
};

haar_level_buf *haar_level_buf_new(const fer_cascade *c)
{
    haar_level_buf *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->nodes = malloc(sizeof *b->nodes * (size_t)c->n_nodes);
    if (!b->nodes) {
        free(b);
        return NULL;
    }
    b->n_nodes = c->n_nodes;
    return b;
}

void haar_level_buf_free(haar_level_buf *b)
{
    if (b)
        free(b->nodes);
    free(b);
}

/* Integral images with one zero row and column in front: sum[y][x] is the
 * sum of px[0..y-1][0..x-1]. Unsigned wrap-around is harmless: a window's
 * four-corner difference is exact as long as its true value fits. */
void haar_integral(const uint8_t *px, int w, int h, uint32_t *sum, uint32_t *sq)
{
    size_t stride = (size_t)w + 1;
    for (size_t x = 0; x < stride; x++)
        sum[x] = sq[x] = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = px + (size_t)y * w;
        uint32_t *s = sum + (y + 1) * stride, *q = sq + (y + 1) * stride;
        const uint32_t *sp = s - stride, *qp = q - stride;
        uint32_t rs = 0, rq = 0;
        s[0] = q[0] = 0;
        for (int x = 0; x < w; x++) {
            uint32_t v = row[x];
            rs += v;
            rq += v * v;
            s[x + 1] = sp[x + 1] + rs;
            q[x + 1] = qp[x + 1] + rq;
        }
    }
}

/* Rows 0 and 1 directly, then the recurrence
 *   t(X,Y) = t(X-1,Y-1) + t(X+1,Y-1) - t(X,Y-2) + I(X-1,Y-1) + I(X-1,Y-2):
 * the two cones one row up cover the new cone except its apex column, and
 * overlap in the cone two rows up. Outside [0, w] the cones one row up are
 * equal, inside the image, to the border cones two rows up:
 * t(-1,Y-1) = t(0,Y-2) and t(w+1,Y-1) = t(w,Y-2). */
void haar_tilted_integral(const uint8_t *px, int w, int h, uint32_t *t)
{
    size_t stride = (size_t)w + 1;
    for (size_t x = 0; x < stride; x++)
        t[x] = 0;
    if (h == 0)
        return;
    uint32_t *t1 = t + stride;
    t1[0] = 0;
    for (int x = 1; x <= w; x++)
        t1[x] = px[x - 1];
    for (int y = 2; y <= h; y++) {
        uint32_t *cur = t + (size_t)y * stride;
        const uint32_t *up = cur - stride, *up2 = up - stride;
        const uint8_t *r1 = px + (size_t)(y - 1) * w, *r2 = r1 - w;
        for (int x = 0; x <= w; x++) {
            uint32_t left = x >= 1 ? up[x - 1] : up2[0];
            uint32_t right = x + 1 <= w ? up[x + 1] : up2[w];
            uint32_t apex = x >= 1 ? (uint32_t)r1[x - 1] + r2[x - 1] : 0;
            cur[x] = left + right - up2[x] + apex;
        }
    }
}

static void rect_offsets(const haar_rect *r, int stride, int *o)
{
    o[0] = r->y * stride + r->x;
    o[1] = r->y * stride + r->x + r->w;
    o[2] = (r->y + r->h) * stride + r->x;
    o[3] = (r->y + r->h) * stride + r->x + r->w;
}

/* Corners of a tilted rectangle in the tilted integral, in the order of
 * box_sum: apex, right corner, left corner, bottom. */
static void tilted_offsets(const haar_rect *r, int stride, int tofs, int *o)
{
    o[0] = tofs + r->y * stride + r->x;
    o[1] = tofs + (r->y + r->h) * stride + r->x - r->h;
    o[2] = tofs + (r->y + r->w) * stride + r->x + r->w;
    o[3] = tofs + (r->y + r->w + r->h) * stride + r->x + r->w - r->h;
}

static void compile(const fer_cascade *c, int stride, int tofs, cnode *out)
{
    for (int i = 0; i < c->n_nodes; i++) {
        const haar_node *n = &c->nodes[i];
        const haar_feature *f = &c->features[n->feature];
        cnode *o = &out[i];
        for (int k = 0; k < HAAR_MAX_RECTS; k++) {
            if (k < f->n_rects) {
                if (f->tilted)
                    tilted_offsets(&f->r[k], stride, tofs, o->ofs[k]);
                else
                    rect_offsets(&f->r[k], stride, o->ofs[k]);
                o->w[k] = f->r[k].weight;
            } else {
                o->ofs[k][0] = o->ofs[k][1] = o->ofs[k][2] = o->ofs[k][3] = 0;
                o->w[k] = 0.f;
            }
        }
        o->threshold = n->threshold;
        o->child[0] = n->left;
        o->child[1] = n->right;
    }
}

static inline uint32_t box_usum(const uint32_t *p, const int *o)
{
    return p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]];
}

/* A rectangle's pixel sum: at most 255 * 1024 * 1024, so it fits an int. */
static inline int box_sum(const uint32_t *p, const int *o)
{
    return (int)box_usum(p, o);
}

/* The feature value as OpenCV computes it: float, third rect only if used. */
static inline float feature(const cnode *n, const uint32_t *p, float norm)
{
    float v = n->w[0] * (float)box_sum(p, n->ofs[0]) + n->w[1] * (float)box_sum(p, n->ofs[1]);
    if (n->w[2] != 0.0f)
        v += n->w[2] * (float)box_sum(p, n->ofs[2]);
    return v * norm;
}

/* 1 if every stage passes, else -(index of the failing stage). */
static int run_stumps(const fer_cascade *c, const cnode *nodes, const uint32_t *p, float norm)
{
    const cnode *n = nodes;
    const float *leaf = c->leaves;
    for (int s = 0; s < c->n_stages; s++) {
        const haar_stage *st = &c->stages[s];
        double sum = 0;
        for (int t = 0; t < st->n_trees; t++, n++, leaf += 2)
            /* An index, not ?:, so that the compiler cannot emit a branch:
             * the outcome is unpredictable, and gcc's branch made the whole
             * detector 3x slower. */
            sum += leaf[!(feature(n, p, norm) < n->threshold)];
        if (sum < st->threshold)
            return -s;
    }
    return 1;
}

static int run_trees(const fer_cascade *c, const cnode *nodes, const uint32_t *p, float norm)
{
    for (int s = 0; s < c->n_stages; s++) {
        const haar_stage *st = &c->stages[s];
        double sum = 0;
        for (int t = st->first_tree; t < st->first_tree + st->n_trees; t++) {
            const haar_tree *tr = &c->trees[t];
            const cnode *root = nodes + tr->first_node;
            int idx = 0;
            do {
                const cnode *n = root + idx;
                idx = n->child[!(feature(n, p, norm) < n->threshold)];
            } while (idx > 0);
            sum += c->leaves[tr->first_leaf - idx];
        }
        if (sum < st->threshold)
            return -s;
    }
    return 1;
}

/* OpenCV's window normalisation: 1 / (area * stddev) of the window minus
 * a 1-pixel border; windows with stddev <= 10 (flat) are rejected. */
static int window_norm(const uint32_t *p, const uint32_t *q, const int *no, double area,
                       float *norm)
{
    int s = box_sum(p, no);
    unsigned sq = box_usum(q, no);
    double nf = area * sq - (double)s * s;
    if (!(nf > 0.))
        return 0;
    *norm = (float)(1. / sqrt(nf));
    return area * *norm < 1e-1;
}

size_t haar_scan_level(const fer_cascade *c, haar_level_buf *b, const uint32_t *sum,
                       const uint32_t *sq, int tofs, int w, int h, float scale, int step,
                       haar_hit_fn hit, void *arg)
{
    int stride = w + 1;
    compile(c, stride, tofs, b->nodes);
    haar_rect nr = {1, 1, c->win_w - 2, c->win_h - 2, 0.f};
    int no[4];
    rect_offsets(&nr, stride, no);
    double area = (double)nr.w * nr.h;
    int xs = w + 1 - c->win_w, ys = h + 1 - c->win_h; /* OpenCV's working size */
    int win_w = (int)lrintf((float)c->win_w * scale), win_h = (int)lrintf((float)c->win_h * scale);
    int stumps = c->max_nodes_per_tree == 1;
    size_t found = 0;
    for (int y = 0; y < ys; y += step) {
        for (int x = 0; x < xs; x += step) {
            size_t at = (size_t)y * stride + x;
            float norm;
            int r = -1;
            /* OpenCV's bound check: the window must end before the last column/row. */
            if (x + c->win_w < w + 1 && y + c->win_h < h + 1 &&
                window_norm(sum + at, sq + at, no, area, &norm))
                r = stumps ? run_stumps(c, b->nodes, sum + at, norm)
                           : run_trees(c, b->nodes, sum + at, norm);
            if (r > 0) {
                fer_box box = {(int)lrintf((float)x * scale), (int)lrintf((float)y * scale), win_w,
                               win_h};
                if (!hit(arg, &box))
                    return (size_t)-1;
                found++;
            }
            if (r == 0) /* rejected by the first stage: skip a position */
                x += step;
        }
    }
    return found;
}
