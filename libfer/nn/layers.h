/* The layers of a model behind one interface (fer_layer_ops): parsing and
 * shape inference, parameters and buffers, init, forward, backward and
 * scratch. Internal to libfer. Data are NCHW float batches; per-sample
 * shapes are (c, h, w), a dense layer's is (units, 1, 1). Each layer file
 * (conv.c, dense.c, ...) defines one fer_layer_ops; graph.c runs them. */
#ifndef FER_LAYERS_H
#define FER_LAYERS_H

#include "nn/gemm.h"

typedef enum { FER_ACT_NONE, FER_ACT_RELU, FER_ACT_SOFTMAX } fer_act;

enum { FER_MAX_INPUTS = 8, FER_MAX_PARAMS = 4, FER_NODE_INPUT = -1 };

/* A tensor a layer owns: trainable (grad set) or a buffer saved with the
 * weights but not trained (batch norm's running statistics). */
typedef struct fer_layer_param {
    const char *suffix; /* the file's name is "<node>.<suffix>" */
    fer_tensor *value, *grad;
    int decay;          /* weight decay applies (weights; not biases nor norms) */
} fer_layer_param;

typedef struct fer_layer fer_layer;
typedef struct fer_exec fer_exec;

typedef struct fer_layer_ops {
    const char *type; /* the architecture's "type" */
    /* Reads the node's JSON object `o` (cJSON, as void so this header needs
     * no cJSON) into l, whose inputs and input shape are set, checks them
     * and sets the output shape; errors start "layer N: ". */
    fer_status (*parse)(fer_layer *l, const void *o, fer_error *err);
    /* Allocates the parameters (shapes known after parse) and lists them in
     * l->p; NULL: none. */
    fer_status (*alloc)(fer_layer *l, fer_error *err);
    void (*init)(fer_layer *l, fer_rng *rng);        /* NULL: parameters stay as alloc left them */
    size_t (*scratch)(const fer_layer *l, int backward); /* per-thread floats for a pass; NULL: none */
    double (*flops)(const fer_layer *l);             /* forward FLOPs an image (2 a multiply-add); NULL: ~0 */
    /* Batch-sized own buffers for batches of up to n (masks, argmaxes);
     * backward: passes may train (else inference only, which needs none of
     * those); NULL: none. */
    fer_status (*reserve)(fer_layer *l, int n, int backward);
    void (*release)(fer_layer *l);                   /* frees what reserve made */
    void (*forward)(fer_layer *l, const fer_exec *e, const float *const *x, float *y);
    /* Parameter gradients, and dx[k] = the gradient of input k unless dx[k]
     * is NULL. dy may be modified (an activation's mask applied). y is NULL
     * when dy already carries the mask of the layer's fused ReLU. dx[0] may
     * equal dy for an elementwise layer. */
    void (*backward)(fer_layer *l, const fer_exec *e, const float *const *x, const float *y,
                     float *dy, float *const *dx);
    /* Optional in-place backward (conv, 2x2 max pool): the input gradient
     * written over the input itself, which is then lost; with relu_in the
     * input is a ReLU output whose mask is applied on the way. into_ok says
     * whether it may follow `producer` (whose output it overwrites). */
    int (*into_ok)(const fer_layer *l, const fer_layer *producer);
    void (*backward_into)(fer_layer *l, const fer_exec *e, float *x_dx, const float *y,
                          float *dy, int relu_in);
    int elementwise; /* backward may run in place (dx[0] == dy) */
    int alias;       /* the output is the input's buffer (flatten): no pass at all */
    int in_place;    /* forward may overwrite its input when nothing else needs it (dropout) */
} fer_layer_ops;

