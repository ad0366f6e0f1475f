/* Adam with Keras semantics:
 *   lr_t = lr / (1 + decay * iterations)            (legacy time decay)
 *   t = iterations + 1
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr_t * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 * with b1 .9, b2 .999, eps 1e-7 (Keras applies eps to the bias-corrected
 * step in this "epsilon hat" form). */
#include <math.h>
#include <stdlib.h>

#include "nn/model.h"

struct fer_adam {
    float lr, decay;
    int64_t iterations;
    int n;
    fer_tensor *m, *v;
};

static const double B1 = 0.9, B2 = 0.999, EPS = 1e-7;

fer_status fer_adam_new(fer_model *model, float lr, float decay, fer_adam **out, fer_error *err)
{
    *out = NULL;
    if (!(lr > 0 && lr < 10) || !(decay >= 0 && decay < 1e3))
        return fer_fail(err, FER_EINVAL, "adam: learning rate %g or decay %g out of range", lr, decay);
    fer_adam *a = calloc(1, sizeof *a);
    int n = fer_model_param_count(model);
    if (!a || !(a->m = calloc((size_t)n, sizeof *a->m)) || !(a->v = calloc((size_t)n, sizeof *a->v))) {
        fer_adam_free(a);
        return fer_fail(err, FER_ENOMEM, "adam: out of memory");
    }
    a->n = n;
    a->lr = lr;
    a->decay = decay;
    for (int i = 0; i < n; i++) {
        fer_tensor *p = fer_model_param(model, i, NULL, NULL, 0);
        fer_status s;
        if ((s = fer_tensor_alloc(&a->m[i], p->ndim, p->shape, err)) ||
            (s = fer_tensor_alloc(&a->v[i], p->ndim, p->shape, err))) {
            fer_adam_free(a);
            return s;
        }
    }
    *out = a;
    return FER_OK;
}

void fer_adam_free(fer_adam *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->n; i++) {
        fer_tensor_free(&a->m[i]);
        fer_tensor_free(&a->v[i]);
    }
    free(a->m);
    free(a->v);
    free(a);
}

void fer_adam_set_lr(fer_adam *a, float lr) { a->lr = lr; }
float fer_adam_lr(const fer_adam *a) { return a->lr; }
float fer_adam_decay(const fer_adam *a) { return a->decay; }
int64_t fer_adam_iterations(const fer_adam *a) { return a->iterations; }

fer_tensor *fer_adam_moment(fer_adam *a, int param, int second)
{
    return param >= 0 && param < a->n ? (second ? &a->v[param] : &a->m[param]) : NULL;
}

void fer_adam_restore(fer_adam *a, int64_t iterations, float lr, float decay)
{
    a->iterations = iterations;
    a->lr = lr;
    a->decay = decay;
}

void fer_adam_step(fer_adam *a, fer_model *model)
{
    double lr = a->lr / (1.0 + a->decay * (double)a->iterations);
    double t = (double)(++a->iterations);
    float step = (float)(lr * sqrt(1.0 - pow(B2, t)) / (1.0 - pow(B1, t)));
    const float b1 = (float)B1, b2 = (float)B2, eps = (float)EPS;
    for (int i = 0; i < a->n; i++) {
        fer_tensor *g;
        fer_tensor *p = fer_model_param(model, i, &g, NULL, 0);
        float *pm = a->m[i].data, *pv = a->v[i].data, *w = p->data;
        const float *gd = g->data;
        for (size_t k = 0; k < p->size; k++) {
            pm[k] = b1 * pm[k] + (1 - b1) * gd[k];
            pv[k] = b2 * pv[k] + (1 - b2) * gd[k] * gd[k];
            w[k] -= step * pm[k] / (sqrtf(pv[k]) + eps);
        }
    }
}
