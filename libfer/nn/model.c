/* The model: owns its graph's nodes, parameters and every buffer a pass
 * needs. Buffers are sized for the largest batch seen so far, so a
 * training loop allocates nothing after its first step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "nn/winograd.h"

enum { PREDICT_CHUNK = 64 }; /* bounds inference memory whatever n is */

int fer_model_param_count(const fer_model *m) { return m->n_params; }

fer_tensor *fer_model_param(fer_model *m, int i, fer_tensor **grad, char *name, size_t cap)
{
    if (i < 0 || i >= m->n_params)
        return NULL;
    if (name)
        snprintf(name, cap, "%s", m->params[i].name);
    if (grad)
        *grad = m->params[i].grad;
    m->weights_gen++; /* the caller may write it */
    return m->params[i].value;
}

/* Every node's tensors, initialised in file order from one generator (or
 * left at zero when !init), and listed: the trainable ones in params, the
 * rest in buffers. */
static fer_status alloc_params(fer_model *m, int init, uint64_t seed, fer_error *err)
{
    fer_rng rng;
    fer_rng_seed(&rng, seed);
    int total = 0;
    for (int i = 0; i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        fer_status s = l->ops->alloc ? l->ops->alloc(l, err) : FER_OK;
        if (s)
            return s;
        if (init && l->ops->init)
            l->ops->init(l, &rng);
        total += l->n_p;
    }
    m->params = calloc((size_t)total + 1, sizeof *m->params);
    m->buffers = calloc((size_t)total + 1, sizeof *m->buffers);
    if (!m->params || !m->buffers)
        return fer_fail(err, FER_ENOMEM, "model: out of memory");
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i].n_p; k++) {
            const fer_layer_param *lp = &m->layers[i].p[k];
            fer_param *p = lp->grad ? &m->params[m->n_params++] : &m->buffers[m->n_buffers++];
            *p = (fer_param){lp->value, lp->grad, lp->decay, ""};
            snprintf(p->name, sizeof p->name, "%d.%s", i, lp->suffix);
        }
    return FER_OK;
}

/* The gradient buffers, which only passes that go backward need. */
static void free_grads(fer_model *m)
{
    for (int b = 0; m->gbuf && b < m->plan.n_bufs; b++)
        fer_aligned_free(m->gbuf[b]);
    free(m->gbuf);
    m->gbuf = NULL;
    fer_aligned_free(m->dlogits);
    m->dlogits = NULL;
    m->grad_cap = 0;
}

static void free_buffers(fer_model *m)
{
    free_grads(m);
    for (int i = 0; i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        if (l->ops && l->ops->release)
            l->ops->release(l);
        if (m->act && !m->act_bufs && !m->plan.shares[i])
            fer_aligned_free(m->act[i]);
    }
    for (int b = 0; m->act_bufs && b < m->plan.n_act_bufs; b++)
        fer_aligned_free(m->act_bufs[b]);
    free(m->act_bufs);
    free(m->act);
    m->act = m->act_bufs = NULL;
    fer_aligned_free(m->probs);
    m->probs = NULL;
    m->cap = 0;
}

static void free_scratch(fer_model *m)
{
    for (int t = 0; m->scratch && t < m->threads; t++)
        fer_aligned_free(m->scratch[t]);
    free(m->scratch);
    m->scratch = NULL;
    m->scratch_floats = 0;
}

/* Per-thread scratch for a pass, forward only or with backward (which asks
 * for more: a model that only infers never holds the training size). */
static fer_status reserve_scratch(fer_model *m, int backward, fer_error *err)
{
    size_t need = 1;
    for (int i = 0; i < m->n_layers; i++) {
        const fer_layer *l = &m->layers[i];
        size_t s = l->ops->scratch ? l->ops->scratch(l, backward) : 0;
        need = s > need ? s : need;
    }
    if (need <= m->scratch_floats)
        return FER_OK;
    free_scratch(m);
    if (!(m->scratch = calloc((size_t)m->threads, sizeof *m->scratch)))
        return fer_fail(err, FER_ENOMEM, "model: out of memory");
    for (int t = 0; t < m->threads; t++)
        if (!(m->scratch[t] = fer_aligned_alloc(need * sizeof(float)))) {
            free_scratch(m);
            return fer_fail(err, FER_ENOMEM, "model: cannot allocate thread scratch");
        }
    m->scratch_floats = need;
    return FER_OK;
}

