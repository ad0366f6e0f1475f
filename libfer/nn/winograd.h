/* Winograd F(m x m, 3 x 3) convolution (m = 2 or 4), stride 1: conv.c
 * hands it the forward pass of the 3x3 layers it suits (fer_winograd_tile),
 * and in training their weight gradient (fer_winograd_dw*: the transposed
 * algorithm) and the input gradient of the 'same' ones (fer_winograd_dx_*:
 * the gradient is itself a 'same' 3x3 convolution). Internal to libfer;
 * docs/gemm.md, "Winograd convolution".
 *
 * Each m x m output tile comes from an alpha x alpha input patch (alpha =
 * m + 2). With the transforms of Lavin & Gray (2016),
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A,
 * the alpha^2 products of the middle become, over all tiles and channels,
 * alpha^2 independent GEMMs: M_t[oc x tiles] = U_t[oc x ic] V_t[ic x tiles].
 * For each pair of input and output channels, F(2x2) needs 16 multiplies
 * a 2x2 tile instead of 36 (2.25x fewer), F(4x4) 36 a 4x4 tile instead of
 * 144 (4x fewer).
 *
 * Layouts, for one block of up to WINO_NB tiles:
 *   U  [t][oc panel][ic][MR]  the transformed weights as GEMM A panels,
 *                             oc rounded up to WINO_OCP (zero rows);
 *   V  [ic][t][WINO_NB]       the transformed input (GEMM B, read in place);
 *   M  [oc][t][WINO_NB]       the products, before the output transform.
 * (a channel's alpha^2 rows are followed by 16 spare floats, so that the
 * rows the GEMM reads, one per channel, do not share L1 sets.)
 * The GEMM micro-kernels are the ones of gemm_*.c (fer_gemm_isa). */
#ifndef FER_WINOGRAD_H
#define FER_WINOGRAD_H

#include "nn/layers.h"

enum {
    WINO_LANES_MAX = 16, /* tiles a transform routine handles at once, at most */
    WINO_OCP = 8,        /* oc is padded to a multiple of this in U (every MR divides it) */
    WINO_NB = 48         /* tiles a block: one AVX-512 panel (NR 48), two AVX2 ones (24) */
};

/* One convolution as the Winograd code sees it. */
typedef struct fer_wino_conv {
    int m;                   /* output tile, 2 or 4 */
    int ic, ih, iw, oc, oh, ow, pad;
    int relu;
    int turned;              /* the weights are read as w[ic][oc][3][3] turned by 180 degrees
                              * (a layer's input gradient: its filters transposed) */
    int tiles_y, tiles_x;    /* tiles an image */
    int nb;                  /* tiles a block, at most WINO_NB */
} fer_wino_conv;

/* A group of up to `lanes` tiles for a transform routine. Lanes past n
 * repeat the last tile (their input is transformed, their output dropped). */
typedef struct fer_wino_group {
    int n;
    unsigned in_edge;  /* bit i: tile i's patch reaches past the input (zero padding) */
    unsigned out_edge; /* bit i: tile i reaches past the output (partial store) */
    const float *x[WINO_LANES_MAX]; /* the image (channel 0) each tile comes from */
    float *y[WINO_LANES_MAX];       /* the image's output */
    int py[WINO_LANES_MAX], px[WINO_LANES_MAX]; /* patch origin, input coordinates (may be < 0) */
    int oy[WINO_LANES_MAX], ox[WINO_LANES_MAX]; /* tile origin, output coordinates */
} fer_wino_group;

/* What each instruction set provides (winograd.c: portable C;
 * winograd_avx2.c; winograd_avx512.c).
 * input: v[ch*cs + t*WINO_NB + i] = V[ch][t] of g's lane i, every channel
 * (v points at the group's first column).
 * output: y of g's live tiles = A^T M A + bias (ReLU when c->relu), M read
 * at m[o*cs + t*WINO_NB + i], for output channels [o0, o1). */
typedef struct fer_wino_isa {
    int lanes;
    void (*input)(const fer_wino_conv *c, const fer_wino_group *g, float *v, size_t cs);
    void (*output)(const fer_wino_conv *c, const fer_wino_group *g, const float *m, size_t cs,
                   const float *bias, int o0, int o1);
} fer_wino_isa;
extern const fer_wino_isa fer_wino_isa_c, fer_wino_isa_avx2, fer_wino_isa_avx512;

/* Copies the valid part of an edge tile's result, m rows of 4 floats in
 * tile (bias and activation applied), to output channel o. */
void fer_wino_store_edge(const fer_wino_conv *c, const fer_wino_group *g, int lane, int o,
                         const float *tile);

/* Fills c for a convolution and a tile size (turned 0); 0 when the shape
 * is not one Winograd handles (kernel 3, stride 1, pad 0 or 1). */
