/* Cross-check against an independent framework: the paper CNN's
 * probabilities, loss and every parameter gradient for the same weights and
 * batch, computed by PyTorch (tests/torch_crosscheck.py), must agree within
 * 1e-4. Skips with a message when Debian's python3-torch is absent. */
#include "testutil.h"

#include "nn/model.h"

#define PY "/usr/bin/python3"

static int torch_available(void)
{
    return system(PY " -c 'import torch, numpy' >/dev/null 2>&1") == 0;
}

START_TEST(paper_cnn_matches_pytorch)
{
    if (!torch_available()) {
        fprintf(stderr, "SKIP paper_cnn_matches_pytorch: " PY " cannot import torch "
                        "(install python3-torch)\n");
        if (getenv("CI"))
            ck_abort_msg("CI must have python3-torch");
        return;
    }
    enum { N = 6, C = 7, PX = 48 * 48 };
    fer_model *m;
    fer_error err;
    ck_assert(fer_model_paper_cnn(C, NULL, 77, &m, &err) == FER_OK);
    fer_model_set_threads(m, 2, NULL);
    fer_rng r;
    fer_rng_seed(&r, 78);
    /* non-zero biases so that their gradients and the ReLU masks matter */
    for (int p = 1; p < fer_model_param_count(m); p += 2) {
        fer_tensor *b = fer_model_param(m, p, NULL, NULL, 0);
        tu_fill_uniform(&r, b->data, b->size, -0.05f, 0.05f);
    }
    int32_t hdr[1 + N];
    float *x = malloc(sizeof(float) * N * PX);
    hdr[0] = N;
    for (int i = 0; i < N; i++)
        hdr[1 + i] = (int32_t)fer_rng_below(&r, C);
    tu_fill_uniform(&r, x, (size_t)N * PX, 0, 1);

    char dir[] = "/tmp/fer-torch-XXXXXX", wpath[64], bpath[64], opath[64], cmd[512];
    ck_assert(mkdtemp(dir));
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", dir);
    snprintf(bpath, sizeof bpath, "%s/batch.bin", dir);
    snprintf(opath, sizeof opath, "%s/out.bin", dir);
    ck_assert_msg(fer_model_save(m, NULL, NULL, wpath, &err) == FER_OK, "%s", err.msg);
    FILE *f = fopen(bpath, "wb");
    fwrite(hdr, sizeof hdr, 1, f);
    fwrite(x, sizeof(float), (size_t)N * PX, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, PY " tests/torch_crosscheck.py %s %s %s", wpath, bpath, opath);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);

    float loss;
    ck_assert(fer_model_gradients(m, x, hdr + 1, N, &loss, &err) == FER_OK);
    char *ref;
    size_t len;
    ck_assert(fer_file_read(opath, 1 << 30, &ref, &len, &err) == FER_OK);
    const float *t = (const float *)ref;
    size_t want = N * C + 1;
    for (int p = 0; p < fer_model_param_count(m); p++)
        want += fer_model_param(m, p, NULL, NULL, 0)->size;
    ck_assert_uint_eq(len, want * sizeof(float));

    float probs[N * C];
    fer_softmax(fer_model_logits(m), N, C, probs);
    float d = tu_max_abs_diff(probs, t, N * C);
    ck_assert_msg(d < 1e-4f, "probabilities differ by %g", d);
    t += N * C;
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
    free(ref);
    free(x);
    fer_model_free(m);
    unlink(wpath), unlink(bpath), unlink(opath), rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("torch");
    TCase *tc = tcase_create("crosscheck");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, paper_cnn_matches_pytorch);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
