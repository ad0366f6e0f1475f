/* Softmax and categorical cross-entropy, fused: the gradient with respect to
 * the logits is simply (p - target) * weight / n, and log-probabilities are
 * taken as z - max - log(sum exp(z - max)) so nothing overflows. The target
 * is one-hot, or with label smoothing s: 1 - s + s/c on the label and s/c
 * elsewhere, or any distribution given row by row (distillation). */
#include <math.h>

#include "nn/layers.h"

static float row_softmax(const float *z, int c, float *p)
{
    float mx = z[0];
    for (int k = 1; k < c; k++)
        mx = z[k] > mx ? z[k] : mx;
    double sum = 0;
    for (int k = 0; k < c; k++)
        sum += exp((double)(z[k] - mx));
    float lse = mx + (float)log(sum);
    for (int k = 0; k < c; k++)
        p[k] = (float)exp((double)(z[k] - lse));
    return lse;
}

void fer_softmax(const float *logits, int n, int c, float *probs)
{
    for (int i = 0; i < n; i++)
        row_softmax(logits + (size_t)i * c, c, probs + (size_t)i * c);
}

float fer_softmax_xent(const float *logits, const int *labels, const float *class_w, float smoothing,
                       int n, int c, float *probs, float *dlogits)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * c;
        float *p = probs + (size_t)i * c;
        float lse = row_softmax(z, c, p);
        int y = labels[i];
        float w = class_w ? class_w[y] : 1.0f;
        if (smoothing > 0) {
            float off = smoothing / (float)c, on = 1.0f - smoothing + off;
            double l = 0;
            for (int k = 0; k < c; k++)
                l += (double)(k == y ? on : off) * (double)(lse - z[k]);
            loss += (double)w * l;
            if (dlogits)
                for (int k = 0; k < c; k++)
                    dlogits[(size_t)i * c + k] = w * (p[k] - (k == y ? on : off)) / (float)n;
            continue;
        }
        loss += (double)w * (double)(lse - z[y]);
        if (dlogits)
            for (int k = 0; k < c; k++)
                dlogits[(size_t)i * c + k] = w * (p[k] - (k == y ? 1.0f : 0.0f)) / (float)n;
    }
    return (float)(loss / n);
}

float fer_softmax_xent_soft(const float *logits, const float *targets, int n, int c, float *probs,
                            float *dlogits)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * c, *t = targets + (size_t)i * c;
        float *p = probs + (size_t)i * c;
        float lse = row_softmax(z, c, p);
        for (int k = 0; k < c; k++) {
            loss += (double)t[k] * (double)(lse - z[k]);
            if (dlogits)
                dlogits[(size_t)i * c + k] = (p[k] - t[k]) / (float)n;
        }
    }
    return (float)(loss / n);
}
