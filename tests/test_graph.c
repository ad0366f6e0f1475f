/* The graph and the newer layers: finite-difference gradients of batch
 * norm, residual add (a tensor read twice, a three-way add), global
 * average pooling, depthwise convolution and label smoothing; the running
 * statistics; the memory plan; SGD against its formula; architecture
 * errors; the weights file with buffers and SGD state; an average of
 * logits and ensembles built on it. */
#include "gradcheck.h"

/* A batch of 8: over 5 samples, a ReLU after a per-feature norm sits so
 * close to its kink that finite differences cross it. */
START_TEST(grad_batchnorm)
{
    check_gradients("{\"input\":[2,7,6],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
                    "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":3},"
                    "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
                    "{\"type\":\"conv2d\",\"filters\":4,\"kernel\":2},"
                    "{\"type\":\"batchnorm\"},"
                    "{\"type\":\"flatten\"},"
                    "{\"type\":\"dense\",\"units\":5},"
                    "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
                    "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}", 8, 0, 21);
}
END_TEST

/* "stem" is read by the next convolution and by the add (its gradient is
 * the sum of two), and the last add takes three inputs. */
START_TEST(grad_residual_and_pooling)
{
    check_gradients("{\"input\":[2,8,8],\"classes\":[\"a\",\"b\",\"c\",\"d\"],\"layers\":["
                    "{\"type\":\"conv2d\",\"filters\":4,\"kernel\":3,\"padding\":\"same\","
                    "\"activation\":\"relu\",\"name\":\"stem\"},"
                    "{\"type\":\"conv2d\",\"filters\":4,\"kernel\":3,\"padding\":\"same\"},"
                    "{\"type\":\"batchnorm\",\"name\":\"branch\"},"
                    "{\"type\":\"add\",\"inputs\":[\"branch\",\"stem\"],\"activation\":\"relu\"},"
                    "{\"type\":\"conv2d\",\"filters\":4,\"kernel\":1,\"inputs\":[\"stem\"]},"
                    "{\"type\":\"add\",\"inputs\":[\"3\",\"4\",\"branch\"]},"
                    "{\"type\":\"globalavgpool\"},"
                    "{\"type\":\"dense\",\"units\":4,\"activation\":\"softmax\"}]}", 4, 0, 22);
}
END_TEST

START_TEST(grad_depthwise_and_smoothing)
{
    check_gradients("{\"input\":[3,9,7],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
                    "{\"type\":\"depthwise_conv2d\",\"kernel\":3,\"padding\":\"same\",\"activation\":\"relu\"},"
                    "{\"type\":\"depthwise_conv2d\",\"kernel\":2},"
                    "{\"type\":\"conv2d\",\"filters\":2,\"kernel\":1},"
                    "{\"type\":\"flatten\"},"
                    "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}", 3, 0.2f, 23);
}
END_TEST

/* Running statistics move by the momentum toward the batch's (variance
 * unbiased); inference uses them. */
START_TEST(batchnorm_running_statistics)
{
    fer_model *m = model_from("{\"input\":[2,3,4],\"classes\":[\"a\",\"b\"],\"layers\":["
                              "{\"type\":\"batchnorm\",\"momentum\":0.25},"
                              "{\"type\":\"flatten\"},"
                              "{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}", 3);
    int y[5];
    float *x = batch(m, 5, 4, y);
    fer_optim *o;
    ck_assert(tu_adam(m, 1e-9f, 0, &o, NULL) == FER_OK);
    fer_rng r;
    fer_rng_seed(&r, 1);
    ck_assert(fer_model_train_step(m, o, &r, x, y, 5, NULL, NULL, NULL, NULL) == FER_OK);
    const fer_layer *bn = &m->layers[0];
    for (int c = 0; c < 2; c++) {
        double s = 0, q = 0;
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 12; k++)
                s += x[(i * 2 + c) * 12 + k];
        double mean = s / 60;
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 12; k++)
                q += (x[(i * 2 + c) * 12 + k] - mean) * (x[(i * 2 + c) * 12 + k] - mean);
        ck_assert(fabs(bn->run_mean.data[c] - 0.25 * mean) < 1e-6);
        ck_assert(fabs(bn->run_var.data[c] - (0.75 + 0.25 * q / 59)) < 1e-6);
    }
    /* gradients alone (fer_model_gradients) leave them */
    float keep = bn->run_mean.data[0];
    loss_of(m, x, y, 5);
    ck_assert(bn->run_mean.data[0] == keep);
    /* inference normalises with them: the same image alone or in a batch */
    float p1[2], p5[10];
    ck_assert(fer_model_predict(m, x, 5, p5, NULL) == FER_OK);
    ck_assert(fer_model_predict(m, x + 3 * 24, 1, p1, NULL) == FER_OK);
    ck_assert(fabsf(p1[0] - p5[6]) < 1e-6f && fabsf(p1[1] - p5[7]) < 1e-6f);
    fer_optim_free(o);
    free(x);
    fer_model_free(m);
}
END_TEST

