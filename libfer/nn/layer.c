/* What the layer files share: reading a node's hyperparameters (every
 * message names the layer), padding and activation options, parameter
 * allocation and Glorot initialisation. */
#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "nn/layers.h"

fer_status fer_layer_int(const fer_layer *l, const void *o, const char *key, int dflt, int lo,
                         int hi, int *out, fer_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (dflt < lo)
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: missing \"%s\"", l->index,
                            key);
        *out = dflt;
        return FER_OK;
    }
    /* Range first: converting an out-of-range double to int is undefined. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != (double)(int)v->valuedouble)
        return fer_fail(err, FER_EFORMAT,
                        "architecture: layer %d: \"%s\" must be an integer in %d..%d", l->index,
                        key, lo, hi);
    *out = (int)v->valuedouble;
    return FER_OK;
}

fer_status fer_layer_real(const fer_layer *l, const void *o, const char *key, double dflt,
                          double lo, double hi, float *out, fer_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    double d = v ? (cJSON_IsNumber(v) ? v->valuedouble : NAN) : dflt;
    if (!(d >= lo && d <= hi))
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: \"%s\" must be a number in "
                        "[%g, %g]", l->index, key, lo, hi);
    *out = (float)d;
    return FER_OK;
}

fer_status fer_layer_act(fer_layer *l, const void *o, int softmax_ok, fer_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "activation");
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    if (!v || (s && (!strcmp(s, "linear") || !strcmp(s, "none"))))
        l->act = FER_ACT_NONE;
    else if (s && !strcmp(s, "relu"))
        l->act = FER_ACT_RELU;
    else if (s && !strcmp(s, "softmax") && softmax_ok)
        l->act = FER_ACT_SOFTMAX;
    else if (s && !strcmp(s, "softmax"))
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: softmax only on the last "
                        "dense layer", l->index);
    else
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: unknown activation", l->index);
    return FER_OK;
}

fer_status fer_layer_padding(fer_layer *l, const void *o, fer_error *err)
{
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(o, "padding");
    const char *ps = cJSON_IsString(pad) ? pad->valuestring : pad ? "" : "valid";
    if (strcmp(ps, "valid") && strcmp(ps, "same"))
        return fer_fail(err, FER_EFORMAT,
                        "architecture: layer %d: padding must be \"valid\" or \"same\"", l->index);
    int same = !strcmp(ps, "same");
    l->pad = same ? (l->k - 1) / 2 : 0;
    l->oh = same ? l->ih : l->ih - l->k + 1;
    l->ow = same ? l->iw : l->iw - l->k + 1;
    return FER_OK;
}

fer_status fer_layer_add_param(fer_layer *l, const char *suffix, fer_tensor *value,
                               fer_tensor *grad, int decay, int ndim, const int *shape,
                               fer_error *err)
{
    fer_status s;
    if ((s = fer_tensor_alloc(value, ndim, shape, err)) ||
        (grad && (s = fer_tensor_alloc(grad, ndim, shape, err))))
        return s;
    l->p[l->n_p++] = (fer_layer_param){suffix, value, grad, decay};
    return FER_OK;
}

void fer_layer_glorot(fer_layer *l, double fan_in, double fan_out, fer_rng *rng)
{
    double limit = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < l->w.size; i++)
        l->w.data[i] = (float)((2 * fer_rng_uniform(rng) - 1) * limit);
}
