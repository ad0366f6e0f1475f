/* Finite-difference gradient checks shared by test_model.c and
 * test_graph.c: central differences on a sample of every parameter of a
 * model, batch statistics on, dropout off. */
#ifndef FER_GRADCHECK_H
#define FER_GRADCHECK_H

#include "testutil.h"

#include "nn/model.h"

static inline fer_model *model_from(const char *json, uint64_t seed)
{
    fer_model *m = NULL;
    fer_error err = {0};
    ck_assert_msg(fer_model_from_json(json, seed, &m, &err) == FER_OK, "%s", err.msg);
    return m;
}

static inline float *batch(fer_model *m, int n, uint64_t seed, int *y)
{
    int c, h, w;
    fer_model_input_shape(m, &c, &h, &w);
    float *x = malloc(sizeof *x * (size_t)n * c * h * w);
    fer_rng r;
    fer_rng_seed(&r, seed);
    tu_fill_uniform(&r, x, (size_t)n * c * h * w, -1, 1);
    for (int i = 0; i < n; i++)
        y[i] = (int)fer_rng_below(&r, (uint32_t)fer_model_n_classes(m));
    return x;
}

static inline double loss_of(fer_model *m, const float *x, const int *y, int n)
{
    float loss;
    fer_error err;
    ck_assert_msg(fer_model_gradients(m, x, y, n, &loss, &err) == FER_OK, "%s", err.msg);
    return loss;
}

/* Central differences on a sample of every parameter, batch statistics on. */
static inline void check_gradients(const char *json, int n, float smoothing, uint64_t seed)
{
    fer_model *m = model_from(json, seed);
    fer_model_set_threads(m, 2, NULL);
    ck_assert(fer_model_set_label_smoothing(m, smoothing, NULL) == FER_OK);
    int y[16];
    float *x = batch(m, n, seed + 1, y);
    for (int p = 0; p < fer_model_param_count(m); p++) {
        fer_tensor *g;
        char name[64];
        fer_tensor *t = fer_model_param(m, p, &g, name, sizeof name);
        if (strstr(name, ".bias"))
            for (size_t k = 0; k < t->size; k++)
                t->data[k] = 0.05f * (float)((int)(k % 5) - 2);
    }
    for (int p = 0; p < fer_model_param_count(m); p++) {
        fer_tensor *g;
        char name[64];
        fer_tensor *t = fer_model_param(m, p, &g, name, sizeof name);
        loss_of(m, x, y, n);
        float *analytic = malloc(g->size * sizeof *analytic);
        memcpy(analytic, g->data, g->size * sizeof *analytic);
        int checked = 0, bad = 0;
        char first[160] = "";
        for (size_t k = 0; k < t->size; k += 1 + t->size / 17) {
            float keep = t->data[k];
            const float eps = 3e-4f;
            t->data[k] = keep + eps;
            double lp = loss_of(m, x, y, n);
            t->data[k] = keep - eps;
            double lm = loss_of(m, x, y, n);
            t->data[k] = keep;
            double num = (lp - lm) / (2 * eps);
            checked++;
            if (fabs(num - analytic[k]) > 2e-3 + 2e-2 * fabs(num) && bad++ == 0)
                snprintf(first, sizeof first, "%s[%zu]: numeric %g analytic %g", name, k, num,
                         analytic[k]);
        }
        ck_assert_msg(bad <= checked / 10, "%s: %d of %d gradients differ (first: %s)", name, bad,
                      checked, first);
        free(analytic);
    }
    free(x);
    fer_model_free(m);
}

#endif
