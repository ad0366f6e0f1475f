/* Core: every layer's forward against a plain loop, every gradient against
 * finite differences, Adam against its formula, the paper CNN overfitting a
 * small set, and the weights file round trip and corruption handling. */
#include "gradcheck.h"

#include <cJSON.h>

#include "nn/model.h"

START_TEST(grad_conv_valid_dense)
{
    check_gradients("{\"input\":[2,7,6],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
                    "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":3,\"activation\":\"relu\"},"
                    "{\"type\":\"flatten\"},"
                    "{\"type\":\"dense\",\"units\":5,\"activation\":\"relu\"},"
                    "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}", 5, 0, 11);
}
END_TEST

START_TEST(grad_conv_same_even_kernel)
{
    check_gradients("{\"input\":[1,6,5],\"classes\":[\"a\",\"b\"],\"layers\":["
                    "{\"type\":\"conv2d\",\"filters\":2,\"kernel\":2,\"padding\":\"same\"},"
                    "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
                    "{\"type\":\"flatten\"},"
                    "{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}", 3, 0, 12);
}
END_TEST

START_TEST(grad_maxpool_relu_dropout)
{
    check_gradients("{\"input\":[2,11,10],\"classes\":[\"a\",\"b\",\"c\",\"d\"],\"layers\":["
                    "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":3},"
                    "{\"type\":\"maxpool2d\",\"size\":3,\"stride\":2},"
                    "{\"type\":\"relu\"},"
                    "{\"type\":\"dropout\",\"rate\":0.5},"
                    "{\"type\":\"conv2d\",\"filters\":4,\"kernel\":2,\"activation\":\"relu\"},"
                    "{\"type\":\"maxpool2d\",\"size\":2},"
                    "{\"type\":\"flatten\"},"
                    "{\"type\":\"dense\",\"units\":4,\"activation\":\"softmax\"}]}", 4, 0, 13);
}
END_TEST

START_TEST(grad_loss_weighted)
{
    enum { N = 3, C = 4 };
    float z[N * C], p[N * C], d[N * C], cw[C] = {0.5f, 2, 1, 3};
    int y[N] = {2, 0, 3};
    fer_rng r;
    fer_rng_seed(&r, 5);
    tu_fill_uniform(&r, z, N * C, -3, 3);
    fer_softmax_xent(z, y, cw, 0, N, C, p, d);
    for (int k = 0; k < N * C; k++) {
        float keep = z[k], eps = 1e-3f, q[N * C];
        z[k] = keep + eps;
        double lp = fer_softmax_xent(z, y, cw, 0, N, C, q, NULL);
        z[k] = keep - eps;
        double lm = fer_softmax_xent(z, y, cw, 0, N, C, q, NULL);
        z[k] = keep;
        ck_assert_msg(fabs((lp - lm) / (2 * eps) - d[k]) < 1e-3, "logit %d", k);
    }
    /* stable for huge logits */
    float big[2] = {1000, -1000}, pb[2];
    int yb = 1;
    float l = fer_softmax_xent(big, &yb, NULL, 0, 1, 2, pb, NULL);
    ck_assert(isfinite(l) && fabsf(l - 2000) < 1e-2f && pb[0] == 1.0f);
}
END_TEST

/* ---------------------------------------------- forward vs plain loops */

static void conv_ref(const fer_layer *l, const float *x, float *y)
{
    for (int o = 0; o < l->oc; o++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                double s = l->b.data[o];
                for (int c = 0; c < l->ic; c++)
                    for (int ky = 0; ky < l->k; ky++)
                        for (int kx = 0; kx < l->k; kx++) {
                            int iy = oy + ky - l->pad, ix = ox + kx - l->pad;
                            if (iy >= 0 && iy < l->ih && ix >= 0 && ix < l->iw)
                                s += (double)l->w.data[((o * l->ic + c) * l->k + ky) * l->k + kx] *
                                     x[(c * l->ih + iy) * l->iw + ix];
                        }
                if (l->act == FER_ACT_RELU && s < 0)
                    s = 0;
                y[(o * l->oh + oy) * l->ow + ox] = (float)s;
            }
}

static void dense_ref(const fer_layer *l, const float *x, float *y)
{
    int in = (int)fer_layer_in_size(l);
    for (int o = 0; o < l->oc; o++) {
        double s = l->b.data[o];
        for (int i = 0; i < in; i++)
            s += (double)x[i] * l->w.data[(size_t)i * l->oc + o];
        y[o] = (float)(l->act == FER_ACT_RELU && s < 0 ? 0 : s);
    }
}

static void pool_ref(const fer_layer *l, const float *x, float *y)
{
    for (int c = 0; c < l->oc; c++)
        for (int oy = 0; oy < l->oh; oy++)
            for (int ox = 0; ox < l->ow; ox++) {
                float mx = -INFINITY;
                for (int dy = 0; dy < l->size; dy++)
                    for (int dx = 0; dx < l->size; dx++) {
                        float v = x[(c * l->ih + oy * l->stride + dy) * l->iw + ox * l->stride + dx];
                        mx = v > mx ? v : mx;
                    }
                y[(c * l->oh + oy) * l->ow + ox] = mx;
            }
}