/* A chain alternates between two gradient buffers; a convolution after a
 * convolution, and a 2x2 pool after one, write over their input. */
START_TEST(memory_plan)
{
    fer_model *m;
    ck_assert(fer_model_paper_cnn(7, NULL, 1, &m, NULL) == FER_OK);
    ck_assert_int_eq(m->plan.n_bufs, 2);
    ck_assert_int_eq(m->plan.dest[1][0][0], FER_G_INTO); /* conv after conv */
    ck_assert_int_eq(m->plan.dest[2][0][0], FER_G_INTO); /* 2x2 pool after conv */
    ck_assert_int_eq(m->plan.dest[3][0][0], FER_G_SAME); /* dropout */
    ck_assert(m->plan.shares[3] && m->plan.shares[9]);  /* dropout, flatten */
    ck_assert_int_eq(m->plan.dest[0][0][0], FER_G_NONE); /* the input's gradient */
    fer_model_free(m);
    /* a tensor read twice: its producer is not overwritten, and one reader adds in */
    m = model_from("{\"input\":[1,6,6],\"classes\":[\"a\",\"b\"],\"layers\":["
                   "{\"type\":\"conv2d\",\"filters\":2,\"kernel\":3,\"padding\":\"same\"},"
                   "{\"type\":\"conv2d\",\"filters\":2,\"kernel\":3,\"padding\":\"same\"},"
                   "{\"type\":\"dropout\",\"rate\":0.5,\"inputs\":[\"0\"]},"
                   "{\"type\":\"add\",\"inputs\":[\"1\",\"2\"]},"
                   "{\"type\":\"flatten\"},"
                   "{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}", 1);
    ck_assert(!m->plan.shares[2]); /* node 0 is read by two: dropout may not overwrite it */
    ck_assert(m->plan.dest[1][0][0] != FER_G_INTO);
    ck_assert(m->plan.dest[1][0][0] == FER_G_ADD || m->plan.dest[2][0][0] == FER_G_ADD);
    fer_model_free(m);
}
END_TEST

/* SGD with Nesterov momentum and decoupled weight decay, by hand. */
START_TEST(sgd_step_by_hand)
{
    fer_model *m = model_from("{\"input\":[1,1,3],\"classes\":[\"a\",\"b\"],\"layers\":["
                              "{\"type\":\"flatten\"},"
                              "{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}", 5);
    fer_optim_opts oo;
    fer_optim_opts_default(&oo, FER_SGD);
    oo.lr = 0.1f, oo.momentum = 0.5f, oo.weight_decay = 0.01f;
    fer_optim *o;
    ck_assert(fer_optim_new(m, &oo, &o, NULL) == FER_OK);
    fer_tensor *gw, *gb, *w = fer_model_param(m, 0, &gw, NULL, 0), *b = fer_model_param(m, 1, &gb, NULL, 0);
    float w0 = w->data[0], b0 = b->data[0], v = 0, vb = 0;
    for (int step = 0; step < 3; step++) {
        gw->data[0] = 0.3f * (float)(step + 1);
        gb->data[0] = -0.2f;
        fer_optim_step(o, m->params);
        w0 -= 0.1f * 0.01f * w0; /* weights decay, biases do not */
        v = 0.5f * v + 0.3f * (float)(step + 1);
        w0 -= 0.1f * (0.3f * (float)(step + 1) + 0.5f * v);
        vb = 0.5f * vb - 0.2f;
        b0 -= 0.1f * (-0.2f + 0.5f * vb);
        ck_assert_msg(fabsf(w->data[0] - w0) < 1e-6f, "step %d: w %g want %g", step, w->data[0], w0);
        ck_assert(fabsf(b->data[0] - b0) < 1e-6f);
    }
    ck_assert_int_eq(fer_optim_iterations(o), 3);
    fer_error err;
    ck_assert(fer_optim_set_lr(o, 0, &err) == FER_EINVAL); /* the range fer_optim_new checks */
    ck_assert(fer_optim_lr(o) == 0.1f);
    oo.momentum = 1;
    fer_optim *bad;
    ck_assert(fer_optim_new(m, &oo, &bad, &err) == FER_EINVAL);
    fer_optim_free(o);
    fer_model_free(m);
}
END_TEST

