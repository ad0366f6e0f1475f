/* Evaluation of a Haar cascade on every window position of one pyramid
 * level, with the arithmetic of OpenCV's CascadeClassifier (float feature
 * sums, variance normalisation over the window minus a 1-pixel border,
 * double stage sums) so that the same windows pass.
 *
 * Two paths: the plain one (any cascade, any CPU), and for stump cascades
 * (the frontal face one) on CPUs with AVX2 eight neighbouring windows of a
 * row at once, the same operations in the same order in each lane, so the
 * hits are the same bit for bit (tests/test_detect.c compares them). */
#include <math.h>
#include <stdlib.h>

#include "vision/haar.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SCAN_X86 1
#endif

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
    int path;        /* HAAR_PATH_C or HAAR_PATH_AVX2 */
    uint32_t *split; /* the AVX2 scan at step 2: the integrals in split rows */
    size_t split_cap;
};

int haar_path_supported(int path)
{
#ifdef SCAN_X86
    if (path == HAAR_PATH_AVX2)
        return __builtin_cpu_supports("avx2");
#endif
    return path == HAAR_PATH_C;
}

int haar_level_buf_use(haar_level_buf *b, int path)
{
    if (!haar_path_supported(path))
        return 0;
    b->path = path;
    return 1;
}

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
    b->path = haar_path_supported(HAAR_PATH_AVX2) ? HAAR_PATH_AVX2 : HAAR_PATH_C;
    return b;
}

void haar_level_buf_free(haar_level_buf *b)
{
    if (b) {
        free(b->nodes);
        free(b->split);
    }
    free(b);
}

/* Integral images with one zero row and column in front: sum[y][x] is the
 * sum of px[0..y-1][0..x-1]. Unsigned wrap-around is harmless: a window's
 * four-corner difference is exact as long as its true value fits. */
/* One row of both integrals from column x on, given the row's running sums
 * up to x. */
static void integral_row_from(const uint8_t *row, int x, int w, uint32_t rs, uint32_t rq,
                              const uint32_t *sp, const uint32_t *qp, uint32_t *s, uint32_t *q)
{
    for (; x < w; x++) {
        uint32_t v = row[x];
        rs += v;
        rq += v * v;
        s[x + 1] = sp[x + 1] + rs;
        q[x + 1] = qp[x + 1] + rq;
    }
}

#ifdef SCAN_X86
/* Eight columns a step: the running sums of eight pixels in a register
 * (two shift-and-adds in each 128-bit half, then the low half's total into
 * the high half) plus the carry of the columns before. The sums wrap modulo
 * 2^32 as the plain loop's do, so they are the same numbers. */
__attribute__((target("avx2"))) static inline __m256i prefix8(__m256i v, __m256i carry)
{
    v = _mm256_add_epi32(v, _mm256_slli_si256(v, 4));
    v = _mm256_add_epi32(v, _mm256_slli_si256(v, 8));
    __m256i low_total = _mm256_permute2x128_si256(_mm256_shuffle_epi32(v, 0xff), v, 0x08);
    return _mm256_add_epi32(_mm256_add_epi32(v, low_total), carry);
}

__attribute__((target("avx2"))) static void integral_row_avx2(const uint8_t *row, int w,
                                                              const uint32_t *sp,
                                                              const uint32_t *qp, uint32_t *s,
                                                              uint32_t *q)
{
    const __m256i last = _mm256_set1_epi32(7);
    __m256i cs = _mm256_setzero_si256(), cq = cs;
    int x = 0;
    for (; x + 8 <= w; x += 8) {
        __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(row + x)));
        cs = prefix8(v, cs);
        cq = prefix8(_mm256_mullo_epi32(v, v), cq);
        __m256i up = _mm256_loadu_si256((const __m256i *)(const void *)(sp + x + 1));
        __m256i uq = _mm256_loadu_si256((const __m256i *)(const void *)(qp + x + 1));
        _mm256_storeu_si256((__m256i *)(void *)(s + x + 1), _mm256_add_epi32(up, cs));
        _mm256_storeu_si256((__m256i *)(void *)(q + x + 1), _mm256_add_epi32(uq, cq));
        cs = _mm256_permutevar8x32_epi32(cs, last); /* the running sums, in every lane */
        cq = _mm256_permutevar8x32_epi32(cq, last);
    }
    integral_row_from(row, x, w, (uint32_t)_mm256_cvtsi256_si32(cs),
                      (uint32_t)_mm256_cvtsi256_si32(cq), sp, qp, s, q);
}
#endif