START_TEST(forward_matches_plain_loops)
{
    fer_model *m = model_from("{\"input\":[3,13,11],\"classes\":[\"a\",\"b\"],\"layers\":["
                              "{\"type\":\"conv2d\",\"filters\":5,\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
                              "{\"type\":\"conv2d\",\"filters\":7,\"kernel\":4},"
                              "{\"type\":\"maxpool2d\",\"size\":3,\"stride\":2},"
                              "{\"type\":\"flatten\"},"
                              "{\"type\":\"dense\",\"units\":9,\"activation\":\"relu\"},"
                              "{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}", 3);
    enum { N = 5 };
    fer_rng r;
    fer_rng_seed(&r, 9);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].b.data)
            tu_fill_uniform(&r, m->layers[i].b.data, m->layers[i].b.size, -0.3f, 0.3f);
    size_t in = 3 * 13 * 11;
    float *x = malloc(N * in * sizeof *x);
    tu_fill_uniform(&r, x, N * in, -1, 1);
    float probs[N * 2];
    int y[N] = {0};
    for (int threads = 1; threads <= 3; threads++) {
        fer_model_set_threads(m, threads, NULL);
        /* a pass with backward first, so that predict runs in a buffer a
         * node (inference alone reuses them) and every layer's output stays */
        ck_assert(fer_model_gradients(m, x, y, N, NULL, NULL) == FER_OK);
        ck_assert(fer_model_predict(m, x, N, probs, NULL) == FER_OK);
        ck_assert(m->act_bufs == NULL);
        const float *a = x;
        for (int li = 0; li < m->n_layers; li++) {
            fer_layer *l = &m->layers[li];
            size_t out = fer_layer_out_size(l);
            float *ref = malloc(out * sizeof *ref);
            for (int i = 0; i < N; i++) {
                const float *xi = a + i * fer_layer_in_size(l);
                if (l->ops == &fer_conv_ops)
                    conv_ref(l, xi, ref);
                else if (l->ops == &fer_dense_ops)
                    dense_ref(l, xi, ref);
                else if (l->ops == &fer_maxpool_ops)
                    pool_ref(l, xi, ref);
                else
                    memcpy(ref, xi, out * sizeof *ref);
                float d = tu_max_abs_diff(ref, m->act[li] + i * out, out);
                ck_assert_msg(d < 1e-4f, "layer %d sample %d threads %d: %g", li, i, threads, d);
            }
            free(ref);
            a = m->act[li];
        }
    }
    for (int i = 0; i < N; i++)
        ck_assert(fabsf(probs[2 * i] + probs[2 * i + 1] - 1) < 1e-5f);
    free(x);
    fer_model_free(m);
}
END_TEST

START_TEST(dropout_masks_and_scales)
{
    fer_layer l = {.ops = &fer_dropout_ops, .ic = 1000, .ih = 1, .iw = 1, .oc = 1000, .oh = 1, .ow = 1,
                   .rate = 0.25f};
    float x[2000], y[2000], dy[2000], dx[2000];
    l.mask = malloc(sizeof x);
    fer_rng r;
    fer_rng_seed(&r, 1);
    fer_exec e = {.n = 2, .train = 1, .rng = &r, .threads = 1};
    for (int i = 0; i < 2000; i++)
        x[i] = 1, dy[i] = 2;
    l.ops->forward(&l, &e, (const float *const[]){x}, y);
    l.ops->backward(&l, &e, (const float *const[]){NULL}, NULL, dy, (float *const[]){dx});
    int kept = 0;
    for (int i = 0; i < 2000; i++) {
        ck_assert(y[i] == 0 || fabsf(y[i] - 1 / 0.75f) < 1e-6f);
        ck_assert(dx[i] == 2 * y[i]);
        kept += y[i] != 0;
    }
    ck_assert_int_gt(kept, 1400);
    ck_assert_int_lt(kept, 1600);
    e.rng = NULL; /* evaluation */
    l.ops->forward(&l, &e, (const float *const[]){x}, y);
    ck_assert(y[17] == 1 && y[1999] == 1);
    free(l.mask);
}
END_TEST

/* ------------------------------------------------------------------ Adam */

