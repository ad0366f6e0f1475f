/* The sequential model's state, shared by model.c, arch.c, adam.c and
 * safetensors.c. Internal to libfer. */
#ifndef FER_MODEL_H
#define FER_MODEL_H

#include "nn/layers.h"

struct fer_model {
    int n_layers;
    fer_layer *layers;
    int in_c, in_h, in_w;
    int n_classes;
    char **classes;
    char *arch_json;   /* canonical description, saved with the weights */
    /* execution */
    int threads;
    fer_pool *pool;
    float **scratch;   /* per thread */
    size_t scratch_floats;
    int cap;           /* batch size the buffers below hold */
    float **act;       /* act[i]: output of layer i (flatten and dropout alias their input) */
    float *grad[2];    /* ping-pong gradient buffers, each sized to what it holds */
    signed char *gdst; /* gdst[i]: where layer i's input gradient goes (model.c) */
    float *probs, *dlogits;
};

/* Parses an architecture description into m (layers' hyperparameters,
 * input shape, classes, canonical JSON); model.c allocates the rest. */
fer_status fer_arch_parse(const char *json, fer_model *m, fer_error *err);

/* Parameters in a fixed order: weight then bias of each layer that has them. */
int fer_model_param_count(const fer_model *m);
/* The i-th parameter, its gradient, and its name ("<layer>.weight"/".bias"). */
fer_tensor *fer_model_param(fer_model *m, int i, fer_tensor **grad, char *name, size_t cap);

/* Loss and parameter gradients for a batch, dropout off, no update: for
 * gradient checks and the cross-check against PyTorch. */
fer_status fer_model_gradients(fer_model *m, const float *x, const int *labels, int n, float *loss,
                               fer_error *err);
/* The logits of the last pass (n rows of n_classes). */
static inline const float *fer_model_logits(const fer_model *m) { return m->act[m->n_layers - 1]; }

/* Applies one Adam step to every parameter from its gradient. */
void fer_adam_step(fer_adam *a, fer_model *m);
/* Adam moments, in fer_model_param order (for checkpoints). */
fer_tensor *fer_adam_moment(fer_adam *a, int param, int second);
void fer_adam_restore(fer_adam *a, int64_t iterations, float lr, float decay);
float fer_adam_decay(const fer_adam *a);

#endif
