/* The optimisers, on a list of (parameter, gradient) pairs.
 *
 * Adam, with Keras semantics:
 *   lr_t = lr / (1 + decay * iterations)            (legacy time decay)
 *   t = iterations + 1
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr_t * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 * with b1 .9, b2 .999, eps 1e-7 (Keras applies eps to the bias-corrected
 * step in this "epsilon hat" form).
 *
 * SGD with momentum, PyTorch's form (no dampening):
 *   v = mu v + g;  p -= lr_t * (nesterov ? g + mu v : v)
 *
 * Both: decoupled weight decay (AdamW, SGDW), p -= lr_t * wd * p before
 * the step, on the parameters marked for it (weights, not biases nor
 * normalisation). */
#include <math.h>
#include <stdlib.h>

#include "nn/layers.h" /* FER_VECTOR_CLONES */
#include "nn/optim.h"

struct fer_optim {
    fer_optim_opts o;
    int64_t iterations;
    int n, n_slots;
    fer_tensor *slot; /* n_slots per parameter: slot[i * n_slots + s] */
};

static const double B1 = 0.9, B2 = 0.999, EPS = 1e-7;

const char *fer_optim_kind_name(fer_optim_kind kind) { return kind == FER_SGD ? "sgd" : "adam"; }

void fer_optim_opts_default(fer_optim_opts *o, fer_optim_kind kind)
{
    *o = (fer_optim_opts){.kind = kind, .lr = kind == FER_SGD ? 0.01f : 0.001f};
    if (kind == FER_SGD)
        o->momentum = 0.9f, o->nesterov = 1;
}

fer_status fer_optim_opts_check(const fer_optim_opts *o, fer_error *err)
{
    if (o->kind != FER_ADAM && o->kind != FER_SGD)
        return fer_fail(err, FER_EINVAL, "optimiser: unknown kind %d", (int)o->kind);
    if (!(o->lr > 0 && o->lr < 10) || !(o->decay >= 0 && o->decay < 1e3))
        return fer_fail(err, FER_EINVAL, "optimiser: learning rate %g or decay %g out of range "
                        "((0, 10) and [0, 1000))", o->lr, o->decay);
    if (!(o->momentum >= 0 && o->momentum < 1) || !(o->weight_decay >= 0 && o->weight_decay < 1))
        return fer_fail(err, FER_EINVAL, "optimiser: momentum %g or weight decay %g outside [0, 1)",
                        o->momentum, o->weight_decay);
    return FER_OK;
}

fer_status fer_optim_create(const fer_optim_opts *opts, const fer_param *params, int n,
                            fer_optim **out, fer_error *err)
{
    *out = NULL;
    fer_status s = fer_optim_opts_check(opts, err);
    if (s)
        return s;
    fer_optim *o = calloc(1, sizeof *o);
    int slots = opts->kind == FER_SGD ? 1 : 2;
    if (!o || !(o->slot = calloc((size_t)n * (size_t)slots + 1, sizeof *o->slot))) {
        free(o);
        return fer_fail(err, FER_ENOMEM, "optimiser: out of memory");
    }
    o->o = *opts;
    if (o->o.kind == FER_ADAM)
        o->o.momentum = 0, o->o.nesterov = 0;
    o->n = n;
    o->n_slots = slots;
    for (int i = 0; i < n * slots; i++) {
        const fer_tensor *p = params[i / slots].value;
        if ((s = fer_tensor_alloc(&o->slot[i], p->ndim, p->shape, err))) {
            fer_optim_free(o);
            return s;
        }
    }
    *out = o;
    return FER_OK;
}

void fer_optim_free(fer_optim *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n * o->n_slots; i++)
        fer_tensor_free(&o->slot[i]);
    free(o->slot);
    free(o);
}

fer_status fer_optim_set_lr(fer_optim *o, float lr, fer_error *err)
{
    fer_optim_opts t = o->o;
    t.lr = lr;
    fer_status s = fer_optim_opts_check(&t, err);
    if (!s)
        o->o.lr = lr;
    return s;
}