START_TEST(adam_step_by_hand)
{
    fer_model *m = model_from("{\"input\":[1,1,2],\"classes\":[\"a\",\"b\"],\"layers\":["
                              "{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}", 1);
    fer_optim *a;
    ck_assert(tu_adam(m, 0.1f, 0.5f, &a, NULL) == FER_OK);
    fer_tensor *g, *w = fer_model_param(m, 0, &g, NULL, 0);
    double p[4], mm[4] = {0}, vv[4] = {0};
    for (int t = 1; t <= 3; t++) {
        for (int k = 0; k < 4; k++) {
            g->data[k] = 0.3f * (float)(k + 1) * (t == 2 ? -1 : 1);
            p[k] = w->data[k];
        }
        fer_tensor *gb;
        fer_model_param(m, 1, &gb, NULL, 0);
        memset(gb->data, 0, gb->size * sizeof(float));
        fer_optim_step(a, m->params);
        double lr = 0.1 / (1 + 0.5 * (t - 1));
        for (int k = 0; k < 4; k++) {
            mm[k] = 0.9 * mm[k] + 0.1 * g->data[k];
            vv[k] = 0.999 * vv[k] + 0.001 * g->data[k] * g->data[k];
            double want = p[k] - lr * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t)) * mm[k] /
                                     (sqrt(vv[k]) + 1e-7);
            ck_assert_msg(fabs(w->data[k] - want) < 1e-6, "t %d k %d: %g vs %g", t, k,
                          w->data[k], want);
        }
    }
    ck_assert_int_eq(fer_optim_iterations(a), 3);
    fer_optim_free(a);
    fer_model_free(m);
}
END_TEST

static const char TINY[] = "{\"input\":[1,4,4],\"classes\":[\"a\",\"b\"],\"layers\":["
                           "{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":2,"
                           "\"activation\":\"softmax\"}]}";

/* ------------------------------------------------- soft targets */

/* One plain SGD step (no momentum) of a model copy against labels or targets. */
static fer_model *sgd_once(const float *x, const int *labels, const float *targets, int n,
                           float *loss)
{
    fer_model *m = model_from("{\"input\":[1,4,4],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
                              "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":3,\"activation\":\"relu\"},"
                              "{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":3,"
                              "\"activation\":\"softmax\"}]}", 7);
    fer_optim_opts o;
    fer_optim_opts_default(&o, FER_SGD);
    o.lr = 0.5f, o.momentum = 0, o.nesterov = 0;
    fer_optim *opt;
    fer_rng rng;
    fer_error err;
    fer_rng_seed(&rng, 1);
    ck_assert_int_eq(fer_optim_new(m, &o, &opt, &err), FER_OK);
    fer_status s = targets ? fer_model_train_step_soft(m, opt, &rng, x, targets, labels, n, loss, NULL, &err)
                           : fer_model_train_step(m, opt, &rng, x, labels, n, NULL, loss, NULL, &err);
    ck_assert_msg(s == FER_OK, "%s", err.msg);
    fer_optim_free(opt);
    return m;
}

/* The cross-entropy is linear in the target: one-hot targets are the
 * labels, bit for bit; half of one label and half of another give the mean
 * of the two losses and (plain SGD) the mean of the two updated weights. Bad
 * targets are refused with the sample named. */
START_TEST(soft_targets_are_labels_mixed)
{
    enum { N = 4, C = 3 };
    float x[N * 16], t1[N * C] = {0}, th[N * C] = {0}, la, lb, l1, lh;
    int a[N] = {0, 1, 2, 1}, b[N] = {2, 0, 1, 1};
    for (int i = 0; i < N * 16; i++)
        x[i] = (float)((i * 37) % 23) / 23.0f;
    for (int i = 0; i < N; i++) {
        t1[i * C + a[i]] = 1;
        th[i * C + a[i]] += 0.5f, th[i * C + b[i]] += 0.5f;
    }
    fer_model *ma = sgd_once(x, a, NULL, N, &la), *mb = sgd_once(x, b, NULL, N, &lb);
    fer_model *m1 = sgd_once(x, NULL, t1, N, &l1), *mh = sgd_once(x, a, th, N, &lh);
    ck_assert_msg(l1 == la, "one-hot loss %.9g, labels %.9g", l1, la);
    ck_assert_msg(fabsf(lh - 0.5f * (la + lb)) < 1e-6f, "mixed loss %g, mean %g", lh, 0.5f * (la + lb));
    for (int p = 0; p < 4; p++) {
        fer_tensor *wa = fer_model_param(ma, p, NULL, NULL, 0), *wb = fer_model_param(mb, p, NULL, NULL, 0);
        fer_tensor *w1 = fer_model_param(m1, p, NULL, NULL, 0), *wh = fer_model_param(mh, p, NULL, NULL, 0);
        ck_assert(memcmp(w1->data, wa->data, wa->size * sizeof(float)) == 0);
        int moved = 0;
        for (size_t k = 0; k < wa->size; k++) {
            float want = 0.5f * (wa->data[k] + wb->data[k]);
            ck_assert_msg(fabsf(wh->data[k] - want) < 1e-6f, "param %d [%zu]: %g vs %g", p, k,
                          wh->data[k], want);
            moved += wa->data[k] != wb->data[k];
        }
        ck_assert_msg(moved > 0, "param %d: the two label sets give the same update", p);
    }
    fer_model_free(ma), fer_model_free(mb), fer_model_free(m1), fer_model_free(mh);
    fer_model *m = model_from(TINY, 3);
    fer_optim *opt;
    fer_rng rng;
    fer_error err;
    fer_rng_seed(&rng, 1);
    ck_assert_int_eq(tu_adam(m, 1e-3f, 0, &opt, NULL), FER_OK);
    float tb[2 * 2] = {0.5f, 0.5f, 0.7f, 0.7f}, xb[2 * 16] = {0}, loss;
    ck_assert_int_eq(fer_model_train_step_soft(m, opt, &rng, xb, tb, NULL, 2, &loss, NULL, &err), FER_EINVAL);
    ck_assert_msg(strstr(err.msg, "sample 1 sum to 1.4"), "%s", err.msg);
    tb[2] = -0.2f, tb[3] = 1.2f;
    ck_assert_int_eq(fer_model_train_step_soft(m, opt, &rng, xb, tb, NULL, 2, &loss, NULL, &err), FER_EINVAL);
    ck_assert_msg(strstr(err.msg, "of sample 1 is -0.2"), "%s", err.msg);
    ck_assert_int_eq(fer_model_train_step_soft(m, opt, &rng, xb, NULL, NULL, 2, &loss, NULL, &err), FER_EINVAL);
    ck_assert_int_eq(fer_model_train_step(m, opt, &rng, xb, NULL, 2, NULL, &loss, NULL, &err), FER_EINVAL);
    fer_optim_free(opt);
    fer_model_free(m);
}
END_TEST

