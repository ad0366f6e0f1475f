/* Helper for tests/sh/predict.sh and examples/build-and-run:
 *   test_predict_model --write PATH [N_CLASSES [SEED] | CLASS,CLASS,...]
 * saves a randomly initialised paper CNN (the first N FER2013 class names;
 * for 5 classes those of the 5-class model: neutral happy sad angry disgust),
 * so the tool tests need no trained weights. Without arguments it checks
 * that such a file loads back with the same classes and probabilities. */
#include "testutil.h"

static const char *const five[5] = {"neutral", "happy", "sad", "angry", "disgust"};

static fer_status write_model(const char *path, int k, uint64_t seed, fer_error *err)
{
    fer_model *m;
    fer_status s = fer_model_paper_cnn(k, k == 5 ? five : NULL, seed, &m, err);
    if (s)
        return s;
    s = fer_model_save(m, NULL, NULL, path, err);
    fer_model_free(m);
    return s;
}

START_TEST(saved_random_model_predicts_the_same)
{
    char dir[] = "/tmp/test_predict_model.XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    fer_error e = {0};
    ck_assert_msg(write_model(path, 5, 3, &e) == FER_OK, "%s", e.msg);
    fer_model *a, *b;
    ck_assert_int_eq(fer_model_paper_cnn(5, five, 3, &a, &e), FER_OK);
    ck_assert_msg(fer_model_load(path, &b, &e) == FER_OK, "%s", e.msg);
    ck_assert_int_eq(fer_model_n_classes(b), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(fer_model_class_name(b, i), five[i]);
    float x[2 * 48 * 48], pa[10], pb[10];
    fer_rng r;
    fer_rng_seed(&r, 1);
    tu_fill_uniform(&r, x, 2 * 48 * 48, 0, 1);
    ck_assert_int_eq(fer_model_predict(a, x, 2, pa, &e), FER_OK);
    ck_assert_int_eq(fer_model_predict(b, x, 2, pb, &e), FER_OK);
    ck_assert_float_eq_tol(tu_max_abs_diff(pa, pb, 10), 0, 1e-6);
    fer_model_free(a);
    fer_model_free(b);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* A model whose classes are the comma-separated names in list. */
static fer_status write_named(const char *path, char *list, fer_error *err)
{
    const char *names[16];
    int k = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && k < 16;
         t = strtok_r(NULL, ",", &save))
        names[k++] = t;
    fer_model *m;
    fer_status s = fer_model_paper_cnn(k, names, 1, &m, err);
    if (s)
        return s;
    s = fer_model_save(m, NULL, NULL, path, err);
    fer_model_free(m);
    return s;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--write")) {
        int k = argc > 3 ? atoi(argv[3]) : 7;
        uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
        fer_error e = {0};
        fer_status s = argc > 3 && strchr(argv[3], ',') ? write_named(argv[2], argv[3], &e)
                                                         : write_model(argv[2], k, seed, &e);
        if (s != FER_OK) {
            fprintf(stderr, "test_predict_model: %s\n", e.msg);
            return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
    }
    Suite *s = suite_create("predict_model");
    TCase *t = tcase_create("model");
    tcase_add_test(t, saved_random_model_predicts_the_same);
    suite_add_tcase(s, t);
    return tu_run(s);
}
