/* The sequential model: owns layers, parameters and every buffer a pass
 * needs. Buffers are sized for the largest batch seen so far, so a training
 * loop allocates nothing after its first step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"

enum { PREDICT_CHUNK = 64 }; /* bounds inference memory whatever n is */

const char *const fer_emotion_names[FER_N_EMOTIONS] = {"angry", "disgust", "fear", "happy",
                                                       "sad", "surprise", "neutral"};

int fer_emotion_index(const char *name)
{
    static const char *const alt[FER_N_EMOTIONS] = {"anger", "disgusted", "fearful", "happiness",
                                                    "sadness", "surprised", "calm"};
    for (int i = 0; i < FER_N_EMOTIONS; i++)
        if (name && (!strcasecmp(name, fer_emotion_names[i]) || !strcasecmp(name, alt[i])))
            return i;
    return -1;
}

void fer_preprocess(const uint8_t *px, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)px[i] * (1.0f / 255.0f);
}

static int has_params(const fer_layer *l) { return l->kind == FER_L_CONV || l->kind == FER_L_DENSE; }

int fer_model_param_count(const fer_model *m)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        n += 2 * has_params(&m->layers[i]);
    return n;
}

fer_tensor *fer_model_param(fer_model *m, int i, fer_tensor **grad, char *name, size_t cap)
{
    for (int li = 0; li < m->n_layers; li++) {
        fer_layer *l = &m->layers[li];
        if (!has_params(l))
            continue;
        if (i < 2) {
            if (name)
                snprintf(name, cap, "%d.%s", li, i ? "bias" : "weight");
            if (grad)
                *grad = i ? &l->db : &l->dw;
            return i ? &l->b : &l->w;
        }
        i -= 2;
    }
    return NULL;
}

/* Glorot-uniform weights (Keras' default), zero biases. */
static void init_params(fer_layer *l, fer_rng *rng)
{
    double fan_in, fan_out;
    if (l->kind == FER_L_CONV) {
        fan_in = (double)l->ic * l->k * l->k;
        fan_out = (double)l->oc * l->k * l->k;
    } else {
        fan_in = (double)fer_layer_in_size(l);
        fan_out = l->oc;
    }
    double limit = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < l->w.size; i++)
        l->w.data[i] = (float)((2 * fer_rng_uniform(rng) - 1) * limit);
}

static fer_status alloc_params(fer_model *m, uint64_t seed, fer_error *err)
{
    fer_rng rng;
    fer_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        if (!has_params(l))
            continue;
        int conv[4] = {l->oc, l->ic, l->k, l->k};
        int dense[2] = {(int)fer_layer_in_size(l), l->oc};
        int nd = l->kind == FER_L_CONV ? 4 : 2;
        const int *shape = nd == 4 ? conv : dense;
        fer_status s;
        if ((s = fer_tensor_alloc(&l->w, nd, shape, err)) ||
            (s = fer_tensor_alloc(&l->dw, nd, shape, err)) ||
            (s = fer_tensor_alloc(&l->b, 1, &l->oc, err)) ||
            (s = fer_tensor_alloc(&l->db, 1, &l->oc, err)))
            return s;
        init_params(l, &rng);
    }
    return FER_OK;
}

/* Layers whose output is their input's buffer: flatten (a reshape) and
 * dropout after the first layer (in place: the layer before only needs its
 * output's sign for a ReLU mask, and dropout zeroes gradient and output
 * alike). */
static int aliases_input(const fer_model *m, int i)
{
    fer_layer_kind k = m->layers[i].kind;
    return k == FER_L_FLATTEN || (k == FER_L_DROPOUT && i > 0);
}

/* Where backward puts each layer's input gradient. */
enum { G_NONE = -1, G_BUF0 = 0, G_BUF1 = 1, G_SAME = 2, G_INTO_INPUT = 3 };

/* Layers that write their input gradient over their input (see layers.h):
 * a 2x2 max pool after a convolution, and a convolution after a convolution
 * or a max pool, whose outputs are needed by nothing else by then (the
 * convolution's only for its ReLU mask, which is applied on the way). */
static int into_input(const fer_model *m, int i)
{
    if (i == 0)
        return 0;
    const fer_layer *l = &m->layers[i], *prev = &m->layers[i - 1];
    if (l->kind == FER_L_MAXPOOL)
        return fer_maxpool_in_place(l) && prev->kind == FER_L_CONV;
    return l->kind == FER_L_CONV && (prev->kind == FER_L_CONV || prev->kind == FER_L_MAXPOOL);
}