/* ------------------------------------------------- the paper CNN learns */

static void make_patterns(int n, float *x, int *y, uint64_t seed)
{
    /* Each class is a bright square at its own place, plus noise. */
    fer_rng r;
    fer_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        y[i] = i % 7;
        float *xi = x + (size_t)i * 48 * 48;
        for (int p = 0; p < 48 * 48; p++)
            xi[p] = 0.3f * (float)fer_rng_uniform(&r);
        int oy = 4 + (y[i] / 3) * 14, ox = 4 + (y[i] % 3) * 14;
        for (int dy = 0; dy < 10; dy++)
            for (int dx = 0; dx < 10; dx++)
                xi[(oy + dy) * 48 + ox + dx] += 0.7f;
    }
}

START_TEST(paper_cnn_overfits)
{
    enum { N = 28 };
    fer_model *m;
    fer_error err;
    ck_assert(fer_model_paper_cnn(7, NULL, 42, &m, &err) == FER_OK);
    ck_assert_int_eq((int)fer_model_n_params(m), 2345607);
    fer_optim *a;
    ck_assert(tu_adam(m, 1e-3f, 0, &a, NULL) == FER_OK);
    float *x = malloc((size_t)N * 48 * 48 * sizeof *x);
    int y[N], correct = 0;
    make_patterns(N, x, y, 7);
    fer_rng r;
    fer_rng_seed(&r, 3);
    float loss = 0;
    for (int it = 0; it < 60 && correct < N; it++) {
        ck_assert(fer_model_train_step(m, a, &r, x, y, N, NULL, &loss, NULL, &err) == FER_OK);
        float ls;
        ck_assert(fer_model_evaluate(m, x, y, N, &ls, &correct, NULL, NULL) == FER_OK);
    }
    ck_assert_msg(correct == N, "%d of %d right, loss %g", correct, N, loss);
    free(x);
    fer_optim_free(a);
    fer_model_free(m);
}
END_TEST

START_TEST(same_seed_same_threads_bit_identical)
{
    enum { N = 8 };
    float *x = malloc((size_t)N * 48 * 48 * sizeof *x);
    int y[N];
    make_patterns(N, x, y, 8);
    float first[7 * N];
    for (int run = 0; run < 2; run++) {
        fer_model *m;
        fer_optim *a;
        ck_assert(fer_model_paper_cnn(7, NULL, 5, &m, NULL) == FER_OK);
        fer_model_set_threads(m, 2, NULL);
        tu_adam(m, 1e-3f, 0, &a, NULL);
        fer_rng r;
        fer_rng_seed(&r, 6);
        for (int it = 0; it < 3; it++)
            ck_assert(fer_model_train_step(m, a, &r, x, y, N, NULL, NULL, NULL, NULL) == FER_OK);
        float probs[7 * N];
        fer_model_predict(m, x, N, probs, NULL);
        if (run == 0)
            memcpy(first, probs, sizeof probs);
        else
            ck_assert(memcmp(first, probs, sizeof probs) == 0);
        fer_optim_free(a);
        fer_model_free(m);
    }
    free(x);
}
END_TEST

/* A model that only infers holds no gradient buffers, the forward scratch
 * and activation buffers shared along the chain; a pass with backward adds
 * what it needs, inference then reuses those and agrees bit for bit. */
