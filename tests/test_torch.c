/* Cross-check against an independent framework: the paper CNN's
 * probabilities, loss and every parameter gradient for the same weights and
 * batch, computed by PyTorch (tests/torch_crosscheck.py), must agree within
 * 1e-4; so must the paper CNN's inference (fer_model_predict: Winograd
 * convolutions) with the same probabilities. Skips with a message when
 * Debian's python3-torch is absent. */
#include "testutil.h"

#include "nn/model.h"

#define PY "/usr/bin/python3"

static int torch_available(void)
{
    return system(PY " -c 'import torch, numpy' >/dev/null 2>&1") == 0;
}

/* Probabilities, loss and every parameter gradient of m on a random batch
 * of n, against PyTorch's for the same weights; with `inference`, also
 * fer_model_predict's probabilities (for models without batch norm, whose
 * training forward and inference are the same function). */
static void crosscheck(fer_model *m, int n, float smoothing, uint64_t seed, int inference)
{
    int ic, ih, iw, C = fer_model_n_classes(m);
    fer_model_input_shape(m, &ic, &ih, &iw);
    size_t px = (size_t)ic * ih * iw;
    fer_error err;
    fer_model_set_threads(m, 2, NULL);
    ck_assert(fer_model_set_label_smoothing(m, smoothing, &err) == FER_OK);
    fer_rng r;
    fer_rng_seed(&r, seed);
    /* non-zero biases (and batch norm shifts) so that their gradients and the ReLU masks matter */
    for (int p = 0; p < fer_model_param_count(m); p++) {
        char name[64];
        fer_tensor *b = fer_model_param(m, p, NULL, name, sizeof name);
        if (strstr(name, ".bias"))
            tu_fill_uniform(&r, b->data, b->size, -0.05f, 0.05f);
    }
    int32_t *hdr = malloc(sizeof(int32_t) * (size_t)(1 + n));
    float *x = malloc(sizeof(float) * n * px);
    hdr[0] = n;
    for (int i = 0; i < n; i++)
        hdr[1 + i] = (int32_t)fer_rng_below(&r, (uint32_t)C);
    tu_fill_uniform(&r, x, (size_t)n * px, 0, 1);

    char dir[] = "/tmp/fer-torch-XXXXXX", wpath[64], bpath[64], opath[64], cmd[512];
    ck_assert(mkdtemp(dir));
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", dir);
    snprintf(bpath, sizeof bpath, "%s/batch.bin", dir);
    snprintf(opath, sizeof opath, "%s/out.bin", dir);
    ck_assert_msg(fer_model_save(m, NULL, NULL, wpath, &err) == FER_OK, "%s", err.msg);
    FILE *f = fopen(bpath, "wb");
    fwrite(hdr, sizeof(int32_t), (size_t)(1 + n), f);
    fwrite(x, sizeof(float), (size_t)n * px, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, PY " tests/torch_crosscheck.py %s %s %s %g", wpath, bpath, opath,
             (double)smoothing);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);

    float loss;
    ck_assert(fer_model_gradients(m, x, hdr + 1, n, &loss, &err) == FER_OK);
    char *ref;
    size_t len;
    ck_assert(fer_file_read(opath, 1 << 30, &ref, &len, &err) == FER_OK);
    const float *t = (const float *)ref;
    size_t want = (size_t)n * C + 1;
    for (int p = 0; p < fer_model_param_count(m); p++)
        want += fer_model_param(m, p, NULL, NULL, 0)->size;
    ck_assert_uint_eq(len, want * sizeof(float));

    float *probs = malloc(sizeof(float) * (size_t)n * C);
    fer_softmax(fer_model_logits(m), n, C, probs);
    float d = tu_max_abs_diff(probs, t, (size_t)n * C);
    ck_assert_msg(d < 1e-4f, "probabilities differ by %g", d);
    if (inference) {
        ck_assert(fer_model_predict(m, x, n, probs, &err) == FER_OK);
        d = tu_max_abs_diff(probs, t, (size_t)n * C);
        ck_assert_msg(d < 1e-4f, "predicted probabilities differ by %g", d);
    }
    t += n * C;
    ck_assert_msg(fabsf(loss - t[0]) < 1e-4f, "loss %g vs torch %g", loss, t[0]);
    t++;
    for (int p = 0; p < fer_model_param_count(m); p++) {
        fer_tensor *g;
        char name[64];
        fer_model_param(m, p, &g, name, sizeof name);
        d = tu_max_abs_diff(g->data, t, g->size);
        ck_assert_msg(d < 1e-4f, "gradient of %s differs by %g", name, d);
        t += g->size;
    }
    free(probs);
    free(ref);
    free(x);
    free(hdr);
    unlink(wpath), unlink(bpath), unlink(opath), rmdir(dir);
}

static int skip_without_torch(const char *test)
{
    if (torch_available())
        return 0;
    fprintf(stderr, "SKIP %s: " PY " cannot import torch (install python3-torch)\n", test);
    if (getenv("CI"))
        ck_abort_msg("CI must have python3-torch");
    return 1;
}

START_TEST(paper_cnn_matches_pytorch)
{
    if (skip_without_torch("paper_cnn_matches_pytorch"))
        return;
    fer_model *m;
    ck_assert(fer_model_paper_cnn(7, NULL, 77, &m, NULL) == FER_OK);
    crosscheck(m, 6, 0, 78, 1);
    fer_model_free(m);
}
END_TEST

/* A residual network with batch norm (training mode), a depthwise
 * convolution, a tensor read by two nodes, global average pooling and
 * label smoothing. */
START_TEST(residual_batchnorm_matches_pytorch)
{
    if (skip_without_torch("residual_batchnorm_matches_pytorch"))
        return;
    static const char arch[] =
        "{\"input\":[2,12,11],\"classes\":[\"a\",\"b\",\"c\",\"d\",\"e\"],\"layers\":["
        "{\"type\":\"conv2d\",\"filters\":6,\"kernel\":3,\"padding\":\"same\"},"
        "{\"type\":\"batchnorm\",\"activation\":\"relu\",\"name\":\"stem\"},"
        "{\"type\":\"conv2d\",\"filters\":6,\"kernel\":3,\"padding\":\"same\"},"
        "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
        "{\"type\":\"depthwise_conv2d\",\"kernel\":3,\"padding\":\"same\"},"
        "{\"type\":\"batchnorm\",\"momentum\":0.2},"
        "{\"type\":\"add\",\"inputs\":[\"5\",\"stem\"],\"activation\":\"relu\"},"
        "{\"type\":\"maxpool2d\",\"size\":2},"
        "{\"type\":\"conv2d\",\"filters\":8,\"kernel\":3,\"activation\":\"relu\"},"
        "{\"type\":\"globalavgpool\"},"
        "{\"type\":\"dense\",\"units\":9},"
        "{\"type\":\"batchnorm\",\"activation\":\"relu\"},"
        "{\"type\":\"dense\",\"units\":5,\"activation\":\"softmax\"}]}";
    fer_model *m;
    fer_error err;
    ck_assert_msg(fer_model_from_json(arch, 91, &m, &err) == FER_OK, "%s", err.msg);
    crosscheck(m, 7, 0.1f, 92, 0);
    fer_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("torch");
    TCase *tc = tcase_create("crosscheck");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, paper_cnn_matches_pytorch);
    tcase_add_test(tc, residual_batchnorm_matches_pytorch);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