void haar_integral_with(const uint8_t *px, int w, int h, uint32_t *sum, uint32_t *sq, int simd)
{
    size_t stride = (size_t)w + 1;
    for (size_t x = 0; x < stride; x++)
        sum[x] = sq[x] = 0;
#ifdef SCAN_X86
    simd = simd && haar_path_supported(HAAR_PATH_AVX2);
#else
    (void)simd;
#endif
    for (int y = 0; y < h; y++) {
        const uint8_t *row = px + (size_t)y * w;
        uint32_t *s = sum + (y + 1) * stride, *q = sq + (y + 1) * stride;
        const uint32_t *sp = s - stride, *qp = q - stride;
        s[0] = q[0] = 0;
#ifdef SCAN_X86
        if (simd) {
            integral_row_avx2(row, w, sp, qp, s, q);
            continue;
        }
#endif
        integral_row_from(row, 0, w, 0, 0, sp, qp, s, q);
    }
}

void haar_integral(const uint8_t *px, int w, int h, uint32_t *sum, uint32_t *sq)
{
    haar_integral_with(px, w, h, sum, sq, 1);
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

/* Where a window's corner (x, y) lies in an integral image, relative to the
 * window's top-left: row-major with `stride`, or, when half > 0, each row
 * stored as its even columns then its odd ones (half each, stride 2 half),
 * so that windows two columns apart are neighbours in memory (the AVX2
 * scan at step 2). */
typedef struct layout {
    int stride, half;
} layout;

static int at(layout l, int x, int y)
{
    return y * l.stride + (l.half ? (x & 1) * l.half + (x - (x & 1)) / 2 : x);
}

static void rect_offsets(const haar_rect *r, layout l, int *o)
{
    o[0] = at(l, r->x, r->y);
    o[1] = at(l, r->x + r->w, r->y);
    o[2] = at(l, r->x, r->y + r->h);
    o[3] = at(l, r->x + r->w, r->y + r->h);
}

/* Corners of a tilted rectangle in the tilted integral, in the order of
 * box_sum: apex, right corner, left corner, bottom. */
static void tilted_offsets(const haar_rect *r, layout l, int tofs, int *o)
{
    o[0] = tofs + at(l, r->x, r->y);
    o[1] = tofs + at(l, r->x - r->h, r->y + r->h);
    o[2] = tofs + at(l, r->x + r->w, r->y + r->w);
    o[3] = tofs + at(l, r->x + r->w - r->h, r->y + r->w + r->h);
}

static void compile(const fer_cascade *c, layout l, int tofs, cnode *out)
{
    for (int i = 0; i < c->n_nodes; i++) {
        const haar_node *n = &c->nodes[i];
        const haar_feature *f = &c->features[n->feature];
        cnode *o = &out[i];
        for (int k = 0; k < HAAR_MAX_RECTS; k++) {
            if (k < f->n_rects) {
                if (f->tilted)
                    tilted_offsets(&f->r[k], l, tofs, o->ofs[k]);
                else
                    rect_offsets(&f->r[k], l, o->ofs[k]);
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

/* Stages from s0 on (n and leaf: its first node and leaf): 1 if every one
 * passes, else -(index of the failing stage). */
static int stumps_from(const fer_cascade *c, int s0, const cnode *n, const float *leaf,
                       const uint32_t *p, float norm)
{
    for (int s = s0; s < c->n_stages; s++) {
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

static int run_stumps(const fer_cascade *c, const cnode *nodes, const uint32_t *p, float norm)
{
    return stumps_from(c, 0, nodes, c->leaves, p, norm);
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


#ifdef SCAN_X86
/* ---- AVX2: eight windows at x, x + step, ... x + 7 step of one row.
 * Lane i of every vector belongs to window i; each lane computes what
 * window_norm and run_stumps compute for its window, operation for
 * operation (no FMA: the target is avx2 alone), so it passes or fails the
 * same stages. */
#define SCAN_AVX2 __attribute__((target("avx2")))
enum { LANES = 8 };

/* The integrals of eight windows: at p[0..7] (step 1), or, at step 2, in
 * split rows (layout), where windows two columns apart are neighbours. */
SCAN_AVX2 static inline __m256i lanes_box(const uint32_t *p, const int *o)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(p + o[0]));
    __m256i b = _mm256_loadu_si256((const __m256i *)(p + o[1]));
    __m256i c = _mm256_loadu_si256((const __m256i *)(p + o[2]));
    __m256i d = _mm256_loadu_si256((const __m256i *)(p + o[3]));
    return _mm256_add_epi32(_mm256_sub_epi32(_mm256_sub_epi32(a, b), c), d);
}

SCAN_AVX2 static inline __m256 lanes_feature(const cnode *n, const uint32_t *p, __m256 norm)
{
    __m256 v = _mm256_add_ps(
        _mm256_mul_ps(_mm256_set1_ps(n->w[0]), _mm256_cvtepi32_ps(lanes_box(p, n->ofs[0]))),
        _mm256_mul_ps(_mm256_set1_ps(n->w[1]), _mm256_cvtepi32_ps(lanes_box(p, n->ofs[1]))));
    if (n->w[2] != 0.0f)
        v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_set1_ps(n->w[2]),
                                           _mm256_cvtepi32_ps(lanes_box(p, n->ofs[2]))));
    return _mm256_mul_ps(v, norm);
}

/* Bit i set: window i passes stage st (its nodes from n, leaves from leaf). */
SCAN_AVX2 static inline int lanes_stage(const haar_stage *st, const cnode *n, const float *leaf,
                                        const uint32_t *p, __m256 norm)
{
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (int t = 0; t < st->n_trees; t++, n++, leaf += 2) {
        __m256 lt = _mm256_cmp_ps(lanes_feature(n, p, norm), _mm256_set1_ps(n->threshold),
                                  _CMP_LT_OQ);
        __m256 l = _mm256_blendv_ps(_mm256_set1_ps(leaf[1]), _mm256_set1_ps(leaf[0]), lt);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(l)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(l, 1)));
    }
    __m256d thr = _mm256_set1_pd(st->threshold);
    return _mm256_movemask_pd(_mm256_cmp_pd(lo, thr, _CMP_NLT_UQ)) |
           _mm256_movemask_pd(_mm256_cmp_pd(hi, thr, _CMP_NLT_UQ)) << 4;
}

/* window_norm of four windows: returns the accepted ones as bits, their
 * norms in *norm. */
SCAN_AVX2 static inline int lanes_norm4(__m128i s, __m128i sq, double area, __m128 *norm)
{
    __m256d a = _mm256_set1_pd(area);
    __m256d sd = _mm256_cvtepi32_pd(s);
    /* unsigned -> double, exactly: flip the top bit, convert, add 2^31 */
    __m256d qd = _mm256_add_pd(
        _mm256_cvtepi32_pd(_mm_xor_si128(sq, _mm_set1_epi32((int)0x80000000u))),
        _mm256_set1_pd(2147483648.0));
    __m256d nf = _mm256_sub_pd(_mm256_mul_pd(a, qd), _mm256_mul_pd(sd, sd));
    __m256d pos = _mm256_cmp_pd(nf, _mm256_setzero_pd(), _CMP_GT_OQ);
    *norm = _mm256_cvtpd_ps(_mm256_div_pd(_mm256_set1_pd(1.), _mm256_sqrt_pd(nf)));
    __m256d small = _mm256_cmp_pd(_mm256_mul_pd(a, _mm256_cvtps_pd(*norm)),
                                  _mm256_set1_pd(1e-1), _CMP_LT_OQ);
    return _mm256_movemask_pd(_mm256_and_pd(pos, small));
}

/* One row of windows, as haar_scan_level's loop over x does it; sum and sq
 * point at the row's first window, eight windows are eight elements. */
SCAN_AVX2 static size_t scan_row_avx2(const fer_cascade *c, const cnode *nodes,
                                             const uint32_t *sum, const uint32_t *sq,
                                             const int *no, double area, int xs, int step,
                                             int y, float scale, int win_w, int win_h,
                                             haar_hit_fn hit, void *arg)
{
    size_t found = 0;
    int skip = 0; /* the previous window failed stage 0: this one is not scanned */
    for (int x0 = 0, k = 0; x0 < xs; x0 += LANES * step, k += LANES) {
        int nl = (xs - x0 + step - 1) / step;
        nl = nl < LANES ? nl : LANES;
        const uint32_t *p = sum + k, *q = sq + k;
        __m256i s = lanes_box(p, no), sqs = lanes_box(q, no);
        __m128 nlo, nhi;
        int ok = lanes_norm4(_mm256_castsi256_si128(s), _mm256_castsi256_si128(sqs), area, &nlo) |
                 lanes_norm4(_mm256_extracti128_si256(s, 1), _mm256_extracti128_si256(sqs, 1),
                             area, &nhi) << 4;
        ok &= (1 << nl) - 1;
        if (!ok && !skip)
            continue; /* no window here is scanned, none fails stage 0 */
        __m256 norm = _mm256_set_m128(nhi, nlo);
        const cnode *n = nodes;
        const float *leaf = c->leaves;
        int pass = lanes_stage(&c->stages[0], n, leaf, p, norm);
        /* The plain scan skips the window after one that fails stage 0. */
        int alive = 0;
        for (int i = 0; i < nl; i++) {
            if (skip) {
                skip = 0;
                continue;
            }
            if (!(ok >> i & 1))
                continue;
            if (pass >> i & 1)
                alive |= 1 << i;
            else
                skip = 1;
        }
        for (int st = 1; alive && st < c->n_stages; st++) {
            n += c->stages[st - 1].n_trees;
            leaf += 2 * c->stages[st - 1].n_trees;
            alive &= lanes_stage(&c->stages[st], n, leaf, p, norm);
        }
        for (int i = 0; alive; i++, alive >>= 1) {
            if (!(alive & 1))
                continue;
            int x = x0 + i * step;
            fer_box box = {(int)lrintf((float)x * scale), (int)lrintf((float)y * scale), win_w,
                           win_h};
            if (!hit(arg, &box))
                return (size_t)-1;
            found++;
        }
    }
    return found;
}

/* Step 2: the integrals copied into split rows (layout l), the tilted one
 * after the upright one, then the squares. */
static int split_integrals(haar_level_buf *b, const uint32_t *sum, const uint32_t *sq, int tofs,
                           int w, int h, layout l)
{
    size_t stride = (size_t)w + 1, cells = (size_t)(h + 1) * (size_t)l.stride;
    size_t planes = tofs ? 3 : 2, need = planes * cells + HAAR_SCAN_PAD;
    if (need > b->split_cap) {
        free(b->split);
        b->split = calloc(need, sizeof *b->split);
        b->split_cap = b->split ? need : 0;
        if (!b->split)
            return 0;
    }
    const uint32_t *src[3] = {sum, tofs ? sum + tofs : NULL, sq};
    uint32_t *dst[3] = {b->split, tofs ? b->split + cells : NULL, b->split + (planes - 1) * cells};
    for (int k = 0; k < 3; k++)
        for (size_t y = 0; src[k] && y <= (size_t)h; y++) {
            const uint32_t *r = src[k] + y * stride;
            uint32_t *even = dst[k] + y * (size_t)l.stride, *odd = even + l.half;
            for (size_t x = 0; x < stride; x++)
                (x & 1 ? odd : even)[x / 2] = r[x];
            if (stride & 1)
                odd[stride / 2] = 0; /* read by no window of the level */
        }
    return 1;
}

/* b's nodes and the norm's offsets no are compiled for layout l: split rows
 * at step 2 (the integrals are copied into them here), else the plain one. */
SCAN_AVX2 static size_t scan_avx2(const fer_cascade *c, haar_level_buf *b, const uint32_t *sum,
                                  const uint32_t *sq, int tofs, int w, int h, layout l,
                                  const int *no, double area, int xs, int ys, int step,
                                  float scale, int win_w, int win_h, haar_hit_fn hit, void *arg)
{
    if (l.half) {
        if (!split_integrals(b, sum, sq, tofs, w, h, l))
            return (size_t)-1;
        sum = b->split;
        sq = b->split + (size_t)(tofs ? 2 : 1) * (size_t)(h + 1) * (size_t)l.stride;
    }
    size_t found = 0;
    for (int y = 0; y < ys; y += step) {
        size_t row = (size_t)y * (size_t)l.stride;
        size_t r = scan_row_avx2(c, b->nodes, sum + row, sq + row, no, area, xs, step, y, scale,
                                 win_w, win_h, hit, arg);
        if (r == (size_t)-1)
            return r;
        found += r;
    }
    return found;
}
#endif

size_t haar_scan_level(const fer_cascade *c, haar_level_buf *b, const uint32_t *sum,
                       const uint32_t *sq, int tofs, int w, int h, float scale, int step,
                       haar_hit_fn hit, void *arg)
{
    int stride = w + 1;
    int stumps = c->max_nodes_per_tree == 1, simd = 0;
#ifdef SCAN_X86
    simd = b->path == HAAR_PATH_AVX2 && stumps && (step == 1 || step == 2);
#endif
    /* The nodes, once, for the layout the scan reads: split rows for the
     * AVX2 scan at step 2 (the tilted integral then after the upright one). */
    layout l = simd && step == 2 ? (layout){2 * ((w + 2) / 2), (w + 2) / 2} : (layout){stride, 0};
    compile(c, l, l.half && tofs ? (h + 1) * l.stride : tofs, b->nodes);
    haar_rect nr = {1, 1, c->win_w - 2, c->win_h - 2, 0.f};
    int no[4];
    rect_offsets(&nr, l, no);
    double area = (double)nr.w * nr.h;
    int xs = w + 1 - c->win_w, ys = h + 1 - c->win_h; /* OpenCV's working size */
    int win_w = (int)lrintf((float)c->win_w * scale), win_h = (int)lrintf((float)c->win_h * scale);
#ifdef SCAN_X86
    if (simd)
        return scan_avx2(c, b, sum, sq, tofs, w, h, l, no, area, xs, ys, step, scale, win_w,
                         win_h, hit, arg);
#endif
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