START_TEST(inference_holds_no_training_memory)
{
    enum { N = 6 };
    float *x = malloc((size_t)2 * N * 48 * 48 * sizeof *x);
    int y[2 * N];
    make_patterns(2 * N, x, y, 7);
    fer_model *m;
    ck_assert(fer_model_paper_cnn(7, NULL, 9, &m, NULL) == FER_OK);
    fer_model_set_threads(m, 2, NULL);
    int own = 0;
    for (int i = 0; i < m->n_layers; i++)
        own += !m->plan.shares[i];
    ck_assert_msg(m->plan.n_act_bufs == 2, "%d activation buffers for a chain of %d",
                  m->plan.n_act_bufs, own);
    float p1[7 * N], p2[7 * N], p3[7 * 2 * N];
    ck_assert(fer_model_predict(m, x, N, p1, NULL) == FER_OK);
    ck_assert(m->act_bufs && !m->gbuf && !m->dlogits && m->grad_cap == 0);
    int pools = 0, drops = 0; /* inference keeps no argmax and draws no mask */
    for (int i = 0; i < m->n_layers; i++) {
        const fer_layer *l = &m->layers[i];
        pools += l->ops == &fer_maxpool_ops, drops += l->ops == &fer_dropout_ops;
        ck_assert_msg(!l->argmax && !l->mask, "layer %d keeps training buffers", i);
    }
    ck_assert(pools == 3 && drops == 3);
    size_t infer = m->scratch_floats;
    ck_assert(infer > 1);
    ck_assert(fer_model_gradients(m, x, y, N, NULL, NULL) == FER_OK);
    ck_assert(!m->act_bufs && m->gbuf && m->grad_cap == N);
    for (int i = 0; i < m->n_layers; i++)
        ck_assert(m->layers[i].ops != &fer_maxpool_ops || m->layers[i].argmax);
    ck_assert_msg(m->scratch_floats > infer, "training scratch %zu, inference %zu",
                  m->scratch_floats, infer);
    ck_assert(fer_model_predict(m, x, N, p2, NULL) == FER_OK);
    ck_assert(!m->act_bufs && m->grad_cap == N); /* the training buffers, reused */
    ck_assert(memcmp(p1, p2, sizeof p1) == 0);
    ck_assert(fer_model_predict(m, x, 2 * N, p3, NULL) == FER_OK); /* too small: the pool again */
    ck_assert(m->act_bufs && !m->gbuf && m->cap == 2 * N);
    for (int k = 0; k < 7 * N; k++)
        ck_assert_msg(fabsf(p1[k] - p3[k]) < 1e-5f, "%d: %g vs %g", k, p1[k], p3[k]);
    fer_model_free(m);
    free(x);
}
END_TEST

/* --------------------------------------------------------- weights file */

static char *tmp_path(const char *name)
{
    static char buf[256];
    const char *d = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/fer-test-%ld-%s", d ? d : "/tmp", (long)getpid(), name);
    return buf;
}

START_TEST(save_load_bit_exact)
{
    fer_model *m, *l;
    fer_optim *a, *la;
    fer_error err;
    const char *cls[] = {"neutral", "happy", "sad", "angry", "disgust"};
    ck_assert(fer_model_paper_cnn(5, cls, 9, &m, &err) == FER_OK);
    tu_adam(m, 1e-4f, 1e-6f, &a, NULL);
    enum { N = 5 };
    float *x = malloc((size_t)N * 48 * 48 * sizeof *x);
    int y[N];
    make_patterns(N, x, y, 9);
    for (int i = 0; i < N; i++)
        y[i] %= 5;
    fer_rng r;
    fer_rng_seed(&r, 1);
    fer_model_train_step(m, a, &r, x, y, N, NULL, NULL, NULL, NULL);
    char *path = strdup(tmp_path("ckpt.safetensors"));
    ck_assert_msg(fer_model_save(m, a, "{\"epoch\":3}", path, &err) == FER_OK, "%s", err.msg);
    char *extra;
    ck_assert_msg(fer_checkpoint_load(path, &l, &la, &extra, &err) == FER_OK, "%s", err.msg);
    ck_assert_str_eq(extra, "{\"epoch\":3}");
    ck_assert_str_eq(fer_model_class_name(l, 4), "disgust");
    ck_assert_int_eq(fer_optim_iterations(la), 1);
    for (int p = 0; p < fer_model_param_count(m); p++) {
        fer_tensor *t1 = fer_model_param(m, p, NULL, NULL, 0), *t2 = fer_model_param(l, p, NULL, NULL, 0);
        ck_assert(memcmp(t1->data, t2->data, t1->size * 4) == 0);
        ck_assert(memcmp(fer_optim_slot(a, p, 1)->data, fer_optim_slot(la, p, 1)->data, t1->size * 4) == 0);
    }
    /* a plain model load ignores the optimiser state */
    fer_model *plain;
    ck_assert(fer_model_load(path, &plain, &err) == FER_OK);
    float p1[5 * N], p2[5 * N];
    fer_model_predict(m, x, N, p1, NULL);
    fer_model_predict(plain, x, N, p2, NULL);
    ck_assert(memcmp(p1, p2, sizeof p1) == 0);
    unlink(path);
    free(path);
    free(extra);
    free(x);
    fer_model_free(plain);
    fer_model_free(l);
    fer_optim_free(la);
    fer_model_free(m);
    fer_optim_free(a);
}
END_TEST