float fer_optim_lr(const fer_optim *o) { return o->o.lr; }
int64_t fer_optim_iterations(const fer_optim *o) { return o->iterations; }
void fer_optim_get_opts(const fer_optim *o, fer_optim_opts *out) { *out = o->o; }
void fer_optim_set_iterations(fer_optim *o, int64_t iterations) { o->iterations = iterations; }
int fer_optim_n_slots(const fer_optim *o) { return o->n_slots; }

const char *fer_optim_slot_prefix(const fer_optim *o, int slot)
{
    if (o->o.kind == FER_SGD)
        return "sgd.v.";
    return slot ? "adam.v." : "adam.m.";
}

fer_tensor *fer_optim_slot(fer_optim *o, int param, int slot)
{
    return param >= 0 && param < o->n && slot >= 0 && slot < o->n_slots
               ? &o->slot[param * o->n_slots + slot]
               : NULL;
}

static void weight_decay(const fer_param *p, float f)
{
    float *w = p->value->data;
    for (size_t k = 0; k < p->value->size; k++)
        w[k] -= f * w[k];
}

/* The element updates, in AVX2 and AVX-512 copies: each element's
 * arithmetic is the same in every copy (sqrt and division are exact in
 * IEEE 754, and -fno-math-errno lets them vectorise), so the results are. */
FER_VECTOR_CLONES
static void adam_update(size_t n, float *restrict w, float *restrict m, float *restrict v,
                        const float *restrict g, float b1, float b2, float eps, float step)
{
    for (size_t k = 0; k < n; k++) {
        m[k] = b1 * m[k] + (1 - b1) * g[k];
        v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
        w[k] -= step * m[k] / (sqrtf(v[k]) + eps);
    }
}

FER_VECTOR_CLONES
static void sgd_update(size_t n, float *restrict w, float *restrict v, const float *restrict g,
                       float mu, float a, int nesterov)
{
    if (nesterov)
        for (size_t k = 0; k < n; k++) {
            v[k] = mu * v[k] + g[k];
            w[k] -= a * (g[k] + mu * v[k]);
        }
    else
        for (size_t k = 0; k < n; k++) {
            v[k] = mu * v[k] + g[k];
            w[k] -= a * v[k];
        }
}

static void adam_step(fer_optim *o, const fer_param *params, double lr)
{
    double t = (double)o->iterations;
    float step = (float)(lr * sqrt(1.0 - pow(B2, t)) / (1.0 - pow(B1, t)));
    const float b1 = (float)B1, b2 = (float)B2, eps = (float)EPS;
    for (int i = 0; i < o->n; i++) {
        const fer_param *p = &params[i];
        if (o->o.weight_decay > 0 && p->decay)
            weight_decay(p, (float)(lr * o->o.weight_decay));
        adam_update(p->value->size, p->value->data, o->slot[2 * i].data, o->slot[2 * i + 1].data,
                    p->grad->data, b1, b2, eps, step);
    }
}

static void sgd_step(fer_optim *o, const fer_param *params, double lr)
{
    const float mu = o->o.momentum, a = (float)lr;
    for (int i = 0; i < o->n; i++) {
        const fer_param *p = &params[i];
        if (o->o.weight_decay > 0 && p->decay)
            weight_decay(p, (float)(lr * o->o.weight_decay));
        sgd_update(p->value->size, p->value->data, o->slot[i].data, p->grad->data, mu, a,
                   o->o.nesterov);
    }
}

void fer_optim_step(fer_optim *o, const fer_param *params)
{
    double lr = o->o.lr / (1.0 + o->o.decay * (double)o->iterations);
    o->iterations++;
    if (o->o.kind == FER_SGD)
        sgd_step(o, params, lr);
    else
        adam_step(o, params, lr);
}
