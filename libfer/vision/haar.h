/* The parsed Haar cascade, shared by cascade.c (which fills and validates
 * it) and detect.c (which evaluates it). Private to libfer. */
#ifndef FER_HAAR_H
#define FER_HAAR_H

#include "core/core.h"

#define HAAR_MAX_RECTS 3

typedef struct haar_rect {
    int x, y, w, h;
    float weight;
} haar_rect;

/* Upright rectangles span [x, x+w) x [y, y+h). Tilted (45 degree) ones
 * have corners (x, y), (x+w, y+w), (x-h, y+h), (x+w-h, y+w+h) in the
 * tilted integral image (see haar_tilted_integral). */
typedef struct haar_feature {
    int n_rects; /* 1..3; unused rects have weight 0 */
    int tilted;
    haar_rect r[HAAR_MAX_RECTS];
} haar_feature;

/* A tree node: go `left` when feature value < threshold, else `right`.
 * A child c > 0 is node c of the same tree, c <= 0 is leaf -c. */
typedef struct haar_node {
    int feature;
    float threshold;
    int left, right;
} haar_node;

typedef struct haar_tree {
    int first_node, n_nodes; /* into fer_cascade.nodes */
    int first_leaf;          /* into fer_cascade.leaves; n_nodes + 1 leaves */
} haar_tree;

typedef struct haar_stage {
    int first_tree, n_trees;
    float threshold; /* already lowered by OpenCV's 1e-5 epsilon */
} haar_stage;

struct fer_cascade {
    int win_w, win_h;
    int n_stages, n_trees, n_nodes, n_leaves, n_features;
    int max_nodes_per_tree; /* 1: every tree is a stump */
    int has_tilted;         /* some feature is tilted: build the tilted integral */
    haar_stage *stages;
    haar_tree *trees;
    haar_node *nodes;
    float *leaves;
    haar_feature *features;
};

/* Scratch space for haar_resize_linear, sized for the largest output, and
 * its path: simd (AVX2, only where haar_path_supported(HAAR_PATH_AVX2)) or
 * the plain one; both give the same bytes. */
typedef struct haar_resize_buf {
    int *xofs, *xw, *row0, *row1; /* destination width each */
    int *yofs, *yw;               /* destination height each */
    int simd;
} haar_resize_buf;

/* src (sw x sh) -> dst (dw x dh), dw <= sw and dh <= sh, the way OpenCV's
 * resize(INTER_LINEAR_EXACT) computes it for 8-bit images. */
void haar_resize_linear(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh,
                        haar_resize_buf *b);

/* Integral image and integral of squares, (w+1) x (h+1), zero first row
 * and column, wrapping modulo 2^32. */
void haar_integral(const uint8_t *px, int w, int h, uint32_t *sum, uint32_t *sq);
/* The same on the plain path (simd 0) or, where the CPU has it, the AVX2
 * one: the same numbers (tests). */
void haar_integral_with(const uint8_t *px, int w, int h, uint32_t *sum, uint32_t *sq, int simd);

/* Tilted integral, (w+1) x (h+1): t[Y][X] is the sum of the pixels (x, y)
 * with y < Y and |x - (X-1)| <= Y-1-y, the upward cone whose apex is the
 * pixel (X-1, Y-1) (OpenCV's definition, checked against cv2.integral3). */
void haar_tilted_integral(const uint8_t *px, int w, int h, uint32_t *t);

/* Per-level scratch: the cascade's nodes compiled for one row stride, and
 * the scan's code path: the fastest this CPU has, unless haar_level_buf_use
 * (tests) chooses one; 0 when the CPU lacks it. Both give the same hits. */
typedef struct haar_level_buf haar_level_buf;
enum { HAAR_PATH_C, HAAR_PATH_AVX2 };
haar_level_buf *haar_level_buf_new(const fer_cascade *c);
void haar_level_buf_free(haar_level_buf *b);
int haar_path_supported(int path);
int haar_level_buf_use(haar_level_buf *b, int path);

/* Receives each accepted window, in original-image pixels; returns 0 to
 * abort (out of memory). */
typedef int (*haar_hit_fn)(void *arg, const fer_box *box);

/* Scans a w x h level (its integrals from haar_integral, and for tilted
 * features the tilted integral at sum + tofs) with the given step; returns
 * the count of hits, or (size_t)-1 when hit() aborted. The SIMD path reads
 * up to HAAR_SCAN_PAD elements past the end of the integrals (values
 * unused): allocate them. */
#define HAAR_SCAN_PAD 16
size_t haar_scan_level(const fer_cascade *c, haar_level_buf *b, const uint32_t *sum,
                       const uint32_t *sq, int tofs, int w, int h, float scale, int step,
                       haar_hit_fn hit, void *arg);

/* The buffers of a pyramid's levels, sized for the largest (iw x ih) and
 * reused by each smaller one: the level's pixels, its integrals (padded for
 * the SIMD scan; with tilted features the tilted integral follows the
 * upright one, at sum + tofs, so that feature offsets address both from one
 * pointer), the resize scratch and the scan's per-level buffer. */
typedef struct haar_work {
    uint8_t *level;
    uint32_t *sum, *sq;
    size_t tofs; /* 0: no tilted integral */
    haar_resize_buf rb;
    haar_level_buf *lb;
    int *ints;
} haar_work;
/* 0 when out of memory; haar_work_free releases w either way. */
int haar_work_alloc(haar_work *w, const fer_cascade *c, int iw, int ih);
void haar_work_free(haar_work *w);
/* One level: px (iw x ih) shrunk to lw x lh (at most the allocated size)
 * and its integrals, ready for haar_scan_level(c, w->lb, w->sum, w->sq,
 * w->tofs, lw, lh, ...). */
void haar_work_level(haar_work *w, const uint8_t *px, int iw, int ih, int lw, int lh);

/* OpenCV's groupRectangles in place: *n_out boxes remain in b. */
fer_status haar_group(fer_box *b, size_t n, int min_neighbors, double eps, size_t *n_out,
                      fer_error *err);

#endif