int fer_wino_setup(fer_wino_conv *c, int m, int ic, int ih, int iw, int oc, int pad, int relu);
/* Floats of U (for any GEMM path), and U itself for the GEMM path `kernel`
 * (its MR) and the output channels [o0, o1) (o0 and o1 multiples of
 * WINO_OCP; rows past oc are zero) from w [oc][ic][3][3] (c->turned:
 * w [ic][oc][3][3], each filter turned by 180 degrees). */
size_t fer_wino_u_floats(const fer_wino_conv *c);
void fer_wino_weights(int kernel, const fer_wino_conv *c, const float *w, float *u, int o0, int o1);
/* Per-thread scratch floats of fer_wino_run. */
size_t fer_wino_scratch_floats(const fer_wino_conv *c);
/* Tiles [t0, t1) of the n images x (NCHW) into y, on GEMM path `kernel`
 * (c, avx2 or avx512; not ref): block by block, input transform, alpha^2
 * GEMMs, output transform with bias (NULL: none) and activation. Each
 * tile's result does not depend on which block or thread computed it. */
void fer_wino_run(int kernel, const fer_wino_conv *c, const float *u, const float *bias,
                  const float *x, float *y, long t0, long t1, float *scratch);
/* 1 when path `kernel` can run Winograd on this CPU (c, avx2, avx512). */
int fer_wino_supported(int kernel);

/* ---- the conv layer's use (conv.c) */

/* The tile size Winograd uses for this layer in a call on n images, 0 when
 * the layer keeps the direct path (not 3x3, one input channel, too few
 * channels to gain). */
int fer_winograd_tile(const fer_layer *l, int n);
/* Per-thread scratch floats the layer's Winograd forward needs (0 if none). */
size_t fer_winograd_scratch(const fer_layer *l);
/* Forward of a conv layer by Winograd on the active GEMM path; 0 (nothing
 * done) when the layer or path does not use it, or memory for the
 * transformed weights cannot be had. The transformed weights are kept in
 * the layer (l->wino) and made again when l->weights_gen moves. */
int fer_winograd_forward(fer_layer *l, const fer_exec *e, const float *x, float *y);
void fer_winograd_release(fer_layer *l);
/* Makes src's forward transformed weights on the active path for the tile
 * sizes some batch uses, at weights generation gen, and lends them to dst
 * (a layer of a model sharing src's parameters: fer_model_share), whose
 * forward then reads them while its own generation is gen. 0 without
 * memory, 1 otherwise (nothing to lend for a layer on the direct path). */
int fer_winograd_lend(fer_layer *src, unsigned gen, fer_layer *dst);

/* The input gradient dx = dy (x) W^T turned, for a 'same' 3x3 layer (pad 1,
 * output as large as the input), in chunks of images on each thread:
 * fer_winograd_dx_prepare makes the transformed weights for a backward
 * pass over e->n images and returns its tile size (0: the layer keeps the
 * GEMM path); fer_winograd_dx then computes n images (at most
 * fer_winograd_chunk of them) on one thread with `scratch` (at least
 * fer_winograd_dx_scratch floats). */
int fer_winograd_dx_prepare(fer_layer *l, const fer_exec *e);
/* Images a chunk of either gradient (about two blocks of tiles, 1..8). */
int fer_winograd_chunk(const fer_layer *l, int m);
size_t fer_winograd_dx_scratch(const fer_layer *l);
void fer_winograd_dx(const fer_layer *l, int m, const float *dy, float *dx, int n,
                     float *scratch);

/* The weight gradient of a layer whose forward Winograd takes (any pad), by
 * Winograd's transposed algorithm: per output tile, the input transform of
 * the forward and A dy A^T (A and G swap roles), and over all tiles
 *   dW[o][c] = G^T [ sum of (A dy A^T)[o] .* (B^T d B)[c] ] G,
 * the alpha^2 sums GEMMs over the tiles. fer_winograd_dw_tile: the tile size
 * m for a backward pass over n images (0: the GEMM path); fer_winograd_dw
 * adds n images' sums into acc (fer_winograd_dw_acc_floats(l, m) of them,
 * zeroed first) with `scratch` (fer_winograd_dw_scratch floats);
 * fer_winograd_dw_finish turns acc into dw [oc][ic][3][3]. */
int fer_winograd_dw_tile(const fer_layer *l, int n);
size_t fer_winograd_dw_acc_floats(const fer_layer *l, int m);
size_t fer_winograd_dw_scratch(const fer_layer *l);
void fer_winograd_dw(const fer_layer *l, int m, const float *x, float *dy, int n, float *acc,
                     float *scratch);
void fer_winograd_dw_finish(const fer_layer *l, int m, const float *acc, float *dw);

/* For tests: the same convolution on a given path and tile size, with its
 * own memory and threads = 1; 0 when not supported (or out of memory). */
int fer_winograd_conv_with(int kernel, int m, int n, int ic, int ih, int iw, int oc, int pad,
                           int relu, const float *w, const float *bias, const float *x, float *y);

#endif
