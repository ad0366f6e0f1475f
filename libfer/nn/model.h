/* The model: a graph of layers (nodes in file order, each naming its
 * inputs), its tensors and its execution state, shared by model.c,
 * graph.c, arch.c, train.c and safetensors.c. Internal to libfer. */
#ifndef FER_MODEL_H
#define FER_MODEL_H

#include "nn/layers.h"
#include "nn/optim.h"

/* Where backward puts a gradient (graph.c plans it once per model). */
enum { FER_G_NONE, FER_G_SAME, FER_G_INTO, FER_G_BUF, FER_G_ADD };
enum { FER_LOC_LOGITS = -1, FER_LOC_ACT = -2 };

typedef struct fer_plan {
    int *loc;               /* loc[i]: node i's output gradient: a buffer, LOGITS or ACT */
    unsigned char *masked;  /* node i's ReLU mask is already on its output gradient */
    unsigned char *shares;  /* node i's output is its input's buffer (alias, in place) */
    /* per input: FER_G_* and, for BUF and ADD, the buffer; for INTO, into_ok's answer */
    signed char (*dest)[FER_MAX_INPUTS][2];
    int n_bufs;
    size_t *need;           /* floats a sample each gradient buffer holds */
    /* Inference keeps an activation only until its last reader has run:
     * node i (not shares) writes activation buffer act_buf[i]. */
    int *act_buf;
    int n_act_bufs;
    size_t *act_need;       /* floats a sample each activation buffer holds */
} fer_plan;

struct fer_model {
    int n_layers;
    fer_layer *layers;
    int in_c, in_h, in_w;
    int n_classes;
    char **classes;
    char *arch_json;   /* canonical description, saved with the weights */
    float smoothing;   /* label smoothing of the training loss */
    int shared;        /* parameters borrowed from another model (fer_model_share): no training */
    const fer_model *src; /* that model */
    /* Moves whenever the parameters may have changed: a training step,
     * fer_model_param (it hands them out), a load. Inference hands it to
     * the layers (fer_layer.weights_gen), whose caches derived from their
     * weights (conv's Winograd weights) are made again when it moves. Code
     * that writes parameters any other way must increment it. */
    unsigned weights_gen;
    int n_params, n_buffers;
    fer_param *params;  /* trainable tensors, file order */
    fer_param *buffers; /* saved but not trained (running statistics) */
    /* execution */
    int threads;
    fer_pool *pool;
    float **scratch;   /* per thread, scratch_floats each (0: none yet) */
    size_t scratch_floats;
    fer_plan plan;
    int cap;           /* batch size act and probs hold */
    int grad_cap;      /* batch size gbuf and dlogits hold (0: none, inference so far) */
    float **act;       /* act[i]: output of node i (plan.shares: its input's buffer) */
    float **act_bufs;  /* set when act points into the inference plan's buffers (only the
                        * outputs not yet read are valid after a pass); NULL: one a node */
    float **gbuf;      /* the plan's gradient buffers */
    float *probs, *dlogits;
};

/* Parses an architecture description into m (nodes, their inputs, shapes
 * and hyperparameters, input shape, classes, canonical JSON); model.c
 * allocates the rest. */
fer_status fer_arch_parse(const char *json, fer_model *m, fer_error *err);

/* fer_model_from_json without the random initialisation (tensors at zero),
 * for callers that set every tensor: loading a file, sharing weights. */
fer_status fer_model_from_json_bare(const char *json, fer_model **out, fer_error *err);

/* The graph (graph.c): plan once the nodes are known, then passes. */
fer_status fer_graph_plan(fer_model *m, fer_error *err);
void fer_graph_plan_free(fer_plan *p);
/* Runs every node on x; returns the logits (the last node's output). */
const float *fer_graph_forward(fer_model *m, const fer_exec *e, const float *x);
/* Back-propagates dlogits: parameter gradients land in each node's
 * tensors; the input's own gradient is never computed. Activations that a
 * node overwrites with its input gradient are lost. */
void fer_graph_backward(fer_model *m, const fer_exec *e, const float *x, float *dlogits);

/* Trainable parameters in a fixed order (file order, weight before bias). */
int fer_model_param_count(const fer_model *m);
/* The i-th parameter, its gradient, and its name ("<node>.weight"). */
fer_tensor *fer_model_param(fer_model *m, int i, fer_tensor **grad, char *name, size_t cap);

/* Loss and parameter gradients for a batch (batch statistics, dropout
 * off, no update): for gradient checks and the cross-check against PyTorch. */
fer_status fer_model_gradients(fer_model *m, const float *x, const int *labels, int n, float *loss,
                               fer_error *err);
/* Forward, loss and backward of a training step, without the update
 * (train.c adds it): dropout on with rng, running statistics updated. The
 * loss is against targets (n rows of class probabilities) when given, else
 * against labels; labels, when given, count the correct argmax. */
fer_status fer_model_forward_backward(fer_model *m, fer_rng *rng, const float *x,
                                      const int *labels, const float *targets, int n,
                                      const float *class_weights, float *loss, int *correct,
                                      fer_error *err);
/* The logits of the last pass (n rows of n_classes). */
static inline const float *fer_model_logits(const fer_model *m) { return m->act[m->n_layers - 1]; }

#endif
