/* Emotion probabilities of 8-bit grey crops, with test-time augmentation:
 * the one path from crops to probabilities, so that fer-eval measures what
 * fer_analyze (and so every tool) computes. */
#include <stdlib.h>

#include "core/core.h"
#include "fer.h"

/* Mirrors each row of n images of c x h x w floats in place. */
static void mirror_rows(float *x, size_t rows, int w)
{
    for (size_t r = 0; r < rows; r++, x += w)
        for (int i = 0, j = w - 1; i < j; i++, j--) {
            float t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
}

fer_status fer_model_predict_crops(fer_model *m, const uint8_t *crops, int n, fer_tta tta,
                                   float *probs, fer_error *err)
{
    if (!m || !crops || !probs || n < 1)
        return fer_fail(err, FER_EINVAL, "fer_model_predict_crops: no model, crops or output");
    if (tta != FER_TTA_NONE && tta != FER_TTA_FLIP)
        return fer_fail(err, FER_EINVAL, "fer_model_predict_crops: unknown augmentation %d",
                        (int)tta);
    int c, h, w, k = fer_model_n_classes(m);
    fer_model_input_shape(m, &c, &h, &w);
    size_t per = (size_t)c * (size_t)h * (size_t)w, total = per * (size_t)n;
    if (total / per != (size_t)n || total > SIZE_MAX / sizeof(float))
        return fer_fail(err, FER_ERANGE, "fer_model_predict_crops: %d crops is too many", n);
    float *x = malloc(total * sizeof *x);
    float *mirrored = tta == FER_TTA_FLIP ? malloc((size_t)n * (size_t)k * sizeof *mirrored) : NULL;
    if (!x || (tta == FER_TTA_FLIP && !mirrored)) {
        free(x);
        free(mirrored);
        return fer_fail(err, FER_ENOMEM, "fer_model_predict_crops: out of memory for %d crops", n);
    }
    fer_preprocess(crops, total, x);
    fer_status st = fer_model_predict(m, x, n, probs, err);
    if (st == FER_OK && tta == FER_TTA_FLIP) {
        mirror_rows(x, total / (size_t)w, w);
        st = fer_model_predict(m, x, n, mirrored, err);
        for (size_t i = 0; st == FER_OK && i < (size_t)n * (size_t)k; i++)
            probs[i] = 0.5f * (probs[i] + mirrored[i]);
    }
    free(x);
    free(mirrored);
    return st;
}