/* The input of layer i is a ReLU output whose mask into_input applies. */
static int relu_below(const fer_model *m, int i)
{
    return m->layers[i - 1].kind == FER_L_CONV && m->layers[i - 1].act == FER_ACT_RELU;
}

/* Plans backward's gradient buffers: elementwise layers work in place,
 * into_input layers write over their input, the rest alternate between two
 * buffers, and need[b] receives the floats per sample buffer b must hold. */
static void plan_gradients(fer_model *m, size_t need[2])
{
    int cur = G_NONE; /* the logits' gradient has its own buffer */
    need[0] = need[1] = 1;
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const fer_layer *l = &m->layers[i];
        int d;
        if (i == 0)
            d = G_NONE;
        else if (l->kind == FER_L_FLATTEN || l->kind == FER_L_DROPOUT || l->kind == FER_L_RELU)
            d = G_SAME;
        else if (into_input(m, i))
            d = G_INTO_INPUT;
        else {
            d = cur == G_BUF0 ? G_BUF1 : G_BUF0;
            need[d] = fer_layer_in_size(l) > need[d] ? fer_layer_in_size(l) : need[d];
        }
        m->gdst[i] = (signed char)d;
        if (d != G_SAME)
            cur = d;
    }
}

static void free_buffers(fer_model *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        fer_aligned_free(l->mask);
        fer_aligned_free(l->argmax);
        l->mask = NULL;
        l->argmax = NULL;
        if (m->act && !aliases_input(m, i))
            fer_aligned_free(m->act[i]);
    }
    free(m->act);
    free(m->gdst);
    m->act = NULL;
    m->gdst = NULL;
    fer_aligned_free(m->grad[0]);
    fer_aligned_free(m->grad[1]);
    fer_aligned_free(m->probs);
    fer_aligned_free(m->dlogits);
    m->grad[0] = m->grad[1] = m->probs = m->dlogits = NULL;
    m->cap = 0;
}

/* Sizes every activation and gradient buffer for batches of up to n. */
static fer_status reserve(fer_model *m, int n, fer_error *err)
{
    if (n <= m->cap)
        return FER_OK;
    free_buffers(m);
    int ok = (m->act = calloc((size_t)m->n_layers, sizeof *m->act)) != NULL &&
             (m->gdst = calloc((size_t)m->n_layers, sizeof *m->gdst)) != NULL;
    for (int i = 0; ok && i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        size_t out = (size_t)n * fer_layer_out_size(l);
        if (!aliases_input(m, i))
            ok = ok && (m->act[i] = fer_aligned_alloc(out * sizeof(float)));
        if (l->kind == FER_L_DROPOUT)
            ok = ok && (l->mask = fer_aligned_alloc(out));
        if (l->kind == FER_L_MAXPOOL)
            ok = ok && (l->argmax = fer_aligned_alloc(out * sizeof *l->argmax));
    }
    size_t nc = (size_t)n * m->n_classes, need[2];
    if (ok)
        plan_gradients(m, need);
    ok = ok && (m->grad[0] = fer_aligned_alloc((size_t)n * need[0] * sizeof(float))) &&
         (m->grad[1] = fer_aligned_alloc((size_t)n * need[1] * sizeof(float))) &&
         (m->probs = fer_aligned_alloc(nc * sizeof(float))) &&
         (m->dlogits = fer_aligned_alloc(nc * sizeof(float)));
    if (!ok) {
        free_buffers(m);
        return fer_fail(err, FER_ENOMEM, "model: cannot allocate buffers for a batch of %d", n);
    }
    m->cap = n;
    return FER_OK;
}

static void free_scratch(fer_model *m)
{
    for (int t = 0; m->scratch && t < m->threads; t++)
        fer_aligned_free(m->scratch[t]);
    free(m->scratch);
    m->scratch = NULL;
}

fer_status fer_model_set_threads(fer_model *m, int threads, fer_error *err)
{
    if (threads <= 0)
        threads = fer_threads_default();
    free_scratch(m);
    fer_pool_free(m->pool);
    m->pool = NULL;
    fer_status s = fer_pool_new(threads, &m->pool, err);
    if (s)
        return s;
    m->threads = fer_pool_threads(m->pool);
    size_t need = 1;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == FER_L_CONV && fer_conv_scratch(&m->layers[i]) > need)
            need = fer_conv_scratch(&m->layers[i]);
    m->scratch_floats = need;
    if (!(m->scratch = calloc((size_t)m->threads, sizeof *m->scratch)))
        return fer_fail(err, FER_ENOMEM, "model: out of memory");
    for (int t = 0; t < m->threads; t++)
        if (!(m->scratch[t] = fer_aligned_alloc(need * sizeof(float))))
            return fer_fail(err, FER_ENOMEM, "model: cannot allocate thread scratch");
    return FER_OK;
}