/* The activations for batches of up to n: one buffer a node for a pass
 * that goes backward (which reads them all), else (pooled) the inference
 * plan's, and the layers' own buffers, which inference does not need. */
static int alloc_act(fer_model *m, int n, int pooled)
{
    const fer_plan *p = &m->plan;
    if (!(m->act = calloc((size_t)m->n_layers, sizeof *m->act)))
        return 0;
    if (pooled && !(m->act_bufs = calloc((size_t)p->n_act_bufs, sizeof *m->act_bufs)))
        return 0;
    for (int b = 0; pooled && b < p->n_act_bufs; b++)
        if (!(m->act_bufs[b] = fer_aligned_alloc((size_t)n * p->act_need[b] * sizeof(float))))
            return 0;
    for (int i = 0; i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        if (!p->shares[i])
            m->act[i] = pooled ? m->act_bufs[p->act_buf[i]]
                               : fer_aligned_alloc((size_t)n * fer_layer_out_size(l) * sizeof(float));
        if ((!p->shares[i] && !m->act[i]) || (l->ops->reserve && l->ops->reserve(l, n, !pooled)))
            return 0;
    }
    return (m->probs = fer_aligned_alloc((size_t)n * m->n_classes * sizeof(float))) != NULL;
}

/* Sizes the activations (and, for backward, the gradient buffers) and the
 * scratch for batches of up to n. */
static fer_status reserve(fer_model *m, int n, int backward, fer_error *err)
{
    fer_status s = reserve_scratch(m, backward, err);
    if (s)
        return s;
    int ok = 1, pooled = !backward && !(n <= m->cap && !m->act_bufs);
    if (n > m->cap || pooled != (m->act_bufs != NULL)) {
        free_buffers(m);
        ok = alloc_act(m, n, pooled);
        m->cap = ok ? n : 0;
    }
    if (ok && backward && n > m->grad_cap) {
        free_grads(m);
        ok = (m->gbuf = calloc((size_t)m->plan.n_bufs + 1, sizeof *m->gbuf)) != NULL;
        for (int b = 0; ok && b < m->plan.n_bufs; b++)
            ok = (m->gbuf[b] = fer_aligned_alloc((size_t)n * m->plan.need[b] * sizeof(float))) != NULL;
        ok = ok && (m->dlogits = fer_aligned_alloc((size_t)n * m->n_classes * sizeof(float)));
        m->grad_cap = ok ? n : 0;
    }
    if (!ok) {
        free_buffers(m);
        return fer_fail(err, FER_ENOMEM, "model: cannot allocate buffers for a batch of %d", n);
    }
    return FER_OK;
}

fer_status fer_model_set_threads(fer_model *m, int threads, fer_error *err)
{
    if (threads <= 0)
        threads = fer_threads_default();
    free_scratch(m); /* made again, for the new count, by the next pass */
    fer_pool_free(m->pool);
    m->pool = NULL;
    fer_status s = fer_pool_new(threads, &m->pool, err);
    if (s)
        return s;
    m->threads = fer_pool_threads(m->pool);
    return FER_OK;
}

static fer_status build(const char *json, int init, uint64_t seed, fer_model **out,
                        fer_error *err)
{
    *out = NULL;
    fer_model *m = calloc(1, sizeof *m);
    if (!m)
        return fer_fail(err, FER_ENOMEM, "model: out of memory");
    fer_status s = json ? fer_arch_parse(json, m, err)
                        : fer_fail(err, FER_EINVAL, "model: no architecture given");
    if (!s)
        s = alloc_params(m, init, seed, err);
    if (!s)
        s = fer_graph_plan(m, err);
    if (!s)
        s = fer_model_set_threads(m, 0, err);
    if (s) {
        fer_model_free(m);
        return s;
    }
    *out = m;
    return FER_OK;
}

fer_status fer_model_from_json(const char *json, uint64_t seed, fer_model **out, fer_error *err)
{
    return build(json, 1, seed, out, err);
}

fer_status fer_model_from_json_bare(const char *json, fer_model **out, fer_error *err)
{
    return build(json, 0, 0, out, err);
}