START_TEST(corrupt_files_rejected)
{
    fer_model *m;
    ck_assert(fer_model_from_json("{\"input\":[1,4,4],\"classes\":[\"a\",\"b\"],\"layers\":["
                                  "{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}",
                                  1, &m, NULL) == FER_OK);
    char *path = strdup(tmp_path("w.safetensors"));
    ck_assert(fer_model_save(m, NULL, NULL, path, NULL) == FER_OK);
    char *good;
    size_t len;
    ck_assert(fer_file_read(path, 1 << 20, &good, &len, NULL) == FER_OK);
    char *bad = malloc(len);
    fer_error err;
    fer_model *l;
    /* every truncation */
    for (size_t cut = 0; cut < len; cut += 1 + len / 40) {
        ck_assert(fer_file_write_atomic(path, good, cut, NULL) == FER_OK);
        ck_assert_msg(fer_model_load(path, &l, &err) != FER_OK, "cut at %zu loaded", cut);
        ck_assert(l == NULL && strstr(err.msg, path));
    }
    /* every single header byte flipped: rejected or, if the JSON stays valid
     * and consistent, loaded intact; never a crash */
    uint64_t hlen = 0;
    memcpy(&hlen, good, 8);
    for (size_t i = 0; i < 8 + hlen; i++) {
        memcpy(bad, good, len);
        bad[i] ^= 0x5a;
        fer_file_write_atomic(path, bad, len, NULL);
        if (fer_model_load(path, &l, &err) == FER_OK)
            fer_model_free(l);
        else
            ck_assert(l == NULL && err.msg[0]);
    }
    /* a wrong shape and an overlapping range */
    const char *hdrs[] = {
        "{\"1.weight\":{\"dtype\":\"F32\",\"shape\":[16,3],\"data_offsets\":[0,192]}}",
        "{\"1.weight\":{\"dtype\":\"F16\",\"shape\":[16,2],\"data_offsets\":[0,128]}}",
        "{\"1.weight\":{\"dtype\":\"F32\",\"shape\":[16,2],\"data_offsets\":[0,128]},\"__metadata__\":{\"arch\":\"{}\"}}",
        "[1,2,3]",
    };
    for (size_t h = 0; h < sizeof hdrs / sizeof *hdrs; h++) {
        size_t hl = strlen(hdrs[h]);
        char *f = calloc(1, 8 + hl + 256);
        for (int b = 0; b < 8; b++)
            f[b] = (char)(hl >> (8 * b));
        memcpy(f + 8, hdrs[h], hl);
        fer_file_write_atomic(path, f, 8 + hl + 128, NULL);
        ck_assert(fer_model_load(path, &l, &err) != FER_OK);
        free(f);
    }
    ck_assert(fer_model_load("/nonexistent/w.safetensors", &l, &err) == FER_EIO);
    unlink(path);
    free(path);
    free(good);
    free(bad);
    fer_model_free(m);
}
END_TEST

/* ------------------------------------------- crafted headers and metadata */


/* A safetensors file: header h (printed here) and len data bytes. */
static void write_safetensors(const char *path, const cJSON *h, const char *data, size_t len)
{
    char *json = cJSON_PrintUnformatted(h);
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8;
    char *f = malloc(8 + hl + len);
    for (int b = 0; b < 8; b++)
        f[b] = (char)((uint64_t)hl >> (8 * b));
    memset(f + 8, ' ', hl);
    memcpy(f + 8, json, jl);
    memcpy(f + 8 + hl, data, len);
    ck_assert_int_eq(fer_file_write_atomic(path, f, 8 + hl + len, NULL), FER_OK);
    free(f);
    free(json);
}

/* The TINY model (with Adam state when ckpt) saved to path: its header,
 * parsed, and its data section (*len bytes, zero-padded by 256 more). */
static cJSON *tiny_file(const char *path, int ckpt, char **data, size_t *len)
{
    fer_model *m = model_from(TINY, 3);
    fer_optim *a = NULL;
    if (ckpt)
        ck_assert_int_eq(tu_adam(m, 1e-3f, 0, &a, NULL), FER_OK);
    ck_assert_int_eq(fer_model_save(m, a, ckpt ? "{}" : NULL, path, NULL), FER_OK);
    fer_optim_free(a);
    fer_model_free(m);
    char *f;
    size_t n;
    ck_assert_int_eq(fer_file_read(path, 1 << 20, &f, &n, NULL), FER_OK);
    uint64_t hl = 0;
    for (int b = 0; b < 8; b++)
        hl |= (uint64_t)(uint8_t)f[b] << (8 * b);
    cJSON *h = cJSON_ParseWithLength(f + 8, hl);
    ck_assert_ptr_nonnull(h);
    *len = n - 8 - hl;
    *data = calloc(1, *len + 256);
    memcpy(*data, f + 8 + hl, *len);
    free(f);
    return h;
}