fer_status fer_model_from_json(const char *json, uint64_t seed, fer_model **out, fer_error *err)
{
    *out = NULL;
    fer_model *m = calloc(1, sizeof *m);
    if (!m)
        return fer_fail(err, FER_ENOMEM, "model: out of memory");
    fer_status s = json ? fer_arch_parse(json, m, err)
                        : fer_fail(err, FER_EINVAL, "model: no architecture given");
    if (!s)
        s = alloc_params(m, seed, err);
    if (!s)
        s = fer_model_set_threads(m, 0, err);
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
        fer_tensor_free(&m->layers[i].w);
        fer_tensor_free(&m->layers[i].b);
        fer_tensor_free(&m->layers[i].dw);
        fer_tensor_free(&m->layers[i].db);
    }
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
    for (int i = 0; i < m->n_layers; i++)
        n += m->layers[i].w.size + m->layers[i].b.size;
    return n;
}

static fer_exec make_exec(fer_model *m, int n, int train, fer_rng *rng)
{
    fer_exec e = {m->pool, m->threads, m->scratch, m->scratch_floats, n, train, rng};
    return e;
}

/* Runs every layer; returns the logits (the last layer's output). */
static const float *forward(fer_model *m, const fer_exec *e, const float *x)
{
    const float *in = x;
    for (int i = 0; i < m->n_layers; i++) {
        fer_layer *l = &m->layers[i];
        if (aliases_input(m, i))
            m->act[i] = (float *)in;
        float *out = m->act[i];
        switch (l->kind) {
        case FER_L_CONV: fer_conv_forward(l, e, in, out); break;
        case FER_L_DENSE: fer_dense_forward(l, e, in, out); break;
        case FER_L_MAXPOOL: fer_maxpool_forward(l, e, in, out); break;
        case FER_L_DROPOUT: fer_dropout_forward(l, e, in, out); break;
        case FER_L_RELU: fer_relu_forward((size_t)e->n * fer_layer_out_size(l), in, out); break;
        case FER_L_FLATTEN: break;
        }
        in = out;
    }
    return in;
}

/* Back-propagates g (gradient of the logits) and leaves parameter gradients
 * in each layer's dw/db, following plan_gradients. The input's own gradient
 * is never computed. Activations an into_input layer writes its gradient
 * over are lost (they are not needed any more). */