fer_status fer_model_share(const fer_model *src, fer_model **out, fer_error *err)
{
    if (!src || !out)
        return fer_fail(err, FER_EINVAL, "fer_model_share: NULL argument");
    fer_model *m;
    fer_status s = fer_model_from_json_bare(src->arch_json, &m, err);
    if (!s)
        s = fer_model_set_threads(m, src->threads, err);
    if (s) {
        fer_model_free(m);
        return s;
    }
    /* The same list in the same order: point each tensor at src's, drop gradients. */
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i].n_p; k++) {
            fer_layer_param *p = &m->layers[i].p[k];
            const fer_tensor *from = src->layers[i].p[k].value;
            fer_tensor_free(p->value);
            *p->value = fer_tensor_view(from->data, from->ndim, from->shape);
            fer_tensor_free(p->grad);
        }
    m->shared = 1;
    m->src = src;
    /* Its own generation stays 0, so its layers' is src's (hand_gen) and
     * src's Winograd weights, made here once, serve it too: one copy for
     * all the models that share them. src's layers are written only here
     * (made at src's generation, kept until src is freed), read by all
     * afterwards. */
    for (int i = 0; i < m->n_layers && !s; i++)
        if (m->layers[i].ops == &fer_conv_ops &&
            !fer_winograd_lend((fer_layer *)&src->layers[i], src->weights_gen, &m->layers[i]))
            s = fer_fail(err, FER_ENOMEM, "fer_model_share: out of memory for the Winograd weights");
    if (s) {
        fer_model_free(m);
        return s;
    }
    *out = m;
    return FER_OK;
}

void fer_model_free(fer_model *m)
{
    if (!m)
        return;
    free_buffers(m);
    free_scratch(m);
    fer_pool_free(m->pool);
    for (int i = 0; i < m->n_layers; i++) {
        fer_winograd_release(&m->layers[i]); /* the model's lifetime, not a batch's */
        for (int k = 0; k < m->layers[i].n_p; k++) {
            fer_tensor_free(m->layers[i].p[k].value);
            fer_tensor_free(m->layers[i].p[k].grad);
        }
    }
    fer_graph_plan_free(&m->plan);
    free(m->params);
    free(m->buffers);
    free(m->layers);
    for (int i = 0; m->classes && i < m->n_classes; i++)
        free(m->classes[i]);
    free(m->classes);
    free(m->arch_json);
    free(m);
}

const char *fer_model_arch_json(const fer_model *m) { return m->arch_json; }
int fer_model_n_classes(const fer_model *m) { return m->n_classes; }
const char *fer_model_class_name(const fer_model *m, int i)
{
    return i >= 0 && i < m->n_classes ? m->classes[i] : NULL;
}

void fer_model_input_shape(const fer_model *m, int *c, int *h, int *w)
{
    *c = m->in_c, *h = m->in_h, *w = m->in_w;
}

size_t fer_model_n_params(const fer_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n_params; i++)
        n += m->params[i].value->size;
    return n;
}

/* The layers' caches derived from the weights (Winograd's) follow this;
 * a shared model's parameters move with its source's. */
static void hand_gen(fer_model *m)
{
    unsigned gen = m->weights_gen + (m->src ? m->src->weights_gen : 0);
    for (int i = 0; i < m->n_layers; i++)
        m->layers[i].weights_gen = gen;
}

static fer_exec make_exec(fer_model *m, int n, int train, fer_rng *rng)
{
    fer_exec e = {m->pool, m->threads, m->scratch, n, train, rng != NULL, rng};
    return e;
}

static fer_status check_batch(const fer_model *m, const float *x, const int *labels, int n,
                              fer_error *err)
{
    if (!x || n <= 0)
        return fer_fail(err, FER_EINVAL, "model: empty batch");
    for (int i = 0; labels && i < n; i++)
        if (labels[i] < 0 || labels[i] >= m->n_classes)
            return fer_fail(err, FER_EINVAL, "model: label %d of sample %d is not a class (0..%d)",
                            labels[i], i, m->n_classes - 1);
    return FER_OK;
}

static int count_correct(const float *probs, const int *labels, int n, int c)
{
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * c;
        int best = 0;
        for (int k = 1; k < c; k++)
            best = p[k] > p[best] ? k : best;
        correct += best == labels[i];
    }
    return correct;
}

