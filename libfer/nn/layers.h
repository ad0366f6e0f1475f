/* The layers of a sequential model: shapes, parameters and the
 * forward/backward passes. Internal to libfer. Data are NCHW float batches;
 * per-sample shapes are (c, h, w), a dense layer's is (units, 1, 1). */
#ifndef FER_LAYERS_H
#define FER_LAYERS_H

#include "nn/gemm.h"

typedef enum { FER_L_CONV, FER_L_MAXPOOL, FER_L_DROPOUT, FER_L_FLATTEN, FER_L_DENSE,
               FER_L_RELU } fer_layer_kind;
typedef enum { FER_ACT_NONE, FER_ACT_RELU, FER_ACT_SOFTMAX } fer_act;

typedef struct fer_layer {
    fer_layer_kind kind;
    int ic, ih, iw;   /* input, per sample */
    int oc, oh, ow;   /* output, per sample */
    int k, pad;       /* conv: kernel size, padding before (top/left) */
    int size, stride; /* maxpool */
    float rate;       /* dropout */
    fer_act act;      /* fused activation of conv and dense */
    fer_tensor w, b;  /* conv w: [oc, ic, k, k]; dense w: [in, out] */
    fer_tensor dw, db;
    uint8_t *mask;    /* dropout: 1 where the element is kept, batch-sized */
    uint16_t *argmax; /* maxpool: index (wy*size + wx) of each output's maximum in its window */
} fer_layer;

/* What a pass needs besides the layer: threads, scratch, batch, mode. */
typedef struct fer_exec {
    fer_pool *pool;
    int threads;
    float **scratch;  /* per thread, scratch_floats each */
    size_t scratch_floats;
    int n;            /* samples in the batch */
    int train;        /* dropout active */
    fer_rng *rng;
} fer_exec;

/* The library is built for baseline x86-64 (SSE2); the elementwise layer
 * loops get AVX2 and AVX-512 copies chosen at load time (GCC/clang ifunc).
 * Without -ffast-math the compiler keeps the written order of every sum,
 * so all copies give the same results. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__linux__)
#define FER_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FER_VECTOR_CLONES
#endif

static inline size_t fer_layer_in_size(const fer_layer *l) { return (size_t)l->ic * l->ih * l->iw; }
static inline size_t fer_layer_out_size(const fer_layer *l) { return (size_t)l->oc * l->oh * l->ow; }

/* Per-thread scratch floats a layer needs (im2col, partial gradients). */
size_t fer_conv_scratch(const fer_layer *l);
size_t fer_dense_scratch(const fer_layer *l);

void fer_conv_forward(const fer_layer *l, const fer_exec *e, const float *x, float *y);
/* dy is modified in place (activation mask applied); dx may be NULL. y may
 * be NULL when dy already has the activation's mask applied (see
 * fer_maxpool_backward_into). */
void fer_conv_backward(fer_layer *l, const fer_exec *e, const float *x, const float *y, float *dy,
                       float *dx);
/* As fer_conv_backward, with the input gradient written over the input
 * itself, image by image once that image's dW is taken; with relu_in the
 * input is a ReLU output and its mask is applied (the layer before then
 * gets y NULL). Saves a gradient buffer the size of the input. */
void fer_conv_backward_into(fer_layer *l, const fer_exec *e, float *x_dx, const float *y,
                            float *dy, int relu_in);
void fer_dense_forward(const fer_layer *l, const fer_exec *e, const float *x, float *y);
void fer_dense_backward(fer_layer *l, const fer_exec *e, const float *x, const float *y, float *dy,
                        float *dx);
void fer_maxpool_forward(fer_layer *l, const fer_exec *e, const float *x, float *y);
void fer_maxpool_backward(const fer_layer *l, const fer_exec *e, const float *dy, float *dx);
/* For 2x2, stride 2 (fer_maxpool_in_place): the input gradient written over
 * the input itself, which is the ReLU output of the layer before when relu is
 * set, with that ReLU's mask applied; that layer's backward then gets y NULL.
 * Saves a gradient buffer the size of the largest activation. */
int fer_maxpool_in_place(const fer_layer *l);
void fer_maxpool_backward_into(const fer_layer *l, const fer_exec *e, const float *dy, int relu,
                               float *x_dx);
/* y may equal x (in place); so may dx and dy. */
void fer_dropout_forward(fer_layer *l, const fer_exec *e, const float *x, float *y);
void fer_dropout_backward(const fer_layer *l, const fer_exec *e, const float *dy, float *dx);
void fer_relu_forward(size_t n, const float *x, float *y);
/* dx = dy where y > 0, else 0 (dx may equal dy). */
void fer_relu_backward(size_t n, const float *y, const float *dy, float *dx);

/* Softmax of n rows of c logits into probs; mean weighted cross-entropy
 * and its gradient with respect to the logits (dlogits may be NULL). */
float fer_softmax_xent(const float *logits, const int *labels, const float *class_w, int n, int c,
                       float *probs, float *dlogits);
void fer_softmax(const float *logits, int n, int c, float *probs);

/* Layout helpers used by conv (exposed for tests). */
void fer_im2col(const float *x, int c, int h, int w, int k, int pad, int oh, int ow, float *col);
void fer_col2im(const float *col, int c, int h, int w, int k, int pad, int oh, int ow, float *x);

#endif
