/* Architecture descriptions: JSON in, validated layer list and shapes out.
 *
 *   {"input":[1,48,48], "classes":["angry",...],
 *    "layers":[{"type":"conv2d","filters":32,"kernel":3,"padding":"valid","activation":"relu"},
 *              {"type":"maxpool2d","size":2,"stride":2}, {"type":"dropout","rate":0.25},
 *              {"type":"flatten"}, {"type":"relu"},
 *              {"type":"dense","units":7,"activation":"softmax"}]}
 *
 * The last layer must be dense with softmax over as many units as classes. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"

enum { MAX_LAYERS = 64, MAX_DIM = 4096, MAX_UNITS = 1 << 16, MAX_CLASSES = 64 };

static fer_status get_int(const cJSON *o, const char *key, int dflt, int lo, int hi, int *out,
                          int idx, fer_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (dflt < lo)
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: missing \"%s\"", idx, key);
        *out = dflt;
        return FER_OK;
    }
    /* Range first: converting an out-of-range double to int is undefined. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != (double)(int)v->valuedouble)
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: \"%s\" must be an integer in %d..%d",
                        idx, key, lo, hi);
    *out = (int)v->valuedouble;
    return FER_OK;
}

static fer_status parse_act(const cJSON *o, fer_act *act, int idx, fer_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "activation");
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    if (!v || (s && (!strcmp(s, "linear") || !strcmp(s, "none"))))
        *act = FER_ACT_NONE;
    else if (s && !strcmp(s, "relu"))
        *act = FER_ACT_RELU;
    else if (s && !strcmp(s, "softmax"))
        *act = FER_ACT_SOFTMAX;
    else
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: unknown activation", idx);
    return FER_OK;
}

/* Fills one layer's hyperparameters and output shape from its input shape. */
static fer_status parse_layer(const cJSON *o, int idx, fer_layer *l, fer_error *err)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsObject(o) || !cJSON_IsString(t))
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: needs a \"type\"", idx);
    const char *type = t->valuestring;
    fer_status s = FER_OK;
    l->oc = l->ic, l->oh = l->ih, l->ow = l->iw;
    if (!strcmp(type, "conv2d")) {
        l->kind = FER_L_CONV;
        const cJSON *pad = cJSON_GetObjectItemCaseSensitive(o, "padding");
        const char *ps = cJSON_IsString(pad) ? pad->valuestring : pad ? "" : "valid";
        if ((s = get_int(o, "filters", -1, 1, MAX_DIM, &l->oc, idx, err)) ||
            (s = get_int(o, "kernel", -1, 1, 15, &l->k, idx, err)) ||
            (s = parse_act(o, &l->act, idx, err)))
            return s;
        if (strcmp(ps, "valid") && strcmp(ps, "same"))
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: padding must be \"valid\" or \"same\"", idx);
        int same = !strcmp(ps, "same");
        l->pad = same ? (l->k - 1) / 2 : 0;
        l->oh = same ? l->ih : l->ih - l->k + 1;
        l->ow = same ? l->iw : l->iw - l->k + 1;
        if (l->act == FER_ACT_SOFTMAX)
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: softmax only on the last dense layer", idx);
    } else if (!strcmp(type, "maxpool2d")) {
        l->kind = FER_L_MAXPOOL;
        if ((s = get_int(o, "size", 2, 1, 64, &l->size, idx, err)) ||
            (s = get_int(o, "stride", l->size, 1, 64, &l->stride, idx, err)))
            return s;
        l->oh = l->ih >= l->size ? (l->ih - l->size) / l->stride + 1 : 0;
        l->ow = l->iw >= l->size ? (l->iw - l->size) / l->stride + 1 : 0;
    } else if (!strcmp(type, "dropout")) {
        l->kind = FER_L_DROPOUT;
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rate");
        if (!cJSON_IsNumber(r) || !(r->valuedouble >= 0 && r->valuedouble < 1))
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: dropout \"rate\" must be in [0,1)", idx);
        l->rate = (float)r->valuedouble;
    } else if (!strcmp(type, "flatten")) {
        l->kind = FER_L_FLATTEN;
        l->oc = l->ic * l->ih * l->iw, l->oh = 1, l->ow = 1;
    } else if (!strcmp(type, "relu")) {
        l->kind = FER_L_RELU;
    } else if (!strcmp(type, "dense")) {
        l->kind = FER_L_DENSE;
        if (l->ih != 1 || l->iw != 1)
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: dense needs a flat input (add a flatten layer)", idx);
        if ((s = get_int(o, "units", -1, 1, MAX_UNITS, &l->oc, idx, err)) ||
            (s = parse_act(o, &l->act, idx, err)))
            return s;
    } else {
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: unknown type \"%.40s\"", idx, type);
    }
    if (l->oh < 1 || l->ow < 1)
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d (%s): input %dx%d is too small",
                        idx, type, l->ih, l->iw);
    return FER_OK;
}