struct fer_layer {
    const fer_layer_ops *ops;
    int index;                  /* position in the file: names its tensors */
    int n_in;
    int in[FER_MAX_INPUTS];     /* producing node of each input, or FER_NODE_INPUT */
    int in_shape[FER_MAX_INPUTS][3]; /* (c, h, w) of each input */
    int ic, ih, iw;             /* first input, per sample */
    int oc, oh, ow;             /* output, per sample */
    int k, pad;                 /* conv, depthwise: kernel size, padding before (top/left) */
    int size, stride;           /* maxpool */
    float rate;                 /* dropout */
    float momentum, eps;        /* batch norm */
    fer_act act;                /* fused activation */
    fer_tensor w, b;            /* conv w: [oc, ic, k, k]; dense w: [in, out]; norm: scale, shift */
    fer_tensor dw, db;
    fer_tensor run_mean, run_var; /* batch norm */
    int n_p;
    fer_layer_param p[FER_MAX_PARAMS];
    uint8_t *mask;              /* dropout: 1 where the element is kept, batch-sized */
    uint16_t *argmax;           /* maxpool: index (wy*size + wx) of each output's maximum */
    float *stats;               /* batch norm: the batch's mean and 1/std per channel */
    struct fer_wino_cache *wino; /* conv: Winograd's transformed weights (winograd.c) */
    const struct fer_wino_cache *wino_lent; /* conv: the source model's, read only (fer_model_share) */
    unsigned weights_gen;       /* the model's weights generation at this pass (model.h) */
};

/* What a pass needs besides the layer: threads, scratch, batch, mode. */
struct fer_exec {
    fer_pool *pool;
    int threads;
    float **scratch;  /* per thread, as much as the largest layer's scratch op asks */
    int n;            /* samples in the batch */
    int train;        /* batch statistics (batch norm), argmaxes kept for backward; 0: inference */
    int update_stats; /* and fold them into the running statistics */
    fer_rng *rng;     /* dropout active when set */
};

extern const fer_layer_ops fer_conv_ops, fer_depthwise_ops, fer_dense_ops, fer_maxpool_ops,
    fer_dropout_ops, fer_flatten_ops, fer_relu_ops, fer_batchnorm_ops, fer_add_ops,
    fer_average_ops, fer_gap_ops;

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

/* ---- helpers the layer files share (params.c) */

/* The integer o[key] in lo..hi (dflt when absent; dflt < lo: required). */
fer_status fer_layer_int(const fer_layer *l, const void *o, const char *key, int dflt, int lo,
                         int hi, int *out, fer_error *err);
/* The number o[key] in [lo, hi] (dflt when absent). */
fer_status fer_layer_real(const fer_layer *l, const void *o, const char *key, double dflt,
                          double lo, double hi, float *out, fer_error *err);
/* "activation": none (default), "linear", "relu"; "softmax" only where allowed. */
fer_status fer_layer_act(fer_layer *l, const void *o, int softmax_ok, fer_error *err);
/* "padding": "valid" (default) or "same" for a k x k window, stride 1:
 * sets pad, oh, ow. */
fer_status fer_layer_padding(fer_layer *l, const void *o, fer_error *err);
/* Allocates value (and grad when trainable) of the given shape and lists it in l->p. */
fer_status fer_layer_add_param(fer_layer *l, const char *suffix, fer_tensor *value,
                               fer_tensor *grad, int decay, int ndim, const int *shape,
                               fer_error *err);
/* Glorot-uniform (Keras' default) over l->w with these fans. */
void fer_layer_glorot(fer_layer *l, double fan_in, double fan_out, fer_rng *rng);

/* ---- kernels shared by layers */

void fer_relu_forward(size_t n, const float *x, float *y);
/* dx = dy where y > 0, else 0 (dx may equal dy). */
void fer_relu_backward(size_t n, const float *y, const float *dy, float *dx);

/* Softmax of n rows of c logits into probs; mean weighted cross-entropy
 * against targets smoothed by `smoothing` (1 - s on the label, s / c spread
 * over all classes; 0: one-hot) and its gradient with respect to the logits
 * (dlogits may be NULL). */
float fer_softmax_xent(const float *logits, const int *labels, const float *class_w, float smoothing,
                       int n, int c, float *probs, float *dlogits);
/* The same against n given target rows of c probabilities (no weights, no smoothing). */
float fer_softmax_xent_soft(const float *logits, const float *targets, int n, int c, float *probs,
                            float *dlogits);
void fer_softmax(const float *logits, int n, int c, float *probs);

/* Layout helpers used by conv (exposed for tests). */
void fer_im2col(const float *x, int c, int h, int w, int k, int pad, int oh, int ow, float *col);
void fer_col2im(const float *col, int c, int h, int w, int k, int pad, int oh, int ow, float *x);

#endif