/* One tensor listed twice (so another is missing) used to load, with the
 * missing one left at its initial values. */
START_TEST(duplicate_and_missing_tensors_rejected)
{
    char *path = strdup(tmp_path("dup.safetensors")), *data;
    size_t len;
    cJSON *h = tiny_file(path, 0, &data, &len); /* 1.weight [16,2] at 0..128, 1.bias at 128..136 */
    cJSON_DeleteItemFromObjectCaseSensitive(h, "1.bias");
    cJSON *again = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "1.weight"), 1);
    cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(again, "data_offsets"), 0,
                             cJSON_CreateNumber(128));
    cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(again, "data_offsets"), 1,
                             cJSON_CreateNumber(256));
    cJSON_AddItemToObject(h, "1.weight", again);
    write_safetensors(path, h, data, 256);
    fer_model *l;
    fer_error err;
    ck_assert_int_eq(fer_model_load(path, &l, &err), FER_EFORMAT);
    ck_assert_msg(strstr(err.msg, "\"1.weight\" is listed twice"), "%s", err.msg);
    /* the bias alone missing: named */
    cJSON_Delete(cJSON_DetachItemViaPointer(h, again));
    write_safetensors(path, h, data, 128);
    ck_assert_int_eq(fer_model_load(path, &l, &err), FER_EFORMAT);
    ck_assert_msg(strstr(err.msg, "\"1.bias\" is missing"), "%s", err.msg);
    cJSON_Delete(h);
    unlink(path);
    free(path);
    free(data);
}
END_TEST

/* Adam metadata out of range: the step count overflowed on the next step
 * (INT64_MAX), and lr and decay were converted to float unchecked. */
START_TEST(checkpoint_metadata_ranges)
{
    char *path = strdup(tmp_path("meta.ckpt")), *data;
    size_t len;
    cJSON *h = tiny_file(path, 1, &data, &len);
    cJSON *md = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
    const char *bad[][3] = {{"9223372036854775807", "0.001", "0"},
                            {"9007199254740993000", "0.001", "0"}, {"-1", "0.001", "0"},
                            {"1.5", "0.001", "0"}, {"", "0.001", "0"}, {"12abc", "0.001", "0"},
                            {"12", "1e300", "0"}, {"12", "0", "0"}, {"12", "nan", "0"},
                            {"12", "0.001", "-1"}, {"12", "0.001", "1e999"},
                            {"12", "0.001", "inf"}}; /* the first 6: adam.iterations */
    const char *keys[3] = {"adam.iterations", "adam.lr", "adam.decay"};
    fer_model *l;
    fer_optim *a;
    char *extra;
    fer_error err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        for (int k = 0; k < 3; k++)
            cJSON_ReplaceItemInObjectCaseSensitive(md, keys[k], cJSON_CreateString(bad[i][k]));
        write_safetensors(path, h, data, len);
        ck_assert_msg(fer_checkpoint_load(path, &l, &a, &extra, &err) == FER_EFORMAT, "case %zu",
                      i);
        ck_assert_msg(strstr(err.msg, path) &&
                          strstr(err.msg, i < 6 ? "adam.iterations" : "adam.lr"),
                      "%s", err.msg);
        ck_assert(l == NULL && a == NULL && extra == NULL);
    }
    const char *good[3] = {"9007199254740992", "0.001", "1e-6"};
    for (int k = 0; k < 3; k++)
        cJSON_ReplaceItemInObjectCaseSensitive(md, keys[k], cJSON_CreateString(good[k]));
    write_safetensors(path, h, data, len);
    ck_assert_msg(fer_checkpoint_load(path, &l, &a, &extra, &err) == FER_OK, "%s", err.msg);
    ck_assert(fer_optim_iterations(a) == ((int64_t)1 << 53));
    float x[16] = {0}, loss;
    int y = 1;
    fer_rng r;
    fer_rng_seed(&r, 1);
    ck_assert_int_eq(fer_model_train_step(l, a, &r, x, &y, 1, NULL, &loss, NULL, NULL), FER_OK);
    ck_assert(fer_optim_iterations(a) == ((int64_t)1 << 53) + 1);
    free(extra);
    fer_optim_free(a);
    fer_model_free(l);
    cJSON_Delete(h);
    unlink(path);
    free(path);
    free(data);
}
END_TEST

/* An architecture error is prefixed with the file: safetensors.c used to
 * format err->msg into itself, which garbled it. */