/* A model sharing another's parameters predicts what it predicts (batch
 * norm's running statistics shared too), sees its updates, and refuses to
 * train. */
START_TEST(shared_model_for_inference)
{
    fer_model *m = model_from("{\"input\":[1,6,6],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
                              "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":3},"
                              "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
                              "{\"type\":\"flatten\"},"
                              "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}", 4), *s;
    int y[3];
    float *x = batch(m, 3, 5, y), pm[9], ps[9];
    fer_error err;
    ck_assert_msg(fer_model_share(m, &s, &err) == FER_OK, "%s", err.msg);
    fer_optim *o;
    ck_assert(tu_adam(m, 0.01f, 0, &o, NULL) == FER_OK);
    fer_rng r;
    fer_rng_seed(&r, 1);
    for (int step = 0; step < 2; step++) {
        ck_assert(fer_model_train_step(m, o, &r, x, y, 3, NULL, NULL, NULL, NULL) == FER_OK);
        ck_assert(fer_model_predict(m, x, 3, pm, NULL) == FER_OK);
        ck_assert(fer_model_predict(s, x, 3, ps, NULL) == FER_OK);
        ck_assert(memcmp(pm, ps, sizeof pm) == 0);
    }
    fer_optim *so;
    ck_assert_int_eq(fer_optim_new(s, &(fer_optim_opts){.kind = FER_ADAM, .lr = 0.01f}, &so, &err),
                     FER_EINVAL);
    ck_assert_int_eq(fer_model_train_step(s, o, &r, x, y, 3, NULL, NULL, NULL, &err), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "inference only"));
    fer_model_free(s);
    ck_assert(fer_model_predict(m, x, 3, pm, NULL) == FER_OK); /* m still whole */
    fer_optim_free(o);
    free(x);
    fer_model_free(m);
}
END_TEST

static void arch_fails(const char *layers, const char *want)
{
    char json[2048];
    snprintf(json, sizeof json, "{\"input\":[2,6,6],\"classes\":[\"a\",\"b\"],\"layers\":[%s]}",
             layers);
    fer_model *m = NULL;
    fer_error err = {0};
    ck_assert_msg(fer_model_from_json(json, 1, &m, &err) == FER_EFORMAT, "accepted: %s", layers);
    ck_assert_msg(strstr(err.msg, want), "\"%s\" not in: %s", want, err.msg);
    ck_assert(m == NULL);
}