static void backward(fer_model *m, const fer_exec *e, const float *x, float *g)
{
    int masked = 0; /* g already carries this layer's ReLU mask */
    for (int i = m->n_layers - 1; i >= 0; i--) {
        fer_layer *l = &m->layers[i];
        const float *in = i ? m->act[i - 1] : x;
        int d = m->gdst[i];
        float *gx = d == G_NONE ? NULL : d == G_SAME ? g : d == G_INTO_INPUT ? m->act[i - 1]
                                                                             : m->grad[d];
        const float *y = masked ? NULL : m->act[i];
        switch (l->kind) {
        case FER_L_CONV:
            if (d == G_INTO_INPUT)
                fer_conv_backward_into(l, e, gx, y, g, relu_below(m, i));
            else
                fer_conv_backward(l, e, in, y, g, gx);
            break;
        case FER_L_DENSE: fer_dense_backward(l, e, in, y, g, gx); break;
        case FER_L_MAXPOOL:
            if (d == G_INTO_INPUT)
                fer_maxpool_backward_into(l, e, g, relu_below(m, i), gx);
            else if (gx)
                fer_maxpool_backward(l, e, g, gx);
            break;
        case FER_L_DROPOUT: if (gx) fer_dropout_backward(l, e, g, gx); break;
        case FER_L_RELU:
            if (gx)
                fer_relu_backward((size_t)e->n * fer_layer_out_size(l), m->act[i], g, gx);
            break;
        case FER_L_FLATTEN: break;
        }
        masked = d == G_INTO_INPUT;
        g = gx;
    }
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

/* Forward, loss, backward and (with opt) an update; dropout is on only
 * when an rng is given. */
static fer_status step(fer_model *m, fer_adam *opt, fer_rng *rng, const float *x,
                       const int *labels, int n, const float *class_weights, float *loss,
                       int *correct, fer_error *err)
{
    fer_status s = check_batch(m, x, labels, n, err);
    if (s || (s = reserve(m, n, err)))
        return s;
    fer_exec e = make_exec(m, n, rng != NULL, rng);
    const float *logits = forward(m, &e, x);
    float l = fer_softmax_xent(logits, labels, class_weights, n, m->n_classes, m->probs, m->dlogits);
    if (!isfinite(l))
        return fer_fail(err, FER_ERANGE, "model: the loss is not finite (learning rate too high?)");
    if (loss)
        *loss = l;
    if (correct)
        *correct = count_correct(m->probs, labels, n, m->n_classes);
    backward(m, &e, x, m->dlogits);
    if (opt)
        fer_adam_step(opt, m);
    return FER_OK;
}

fer_status fer_model_train_step(fer_model *m, fer_adam *opt, fer_rng *rng, const float *x,
                                const int *labels, int n, const float *class_weights,
                                float *loss, int *correct, fer_error *err)
{
    if (!opt || !rng)
        return fer_fail(err, FER_EINVAL, "model: training needs an optimiser and an rng");
    return step(m, opt, rng, x, labels, n, class_weights, loss, correct, err);
}

fer_status fer_model_gradients(fer_model *m, const float *x, const int *labels, int n, float *loss,
                               fer_error *err)
{
    return step(m, NULL, NULL, x, labels, n, NULL, loss, NULL, err);
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
    for (int i0 = 0; i0 < n; i0 += PREDICT_CHUNK) {
        int b = n - i0 < PREDICT_CHUNK ? n - i0 : PREDICT_CHUNK;
        if ((s = reserve(m, b, err)))
            return s;
        fer_exec e = make_exec(m, b, 0, NULL);
        const float *logits = forward(m, &e, x + i0 * in_sz);
        float *p = probs ? probs + (size_t)i0 * m->n_classes : m->probs;
        if (labels) {
            total += (double)fer_softmax_xent(logits, labels + i0, NULL, b, m->n_classes, p, NULL) * b;
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

fer_status fer_model_paper_cnn(int n_classes, const char *const *class_names, uint64_t seed,
                               fer_model **out, fer_error *err)
{
    *out = NULL;
    if (n_classes < 2 || n_classes > 64 || (!class_names && n_classes > FER_N_EMOTIONS))
        return fer_fail(err, FER_EINVAL, "model: %d classes (2..%d without names)", n_classes,
                        FER_N_EMOTIONS);
    char classes[64 * 72] = "";
    size_t off = 0;
    for (int i = 0; i < n_classes; i++) {
        const char *name = class_names ? class_names[i] : fer_emotion_names[i];
        if (!name || strlen(name) > 63 || strpbrk(name, "\"\\"))
            return fer_fail(err, FER_EINVAL, "model: class %d: needs a short plain name", i);
        off += (size_t)snprintf(classes + off, sizeof classes - off, "%s\"%s\"", i ? "," : "", name);
    }
    char json[8192];
    snprintf(json, sizeof json,
             "{\"input\":[1,48,48],\"classes\":[%s],\"layers\":["
             "{\"type\":\"conv2d\",\"filters\":32,\"kernel\":3,\"padding\":\"valid\",\"activation\":\"relu\"},"
             "{\"type\":\"conv2d\",\"filters\":64,\"kernel\":3,\"padding\":\"valid\",\"activation\":\"relu\"},"
             "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},"
             "{\"type\":\"dropout\",\"rate\":0.25},"
             "{\"type\":\"conv2d\",\"filters\":128,\"kernel\":3,\"padding\":\"valid\",\"activation\":\"relu\"},"
             "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},"
             "{\"type\":\"conv2d\",\"filters\":128,\"kernel\":3,\"padding\":\"valid\",\"activation\":\"relu\"},"
             "{\"type\":\"maxpool2d\",\"size\":2,\"stride\":2},"
             "{\"type\":\"dropout\",\"rate\":0.25},"
             "{\"type\":\"flatten\"},"
             "{\"type\":\"dense\",\"units\":1024,\"activation\":\"relu\"},"
             "{\"type\":\"dropout\",\"rate\":0.5},"
             "{\"type\":\"dense\",\"units\":%d,\"activation\":\"softmax\"}]}",
             classes, n_classes);
    return fer_model_from_json(json, seed, out, err);
}