START_TEST(architecture_error_names_the_file)
{
    char *path = strdup(tmp_path("arch.safetensors")), *data;
    size_t len;
    cJSON *h = tiny_file(path, 0, &data, &len);
    const char *arch = "{\"input\":[1,4,4],\"classes\":[\"a\",\"b\"],\"layers\":[]}";
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(h, "__metadata__"),
                                           "arch", cJSON_CreateString(arch));
    write_safetensors(path, h, data, len);
    fer_model *l;
    fer_error err, inner;
    ck_assert_int_eq(fer_model_from_json(arch, 1, &l, &inner), FER_EFORMAT);
    ck_assert_int_eq(fer_model_load(path, &l, &err), FER_EFORMAT);
    char want[2 * sizeof err.msg];
    snprintf(want, sizeof want, "%s: %s", path, inner.msg);
    ck_assert_str_eq(err.msg, want);
    cJSON_Delete(h);
    unlink(path);
    free(path);
    free(data);
}
END_TEST

/* A file that is not safetensors at all (a CSV) says so, rather than
 * quoting a header length of 8241917607287874919. */
START_TEST(not_a_model_file)
{
    char *path = strdup(tmp_path("catalog.csv"));
    const char *texts[] = {"track_id,track_name,artist_name,genre\n1,a,b,Pop\n", "abc"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(fer_file_write_atomic(path, texts[i], strlen(texts[i]), NULL), FER_OK);
        fer_model *l;
        fer_error err;
        ck_assert_int_eq(fer_model_load(path, &l, &err), FER_EFORMAT);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "not a model file"), "%s", err.msg);
    }
    unlink(path);
    free(path);
}
END_TEST

/* A name from the file with a terminal escape and a newline: the message
 * stays one line without control characters (fer_fail replaces them). */
START_TEST(message_without_control_characters)
{
    char *path = strdup(tmp_path("esc.safetensors")), *data;
    size_t len;
    cJSON *h = tiny_file(path, 0, &data, &len);
    cJSON *e = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "1.bias"), 1);
    cJSON_AddItemToObject(h, "\x1b[2J\x1b]0;owned\x07\nfake: line", e);
    write_safetensors(path, h, data, len);
    fer_model *l;
    fer_error err;
    ck_assert_int_eq(fer_model_load(path, &l, &err), FER_EFORMAT);
    ck_assert_msg(strstr(err.msg, "?[2J?]0;owned??fake: line"), "%s", err.msg);
    cJSON_Delete(h);
    unlink(path);
    free(path);
    free(data);
}
END_TEST

START_TEST(bad_architectures_rejected)
{
    const char *bad[] = {
        "", "[]", "{\"input\":[1,48,48],\"classes\":[\"a\",\"b\"],\"layers\":[]}",
        "{\"input\":[1,4,4],\"classes\":[\"a\",\"b\"],\"layers\":[{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}",
        "{\"input\":[1,4,4],\"classes\":[\"a\",\"b\"],\"layers\":[{\"type\":\"conv2d\",\"filters\":2,\"kernel\":5}]}",
        "{\"input\":[1,4,4],\"classes\":[\"a\",\"b\"],\"layers\":[{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}",
        "{\"input\":[1,4,4],\"classes\":[\"a\",\"b\"],\"layers\":[{\"type\":\"warp\"}]}",
        "{\"input\":[1,4],\"classes\":[\"a\",\"b\"],\"layers\":[{\"type\":\"flatten\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fer_model *m;
        fer_error err = {0};
        ck_assert_msg(fer_model_from_json(bad[i], 1, &m, &err) == FER_EFORMAT, "case %zu", i);
        ck_assert(m == NULL && strstr(err.msg, "architecture"));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    /* A hang guard, not a speed test: under ASan with the portable C GEMM
     * (tests/sh/gemm.sh), on a 2-core machine without AVX-512 and with a job
     * beside it, paper_cnn_overfits alone took over 120 s. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, grad_conv_valid_dense);
    tcase_add_test(tc, grad_conv_same_even_kernel);
    tcase_add_test(tc, grad_maxpool_relu_dropout);
    tcase_add_test(tc, grad_loss_weighted);
    tcase_add_test(tc, forward_matches_plain_loops);
    tcase_add_test(tc, dropout_masks_and_scales);
    tcase_add_test(tc, adam_step_by_hand);
    tcase_add_test(tc, soft_targets_are_labels_mixed);
    tcase_add_test(tc, paper_cnn_overfits);
    tcase_add_test(tc, same_seed_same_threads_bit_identical);
    tcase_add_test(tc, inference_holds_no_training_memory);
    tcase_add_test(tc, save_load_bit_exact);
    tcase_add_test(tc, corrupt_files_rejected);
    tcase_add_test(tc, bad_architectures_rejected);
    suite_add_tcase(s, tc);
    TCase *crafted = tcase_create("crafted"); /* CK_RUN_CASE=crafted runs these alone */
    tcase_add_test(crafted, duplicate_and_missing_tensors_rejected);
    tcase_add_test(crafted, checkpoint_metadata_ranges);
    tcase_add_test(crafted, architecture_error_names_the_file);
    tcase_add_test(crafted, not_a_model_file);
    tcase_add_test(crafted, message_without_control_characters);
    suite_add_tcase(s, crafted);
    return tu_run(s);
}
