/* Emotion probabilities of 8-bit grey crops, with test-time augmentation
 * (none, mirror images, mirror images of zoomed copies, with or without the
 * crop itself):
 * the one path from crops to probabilities, so that fer-eval measures what
 * fer_analyze (and so every tool) computes. */
#include <stdlib.h>
#include <string.h>

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
    /* The views: the crop (z = 0: NONE, FLIP, ZOOM) and two zoomed copies
     * (z = 1, 2: ZOOM, PAIR), each as it is and mirrored (all but NONE). The
     * views of up to BATCH / slots crops go through the network as one batch:
     * a batch of one leaves the GEMMs short of work (4 batch-1 passes of
     * fer-vgg take about 1.35x one pass of 4). */
    static const float zooms[3] = {1, FER_TTA_ZOOM_IN, FER_TTA_ZOOM_OUT};
    enum { BATCH = 64 };
    int z0 = tta == FER_TTA_PAIR, z1 = tta == FER_TTA_ZOOM || tta == FER_TTA_PAIR ? 3 : 1;
    int flips = tta == FER_TTA_NONE ? 1 : 2, slots = (z1 - z0) * flips;
    int q = n < BATCH / slots ? n : BATCH / slots;
    size_t per = (size_t)c * (size_t)h * (size_t)w;
    if (per > SIZE_MAX / sizeof(float) / BATCH)
        return fer_fail(err, FER_ERANGE, "fer_model_predict_crops: %dx%dx%d crops are too large",
                        c, h, w);
    float *x = malloc((size_t)slots * (size_t)q * per * sizeof *x);
    float *p = malloc((size_t)slots * (size_t)q * (size_t)k * sizeof *p);
    if (!x || !p) {
        free(x);
        free(p);
        return fer_fail(err, FER_ENOMEM, "fer_model_predict_crops: out of memory for %d crops", n);
    }
    fer_status st = FER_OK;
    for (int c0 = 0; st == FER_OK && c0 < n; c0 += q) {
        int nq = n - c0 < q ? n - c0 : q;
        const uint8_t *src = crops + (size_t)c0 * per;
        size_t len = (size_t)nq * per;
        size_t planes = (size_t)nq * (size_t)c;
        float *v = x;
        for (int z = z0; z < z1; z++) {
            if (z == 0)
                fer_preprocess(src, len, v);
            else
                for (size_t i = 0; i < planes; i++)
                    augment_view(src + i * (size_t)h * w, h, w, 0, 0, 0, 0, zooms[z], 1,
                                 v + i * (size_t)h * w);
            if (flips == 2) {
                memcpy(v + len, v, len * sizeof *v);
                mirror_rows(v + len, planes * (size_t)h, w);
            }
            v += len * (size_t)flips;
        }
        st = fer_model_predict(m, x, slots * nq, p, err);
        for (int i = 0; st == FER_OK && i < nq; i++)
            for (int j = 0; j < k; j++) {
                float sum = 0;
                for (int s = 0; s < slots; s++)
                    sum += p[((size_t)s * nq + i) * k + j];
                probs[((size_t)c0 + i) * k + j] = sum / (float)slots;
            }
    }
    free(x);
    free(p);
    return st;
}