static fer_status parse_classes(const cJSON *cl, fer_model *m, fer_error *err)
{
    int n = cJSON_GetArraySize(cl);
    if (!cJSON_IsArray(cl) || n < 2 || n > MAX_CLASSES)
        return fer_fail(err, FER_EFORMAT, "architecture: \"classes\" must list 2..%d names", MAX_CLASSES);
    m->classes = calloc((size_t)n, sizeof *m->classes);
    if (!m->classes)
        return fer_fail(err, FER_ENOMEM, "architecture: out of memory");
    m->n_classes = n;
    int i = 0;
    for (const cJSON *c = cl->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c) || !*c->valuestring || strlen(c->valuestring) > 63 ||
            strpbrk(c->valuestring, ",\"\\"))
            return fer_fail(err, FER_EFORMAT, "architecture: class %d: needs a short plain name", i);
        if (!(m->classes[i] = strdup(c->valuestring)))
            return fer_fail(err, FER_ENOMEM, "architecture: out of memory");
    }
    return FER_OK;
}

static fer_status parse_input(const cJSON *in, fer_model *m, fer_error *err)
{
    int d[3], i = 0;
    if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) != 3)
        return fer_fail(err, FER_EFORMAT, "architecture: \"input\" must be [channels, height, width]");
    for (const cJSON *v = in->child; v; v = v->next, i++) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > MAX_DIM ||
            v->valuedouble != (double)(int)v->valuedouble)
            return fer_fail(err, FER_EFORMAT, "architecture: \"input\" sizes must be integers in 1..%d", MAX_DIM);
        d[i] = (int)v->valuedouble;
    }
    m->in_c = d[0], m->in_h = d[1], m->in_w = d[2];
    return FER_OK;
}

static fer_status parse_layers(const cJSON *ls, fer_model *m, fer_error *err)
{
    int n = cJSON_GetArraySize(ls);
    if (!cJSON_IsArray(ls) || n < 1 || n > MAX_LAYERS)
        return fer_fail(err, FER_EFORMAT, "architecture: \"layers\" must list 1..%d layers", MAX_LAYERS);
    if (!(m->layers = calloc((size_t)n, sizeof *m->layers)))
        return fer_fail(err, FER_ENOMEM, "architecture: out of memory");
    m->n_layers = n;
    int c = m->in_c, h = m->in_h, w = m->in_w, i = 0;
    for (const cJSON *o = ls->child; o; o = o->next, i++) {
        fer_layer *l = &m->layers[i];
        l->ic = c, l->ih = h, l->iw = w;
        fer_status s = parse_layer(o, i, l, err);
        if (s)
            return s;
        if ((double)l->oc * l->oh * l->ow > 1e8)
            return fer_fail(err, FER_ERANGE, "architecture: layer %d: output too large", i);
        c = l->oc, h = l->oh, w = l->ow;
    }
    const fer_layer *last = &m->layers[n - 1];
    if (last->kind != FER_L_DENSE || last->act != FER_ACT_SOFTMAX || last->oc != m->n_classes)
        return fer_fail(err, FER_EFORMAT,
                        "architecture: the last layer must be dense with softmax and %d units (one per class)",
                        m->n_classes);
    for (i = 0; i < n - 1; i++)
        if (m->layers[i].act == FER_ACT_SOFTMAX)
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: softmax only on the last layer", i);
    return FER_OK;
}

fer_status fer_arch_parse(const char *json, fer_model *m, fer_error *err)
{
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fer_fail(err, FER_EFORMAT, "architecture: not a JSON object");
    }
    fer_status s = parse_input(cJSON_GetObjectItemCaseSensitive(root, "input"), m, err);
    if (!s)
        s = parse_classes(cJSON_GetObjectItemCaseSensitive(root, "classes"), m, err);
    if (!s)
        s = parse_layers(cJSON_GetObjectItemCaseSensitive(root, "layers"), m, err);
    if (!s && !(m->arch_json = cJSON_PrintUnformatted(root)))
        s = fer_fail(err, FER_ENOMEM, "architecture: out of memory");
    cJSON_Delete(root);
    return s;
}
