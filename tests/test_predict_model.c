/* Helper for tests/sh/predict.sh and examples/build-and-run:
 *   test_predict_model --write PATH [N_CLASSES [SEED] | CLASS,CLASS,...]
 * saves a randomly initialised paper CNN (the first N FER2013 class names;
 * for 5 classes those of the 5-class model: neutral happy sad angry disgust),
 * so the tool tests need no trained weights. Without arguments it checks
 * that such a file loads back with the same classes and probabilities, and
 * the crops-to-probabilities path with its test-time augmentation. */
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

/* fer_model_predict_crops: FER_TTA_NONE is fer_preprocess + fer_model_predict;
 * FER_TTA_FLIP the mean of that and of the crops mirrored here by hand. */
START_TEST(crops_predict_with_and_without_flip)
{
    enum { N = 3, PX = 48 * 48, K = 7 };
    fer_error e = {0};
    fer_model *m;
    ck_assert_int_eq(fer_model_paper_cnn(K, NULL, 4, &m, &e), FER_OK);
    static uint8_t crops[N * PX], mirrored[N * PX];
    static float x[N * PX];
    fer_rng r;
    fer_rng_seed(&r, 2);
    for (int i = 0; i < N * PX; i++)
        crops[i] = (uint8_t)fer_rng_below(&r, 256);
    for (int i = 0; i < N * 48; i++)
        for (int c = 0; c < 48; c++)
            mirrored[i * 48 + c] = crops[i * 48 + 47 - c];
    float plain[N * K], flip[N * K], want[N * K], mir[N * K];
    fer_preprocess(crops, N * PX, x);
    ck_assert_int_eq(fer_model_predict(m, x, N, want, &e), FER_OK);
    ck_assert_msg(fer_model_predict_crops(m, crops, N, FER_TTA_NONE, plain, &e) == FER_OK, "%s", e.msg);
    ck_assert_float_eq(tu_max_abs_diff(plain, want, N * K), 0);
    fer_preprocess(mirrored, N * PX, x);
    ck_assert_int_eq(fer_model_predict(m, x, N, mir, &e), FER_OK);
    for (int i = 0; i < N * K; i++)
        want[i] = 0.5f * (want[i] + mir[i]);
    ck_assert_msg(fer_model_predict_crops(m, crops, N, FER_TTA_FLIP, flip, &e) == FER_OK, "%s", e.msg);
    ck_assert_float_eq_tol(tu_max_abs_diff(flip, want, N * K), 0, 1e-7);
    ck_assert_float_gt(tu_max_abs_diff(flip, plain, N * K), 1e-6); /* the mirror mattered */
    ck_assert_int_eq(fer_model_predict_crops(m, crops, 0, FER_TTA_NONE, plain, &e), FER_EINVAL);
    ck_assert_int_eq(fer_model_predict_crops(m, crops, N, (fer_tta)(FER_TTA_PAIR + 1), plain, &e),
                     FER_EINVAL); /* one past the last mode */
    ck_assert_ptr_nonnull(strstr(e.msg, "augmentation"));
    fer_model_free(m);
}
END_TEST

/* The 48x48 crop zoomed by z about its centre (23.5, 23.5), bilinear, edges
 * repeated, preprocessed, mirrored when flip: FER_TTA_ZOOM's views by hand. */
static void zoom_view(const uint8_t *src, float z, int flip, float *dst)
{
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) {
            double u = ((flip ? 47 - x : x) - 23.5) / z + 23.5, v = (y - 23.5) / z + 23.5;
            u = u < 0 ? 0 : u > 47 ? 47 : u;
            v = v < 0 ? 0 : v > 47 ? 47 : v;
            int x0 = (int)u, y0 = (int)v, x1 = x0 < 47 ? x0 + 1 : 47, y1 = y0 < 47 ? y0 + 1 : 47;
            double a = u - x0, b = v - y0;
            double p = (1 - b) * ((1 - a) * src[y0 * 48 + x0] + a * src[y0 * 48 + x1]) +
                       b * ((1 - a) * src[y1 * 48 + x0] + a * src[y1 * 48 + x1]);
            dst[y * 48 + x] = (float)(p / 255);
        }
}

/* FER_TTA_ZOOM: the mean over the crop and its copies zoomed by
 * FER_TTA_ZOOM_IN and _OUT, each as it is and mirrored; FER_TTA_PAIR: the
 * same without the crop itself. */
START_TEST(crops_predict_with_zoom)
{
    enum { N = 2, PX = 48 * 48, K = 7 };
    fer_error e = {0};
    fer_model *m;
    ck_assert_int_eq(fer_model_paper_cnn(K, NULL, 5, &m, &e), FER_OK);
    static uint8_t crops[N * PX];
    static float x[N * PX];
    fer_rng r;
    fer_rng_seed(&r, 3);
    for (int i = 0; i < N * PX; i++) /* smooth, so that a zoom changes every pixel a little */
        crops[i] = (uint8_t)(128 + 100 * sin(i % 48 * 0.2 + i / 48 % 48 * 0.13 + i / PX) +
                             fer_rng_below(&r, 16));
    const float zooms[3] = {1, FER_TTA_ZOOM_IN, FER_TTA_ZOOM_OUT};
    float want[N * K] = {0}, pair[N * K] = {0}, p[N * K], got[N * K], got_pair[N * K], flip[N * K];
    for (int v = 0; v < 6; v++) {
        for (int i = 0; i < N; i++)
            zoom_view(crops + i * PX, zooms[v / 2], v & 1, x + i * PX);
        ck_assert_int_eq(fer_model_predict(m, x, N, p, &e), FER_OK);
        for (int i = 0; i < N * K; i++) {
            want[i] += p[i] / 6;
            pair[i] += v >= 2 ? p[i] / 4 : 0;
        }
    }
    ck_assert_msg(fer_model_predict_crops(m, crops, N, FER_TTA_ZOOM, got, &e) == FER_OK, "%s", e.msg);
    ck_assert_float_eq_tol(tu_max_abs_diff(got, want, N * K), 0, 1e-5);
    ck_assert_msg(fer_model_predict_crops(m, crops, N, FER_TTA_PAIR, got_pair, &e) == FER_OK, "%s",
                  e.msg);
    ck_assert_float_eq_tol(tu_max_abs_diff(got_pair, pair, N * K), 0, 1e-5);
    ck_assert_int_eq(fer_model_predict_crops(m, crops, N, FER_TTA_FLIP, flip, &e), FER_OK);
    ck_assert_float_gt(tu_max_abs_diff(got, flip, N * K), 1e-5); /* the zoomed views mattered */
    fer_model_free(m);
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
    tcase_add_test(t, crops_predict_with_and_without_flip);
    tcase_add_test(t, crops_predict_with_zoom);
    suite_add_tcase(s, t);
    return tu_run(s);
}