START_TEST(architecture_errors)
{
    const char *end = "{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}";
    char l[1024];
    snprintf(l, sizeof l, "{\"type\":\"relu\",\"inputs\":[\"nope\"]},%s", end);
    arch_fails(l, "layer 0: input 0 names no earlier layer");
    snprintf(l, sizeof l, "{\"type\":\"relu\"},{\"type\":\"relu\",\"inputs\":[\"2\"]},%s", end);
    arch_fails(l, "layer 1: input 0 names no earlier layer"); /* not an earlier one */
    snprintf(l, sizeof l, "{\"type\":\"relu\"},{\"type\":\"relu\",\"inputs\":[\"input\"]},%s", end);
    arch_fails(l, "layer 0: its output is not used");
    snprintf(l, sizeof l, "{\"type\":\"maxpool2d\",\"name\":\"p\"},{\"type\":\"add\",\"inputs\":[\"p\",\"input\"]},%s", end);
    arch_fails(l, "layer 1: add of inputs of different shapes");
    snprintf(l, sizeof l, "{\"type\":\"add\"},%s", end);
    arch_fails(l, "layer 0: add needs two or more");
    snprintf(l, sizeof l, "{\"type\":\"relu\",\"name\":\"x\"},{\"type\":\"relu\",\"name\":\"x\"},%s", end);
    arch_fails(l, "layer 1: name \"x\" is taken");
    snprintf(l, sizeof l, "{\"type\":\"relu\",\"name\":\"12\"},%s", end);
    arch_fails(l, "layer 0: \"name\" must be");
    snprintf(l, sizeof l, "{\"type\":\"batchnorm\",\"momentum\":2},%s", end);
    arch_fails(l, "layer 0: \"momentum\" must be a number in [0, 1]");
    snprintf(l, sizeof l, "{\"type\":\"depthwise_conv2d\",\"kernel\":9},%s", end);
    arch_fails(l, "layer 0 (depthwise_conv2d): input 6x6 is too small");
    snprintf(l, sizeof l, "{\"type\":\"relu\",\"inputs\":[\"input\",\"input\",\"input\",\"input\","
             "\"input\",\"input\",\"input\",\"input\",\"input\"]},%s", end);
    arch_fails(l, "layer 0: \"inputs\" must list 1..8");
    snprintf(l, sizeof l, "{\"type\":\"average\",\"inputs\":[\"input\",\"input\"],"
             "\"activation\":\"softmax\"},%s", end);
    arch_fails(l, "layer 0: softmax only on the last layer");
    snprintf(l, sizeof l, "{\"type\":\"maxpool2d\",\"name\":\"p\"},"
             "{\"type\":\"average\",\"inputs\":[\"p\",\"input\"]},%s", end);
    arch_fails(l, "layer 1: average of inputs of different shapes");
    arch_fails("{\"type\":\"flatten\"},{\"type\":\"dense\",\"units\":2,\"name\":\"a\"},"
               "{\"type\":\"dense\",\"units\":3,\"inputs\":[\"0\"]},"
               "{\"type\":\"average\",\"inputs\":[\"a\",\"2\"],\"activation\":\"softmax\"}",
               "layer 3: average of inputs of different shapes");
}
END_TEST

/* Buffers (running statistics) and SGD state survive a checkpoint; a plain
 * load takes the model and skips the optimiser's tensors. */
