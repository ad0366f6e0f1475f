/* Emotion probabilities of 8-bit grey crops, with test-time augmentation
 * (none, mirror images, mirror images of zoomed copies, with or without the
 * crop itself):
 * the one path from crops to probabilities, so that fer-eval measures what
 * fer_analyze (and so every tool) computes. */
#include <stdlib.h>

#include "core/core.h"
#include "emotion/emotion.h"
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

/* Adds to acc the probabilities of x (n images) and of x mirrored (x is
 * left mirrored). */
static fer_status add_flipped(fer_model *m, float *x, int n, size_t rows, int w, float *p,
                              float *acc, size_t np, fer_error *err)
{
    for (int pass = 0; pass < 2; pass++) {
        if (pass)
            mirror_rows(x, rows, w);
        fer_status st = fer_model_predict(m, x, n, p, err);
        if (st)
            return st;
        for (size_t i = 0; i < np; i++)
            acc[i] += p[i];
    }
    return FER_OK;
}

fer_status fer_model_predict_crops(fer_model *m, const uint8_t *crops, int n, fer_tta tta,
                                   float *probs, fer_error *err)
{
    if (!m || !crops || !probs || n < 1)
        return fer_fail(err, FER_EINVAL, "fer_model_predict_crops: no model, crops or output");
    if (!tta_known(tta))
        return fer_fail(err, FER_EINVAL, "fer_model_predict_crops: unknown augmentation %d",
                        (int)tta);
    int c, h, w, k = fer_model_n_classes(m);
    fer_model_input_shape(m, &c, &h, &w);
    size_t per = (size_t)c * (size_t)h * (size_t)w, total = per * (size_t)n;
    if (total / per != (size_t)n || total > SIZE_MAX / sizeof(float))
        return fer_fail(err, FER_ERANGE, "fer_model_predict_crops: %d crops is too many", n);
    size_t np = (size_t)n * (size_t)k, rows = total / (size_t)w;
    float *x = malloc(total * sizeof *x);
    float *p = tta != FER_TTA_NONE ? malloc(np * sizeof *p) : NULL;
    if (!x || (tta != FER_TTA_NONE && !p)) {
        free(x);
        free(p);
        return fer_fail(err, FER_ENOMEM, "fer_model_predict_crops: out of memory for %d crops", n);
    }
    fer_preprocess(crops, total, x);
    fer_status st;
    if (tta == FER_TTA_NONE) {
        st = fer_model_predict(m, x, n, probs, err);
    } else {
        /* the mean over the views: the crop (FLIP, ZOOM) and two zoomed
         * copies (ZOOM, PAIR), each as it is and mirrored */
        static const float zooms[2] = {FER_TTA_ZOOM_IN, FER_TTA_ZOOM_OUT};
        int no_crop = tta == FER_TTA_PAIR, views = tta == FER_TTA_FLIP ? 1 : 3;
        for (size_t i = 0; i < np; i++)
            probs[i] = 0;
        st = no_crop ? FER_OK : add_flipped(m, x, n, rows, w, p, probs, np, err);
        for (int v = 1; st == FER_OK && v < views; v++) {
            for (size_t i = 0; i < rows / (size_t)h; i++) /* each plane of each crop */
                augment_view(crops + i * (size_t)h * w, h, w, 0, 0, 0, 0, zooms[v - 1], 1,
                             x + i * (size_t)h * w);
            st = add_flipped(m, x, n, rows, w, p, probs, np, err);
        }
        float scale = 1.0f / (float)(2 * (views - no_crop));
        for (size_t i = 0; st == FER_OK && i < np; i++)
            probs[i] *= scale;
    }
    free(x);
    free(p);
    return st;
}
