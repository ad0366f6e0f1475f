/* Training ties a model to an optimiser: the optimiser gets the model's
 * parameter list, and a step is the model's forward and backward, then
 * the update. Neither model.c nor optim.c knows the other. */
#include "nn/model.h"

fer_status fer_optim_new(fer_model *m, const fer_optim_opts *o, fer_optim **out, fer_error *err)
{
    if (m->shared) {
        *out = NULL;
        return fer_fail(err, FER_EINVAL, "model: it shares another model's parameters (inference only)");
    }
    return fer_optim_create(o, m->params, m->n_params, out, err);
}

static fer_status step(fer_model *m, fer_optim *opt, fer_rng *rng, const float *x,
                       const int *labels, const float *targets, int n,
                       const float *class_weights, float *loss, int *correct, fer_error *err)
{
    if (!opt || !rng)
        return fer_fail(err, FER_EINVAL, "model: training needs an optimiser and an rng");
    fer_status s = fer_model_forward_backward(m, rng, x, labels, targets, n, class_weights, loss,
                                              correct, err);
    if (!s) {
        fer_optim_step(opt, m->params);
        m->weights_gen++;
    }
    return s;
}

fer_status fer_model_train_step(fer_model *m, fer_optim *opt, fer_rng *rng, const float *x,
                                const int *labels, int n, const float *class_weights,
                                float *loss, int *correct, fer_error *err)
{
    if (!labels)
        return fer_fail(err, FER_EINVAL, "model: no labels");
    return step(m, opt, rng, x, labels, NULL, n, class_weights, loss, correct, err);
}

fer_status fer_model_train_step_soft(fer_model *m, fer_optim *opt, fer_rng *rng, const float *x,
                                     const float *targets, const int *labels, int n, float *loss,
                                     int *correct, fer_error *err)
{
    if (!targets)
        return fer_fail(err, FER_EINVAL, "model: no targets");
    return step(m, opt, rng, x, labels, targets, n, NULL, loss, correct, err);
}