START_TEST(checkpoint_with_buffers_and_sgd)
{
    fer_model *m = model_from("{\"input\":[1,5,5],\"classes\":[\"a\",\"b\"],\"layers\":["
                              "{\"type\":\"conv2d\",\"filters\":2,\"kernel\":3},"
                              "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
                              "{\"type\":\"globalavgpool\"},"
                              "{\"type\":\"dense\",\"units\":2,\"activation\":\"softmax\"}]}", 8);
    fer_optim_opts oo;
    fer_optim_opts_default(&oo, FER_SGD);
    oo.nesterov = 0, oo.weight_decay = 0.001f;
    fer_optim *o, *lo;
    ck_assert(fer_optim_new(m, &oo, &o, NULL) == FER_OK);
    int y[4];
    float *x = batch(m, 4, 9, y);
    fer_rng r;
    fer_rng_seed(&r, 2);
    for (int s = 0; s < 3; s++)
        ck_assert(fer_model_train_step(m, o, &r, x, y, 4, NULL, NULL, NULL, NULL) == FER_OK);
    char dir[] = "/tmp/fer-graph-XXXXXX", path[64];
    ck_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    fer_error err;
    ck_assert_msg(fer_model_save(m, o, NULL, path, &err) == FER_OK, "%s", err.msg);
    fer_model *l;
    ck_assert_msg(fer_checkpoint_load(path, &l, &lo, NULL, &err) == FER_OK, "%s", err.msg);
    fer_optim_opts got;
    fer_optim_get_opts(lo, &got);
    ck_assert(got.kind == FER_SGD && got.nesterov == 0 && got.momentum == oo.momentum &&
              got.weight_decay == oo.weight_decay && fer_optim_iterations(lo) == 3);
    ck_assert(memcmp(l->layers[1].run_var.data, m->layers[1].run_var.data, 2 * sizeof(float)) == 0);
    ck_assert(memcmp(fer_optim_slot(lo, 0, 0)->data, fer_optim_slot(o, 0, 0)->data,
                     fer_optim_slot(o, 0, 0)->size * sizeof(float)) == 0);
    /* one more step from both gives the same weights */
    fer_rng r2 = r;
    ck_assert(fer_model_train_step(m, o, &r, x, y, 4, NULL, NULL, NULL, NULL) == FER_OK);
    ck_assert(fer_model_train_step(l, lo, &r2, x, y, 4, NULL, NULL, NULL, NULL) == FER_OK);
    ck_assert(memcmp(m->params[0].value->data, l->params[0].value->data,
                     m->params[0].value->size * sizeof(float)) == 0);
    fer_model_free(l);
    fer_optim_free(lo);
    ck_assert(fer_model_load(path, &l, &err) == FER_OK);
    fer_model_free(l);
    unlink(path);
    rmdir(dir);
    fer_optim_free(o);
    free(x);
    fer_model_free(m);
}
END_TEST

/* Two heads on one input averaged before the softmax (what an ensemble
 * file is): the gradient reaches both, 1/2 each. */
START_TEST(grad_average_of_logits)
{
    check_gradients("{\"input\":[2,6,6],\"classes\":[\"a\",\"b\",\"c\"],\"layers\":["
                    "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":3},"
                    "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
                    "{\"type\":\"flatten\"},"
                    "{\"type\":\"dense\",\"units\":3,\"name\":\"h1\"},"
                    "{\"type\":\"flatten\",\"inputs\":[\"input\"]},"
                    "{\"type\":\"dense\",\"units\":4,\"activation\":\"relu\"},"
                    "{\"type\":\"dense\",\"units\":3},"
                    "{\"type\":\"average\",\"inputs\":[\"h1\",\"6\"],\"activation\":\"softmax\"}]}",
                    4, 0, 24);
}
END_TEST

/* fer_model_ensemble: the geometric mean of the members' probabilities
 * (batch norm on its running statistics, moved by training first), the
 * same after a save and a load; members that do not fit are refused. */