/* Each target row a distribution over the classes (to within float sums). */
static fer_status check_targets(const fer_model *m, const float *t, int n, fer_error *err)
{
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int k = 0; k < m->n_classes; k++) {
            float v = t[(size_t)i * m->n_classes + k];
            if (!(v >= 0 && v <= 1))
                return fer_fail(err, FER_EINVAL, "model: target %d of sample %d is %g, not a "
                                "probability", k, i, (double)v);
            sum += v;
        }
        if (fabs(sum - 1) > 1e-3)
            return fer_fail(err, FER_EINVAL, "model: the targets of sample %d sum to %g, not 1",
                            i, sum);
    }
    return FER_OK;
}

/* Forward, loss and backward, with batch statistics; dropout is on, and
 * the running statistics move, only when an rng is given. */
fer_status fer_model_forward_backward(fer_model *m, fer_rng *rng, const float *x,
                                      const int *labels, const float *targets, int n,
                                      const float *class_weights, float *loss, int *correct,
                                      fer_error *err)
{
    fer_status s = check_batch(m, x, labels, n, err);
    if (!s && targets)
        s = check_targets(m, targets, n, err);
    if (!s && m->shared)
        s = fer_fail(err, FER_EINVAL, "model: it shares another model's parameters (inference only)");
    if (s || (s = reserve(m, n, 1, err)))
        return s;
    hand_gen(m);
    fer_exec e = make_exec(m, n, 1, rng);
    const float *logits = fer_graph_forward(m, &e, x);
    float l = targets ? fer_softmax_xent_soft(logits, targets, n, m->n_classes, m->probs,
                                              m->dlogits)
                      : fer_softmax_xent(logits, labels, class_weights, m->smoothing, n,
                                         m->n_classes, m->probs, m->dlogits);
    if (!isfinite(l))
        return fer_fail(err, FER_ERANGE, "model: the loss is not finite (learning rate too high?)");
    if (loss)
        *loss = l;
    if (correct)
        *correct = labels ? count_correct(m->probs, labels, n, m->n_classes) : 0;
    fer_graph_backward(m, &e, x, m->dlogits);
    return FER_OK;
}

fer_status fer_model_gradients(fer_model *m, const float *x, const int *labels, int n, float *loss,
                               fer_error *err)
{
    return fer_model_forward_backward(m, NULL, x, labels, NULL, n, NULL, loss, NULL, err);
}

fer_status fer_model_set_label_smoothing(fer_model *m, float s, fer_error *err)
{
    if (!(s >= 0 && s < 1))
        return fer_fail(err, FER_EINVAL, "model: label smoothing %g is outside [0, 1)", s);
    m->smoothing = s;
    return FER_OK;
}

fer_status fer_model_evaluate(fer_model *m, const float *x, const int *labels, int n,
                              float *loss_sum, int *correct, float *probs, fer_error *err)
{
    fer_status s = check_batch(m, x, labels, n, err);
    if (s)
        return s;
    size_t in_sz = (size_t)m->in_c * m->in_h * m->in_w;
    double total = 0;
    int right = 0;
    hand_gen(m);
    for (int i0 = 0; i0 < n; i0 += PREDICT_CHUNK) {
        int b = n - i0 < PREDICT_CHUNK ? n - i0 : PREDICT_CHUNK;
        if ((s = reserve(m, b, 0, err)))
            return s;
        fer_exec e = make_exec(m, b, 0, NULL);
        const float *logits = fer_graph_forward(m, &e, x + i0 * in_sz);
        float *p = probs ? probs + (size_t)i0 * m->n_classes : m->probs;
        if (labels) {
            total += (double)fer_softmax_xent(logits, labels + i0, NULL, 0, b, m->n_classes, p, NULL) * b;
            right += count_correct(p, labels + i0, b, m->n_classes);
        } else {
            fer_softmax(logits, b, m->n_classes, p);
        }
    }
    if (loss_sum)
        *loss_sum = (float)total;
    if (correct)
        *correct = right;
    return FER_OK;
}

fer_status fer_model_predict(fer_model *m, const float *x, int n, float *probs, fer_error *err)
{
    if (!probs)
        return fer_fail(err, FER_EINVAL, "model: no output buffer");
    return fer_model_evaluate(m, x, NULL, n, NULL, NULL, probs, err);
}