START_TEST(ensemble_of_models)
{
    fer_model *a = model_from("{\"input\":[1,6,6],\"classes\":[\"x\",\"y\",\"z\"],\"layers\":["
                              "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":3,\"name\":\"c\"},"
                              "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
                              "{\"type\":\"conv2d\",\"filters\":3,\"kernel\":1,\"inputs\":[\"c\"]},"
                              "{\"type\":\"add\",\"inputs\":[\"1\",\"2\"]},"
                              "{\"type\":\"flatten\"},"
                              "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}", 5);
    fer_model *b = model_from("{\"input\":[1,6,6],\"classes\":[\"x\",\"y\",\"z\"],\"layers\":["
                              "{\"type\":\"flatten\"},"
                              "{\"type\":\"dense\",\"units\":5},"
                              "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
                              "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}", 6);
    fer_model *odd = model_from("{\"input\":[1,6,6],\"classes\":[\"x\",\"z\",\"y\"],\"layers\":["
                                "{\"type\":\"flatten\"},"
                                "{\"type\":\"dense\",\"units\":3,\"activation\":\"softmax\"}]}", 7);
    int y[6];
    float *x = batch(a, 6, 8, y), pa[18], pb[18], pe[18];
    fer_optim *oa, *ob;
    ck_assert(tu_adam(a, 0.05f, 0, &oa, NULL) == FER_OK);
    ck_assert(tu_adam(b, 0.05f, 0, &ob, NULL) == FER_OK);
    fer_rng r;
    fer_rng_seed(&r, 3);
    for (int step = 0; step < 3; step++) {
        ck_assert(fer_model_train_step(a, oa, &r, x, y, 6, NULL, NULL, NULL, NULL) == FER_OK);
        ck_assert(fer_model_train_step(b, ob, &r, x, y, 6, NULL, NULL, NULL, NULL) == FER_OK);
    }
    ck_assert(fer_model_predict(a, x, 6, pa, NULL) == FER_OK);
    ck_assert(fer_model_predict(b, x, 6, pb, NULL) == FER_OK);
    const fer_model *ab[] = {a, b};
    fer_model *e, *l;
    fer_error err;
    ck_assert_msg(fer_model_ensemble(ab, 2, &e, &err) == FER_OK, "%s", err.msg);
    ck_assert_int_eq(fer_model_n_params(e), fer_model_n_params(a) + fer_model_n_params(b));
    ck_assert(fer_model_predict(e, x, 6, pe, NULL) == FER_OK);
    for (int i = 0; i < 6; i++) {
        double g[3], sum = 0;
        for (int k = 0; k < 3; k++)
            sum += g[k] = sqrt((double)pa[i * 3 + k] * pb[i * 3 + k]);
        for (int k = 0; k < 3; k++)
            ck_assert_msg(fabs(pe[i * 3 + k] - g[k] / sum) < 1e-5, "image %d class %d: %g, want %g",
                          i, k, pe[i * 3 + k], g[k] / sum);
    }
    char dir[] = "/tmp/fer-ens-XXXXXX", path[64];
    ck_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/e.safetensors", dir);
    ck_assert_msg(fer_model_save(e, NULL, NULL, path, &err) == FER_OK, "%s", err.msg);
    ck_assert_msg(fer_model_load(path, &l, &err) == FER_OK, "%s", err.msg);
    float pl[18];
    ck_assert(fer_model_predict(l, x, 6, pl, NULL) == FER_OK);
    ck_assert(memcmp(pl, pe, sizeof pe) == 0);
    /* an ensemble of an ensemble and a model */
    const fer_model *lb[] = {l, b};
    fer_model *n;
    ck_assert_msg(fer_model_ensemble(lb, 2, &n, &err) == FER_OK, "%s", err.msg);
    ck_assert(fer_model_predict(n, x, 6, pl, NULL) == FER_OK);
    for (int i = 0; i < 6; i++) { /* logits (a + b) / 4 + b / 2: pa^1/4 pb^3/4 */
        double g[3], sum = 0;
        for (int k = 0; k < 3; k++)
            sum += g[k] = pow(pa[i * 3 + k], 0.25) * pow(pb[i * 3 + k], 0.75);
        for (int k = 0; k < 3; k++)
            ck_assert(fabs(pl[i * 3 + k] - g[k] / sum) < 1e-5);
    }
    fer_model_free(n);
    const fer_model *bad[] = {a, odd};
    ck_assert_int_eq(fer_model_ensemble(bad, 2, &n, &err), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "model 2's input shape or classes differ"));
    ck_assert_int_eq(fer_model_ensemble(ab, 1, &n, &err), FER_EINVAL);
    ck_assert(n == NULL);
    unlink(path);
    rmdir(dir);
    fer_model_free(l);
    fer_model_free(e);
    fer_optim_free(oa);
    fer_optim_free(ob);
    fer_model_free(a);
    fer_model_free(b);
    fer_model_free(odd);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, grad_batchnorm);
    tcase_add_test(tc, grad_residual_and_pooling);
    tcase_add_test(tc, grad_depthwise_and_smoothing);
    tcase_add_test(tc, batchnorm_running_statistics);
    tcase_add_test(tc, memory_plan);
    tcase_add_test(tc, sgd_step_by_hand);
    tcase_add_test(tc, architecture_errors);
    tcase_add_test(tc, shared_model_for_inference);
    tcase_add_test(tc, checkpoint_with_buffers_and_sgd);
    tcase_add_test(tc, grad_average_of_logits);
    tcase_add_test(tc, ensemble_of_models);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
