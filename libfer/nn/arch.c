/* Architecture descriptions: JSON in, validated nodes and shapes out.
 *
 *   {"input":[1,48,48], "classes":["angry",...],
 *    "layers":[{"type":"conv2d","filters":32,"kernel":3,"padding":"valid","activation":"relu"},
 *              {"type":"batchnorm","name":"b1"}, {"type":"conv2d",...,"padding":"same"},
 *              {"type":"add","inputs":["b1","2"],"activation":"relu"},
 *              {"type":"maxpool2d","size":2,"stride":2}, {"type":"dropout","rate":0.25},
 *              {"type":"globalavgpool"}, {"type":"flatten"},
 *              {"type":"dense","units":7,"activation":"softmax"}]}
 *
 * A layer takes the previous layer's output (the model's input for the
 * first) unless it lists "inputs": names of earlier layers (a "name" given,
 * or the layer's index in the list) or "input". The last layer must be
 * dense with softmax over as many units as classes, or (an ensemble,
 * ensemble.c) an average of such logits with softmax. Each layer's keys are
 * read by its own file (layers.h: fer_layer_ops.parse). */
#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"

enum { MAX_LAYERS = 256, MAX_DIM = 4096, MAX_CLASSES = 64 };

static const fer_layer_ops *const kinds[] = {
    &fer_conv_ops, &fer_depthwise_ops, &fer_dense_ops, &fer_maxpool_ops, &fer_dropout_ops,
    &fer_flatten_ops, &fer_relu_ops, &fer_batchnorm_ops, &fer_add_ops, &fer_average_ops,
    &fer_gap_ops,
};

static const fer_layer_ops *find_kind(const char *type)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i]->type, type))
            return kinds[i];
    return NULL;
}

/* The node a reference names among the first `before` layers ("input":
 * the model's input); -2 when none. */
static int find_node(const cJSON *ls, int before, const char *ref)
{
    if (!strcmp(ref, "input"))
        return FER_NODE_INPUT;
    int i = 0;
    for (const cJSON *o = ls->child; o && i < before; o = o->next, i++) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        if (cJSON_IsString(nm) ? !strcmp(nm->valuestring, ref) : !strcmp(idx, ref))
            return i;
    }
    return -2;
}

/* A name: 1-40 letters, digits, '_', '-' or '.', not all digits, not "input". */
static int good_name(const char *s)
{
    size_t n = strlen(s), digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
            return 0;
        digits += isdigit((unsigned char)s[i]) != 0;
    }
    return n >= 1 && n <= 40 && digits < n && strcmp(s, "input");
}

static fer_status parse_inputs(const cJSON *ls, const cJSON *o, int idx, fer_model *m,
                               fer_error *err)
{
    fer_layer *l = &m->layers[idx];
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (nm && (!cJSON_IsString(nm) || !good_name(nm->valuestring)))
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: \"name\" must be 1-40 "
                        "letters, digits, '_', '-' or '.', not a number nor \"input\"", idx);
    if (nm && find_node(ls, idx, nm->valuestring) != -2)
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: name \"%s\" is taken", idx,
                        nm->valuestring);
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(o, "inputs");
    if (!ins) {
        l->n_in = 1;
        l->in[0] = idx - 1 >= 0 ? idx - 1 : FER_NODE_INPUT;
    } else {
        int n = cJSON_GetArraySize(ins);
        if (!cJSON_IsArray(ins) || n < 1 || n > FER_MAX_INPUTS)
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: \"inputs\" must list "
                            "1..%d layer names", idx, FER_MAX_INPUTS);
        int k = 0;
        for (const cJSON *r = ins->child; r; r = r->next, k++) {
            int t = cJSON_IsString(r) ? find_node(ls, idx, r->valuestring) : -2;
            if (t == -2)
                return fer_fail(err, FER_EFORMAT, "architecture: layer %d: input %d names no "
                                "earlier layer", idx, k);
            l->in[k] = t;
        }
        l->n_in = n;
    }
    for (int k = 0; k < l->n_in; k++) {
        int t = l->in[k], *sh = l->in_shape[k];
        if (t == FER_NODE_INPUT)
            sh[0] = m->in_c, sh[1] = m->in_h, sh[2] = m->in_w;
        else
            sh[0] = m->layers[t].oc, sh[1] = m->layers[t].oh, sh[2] = m->layers[t].ow;
    }
    l->ic = l->in_shape[0][0], l->ih = l->in_shape[0][1], l->iw = l->in_shape[0][2];
    return FER_OK;
}

/* Fills one node's inputs, hyperparameters and output shape. */
static fer_status parse_layer(const cJSON *ls, const cJSON *o, int idx, fer_model *m,
                              fer_error *err)
{
    fer_layer *l = &m->layers[idx];
    l->index = idx;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsObject(o) || !cJSON_IsString(t))
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: needs a \"type\"", idx);
    if (!(l->ops = find_kind(t->valuestring)))
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d: unknown type \"%.40s\"", idx,
                        t->valuestring);
    fer_status s = parse_inputs(ls, o, idx, m, err);
    if (s)
        return s;
    l->oc = l->ic, l->oh = l->ih, l->ow = l->iw;
    if ((s = l->ops->parse(l, o, err)))
        return s;
    if (l->oh < 1 || l->ow < 1)
        return fer_fail(err, FER_EFORMAT, "architecture: layer %d (%s): input %dx%d is too small",
                        idx, l->ops->type, l->ih, l->iw);
    if ((double)l->oc * l->oh * l->ow > 1e8)
        return fer_fail(err, FER_ERANGE, "architecture: layer %d: output too large", idx);
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
    int i = 0;
    for (const cJSON *o = ls->child; o; o = o->next, i++) {
        fer_status s = parse_layer(ls, o, i, m, err);
        if (s)
            return s;
        if (m->layers[i].act == FER_ACT_SOFTMAX && i < n - 1)
            return fer_fail(err, FER_EFORMAT, "architecture: layer %d: softmax only on the last layer", i);
    }
    const fer_layer *last = &m->layers[n - 1];
    if ((last->ops != &fer_dense_ops && last->ops != &fer_average_ops) ||
        last->act != FER_ACT_SOFTMAX || last->oc != m->n_classes || last->oh != 1 || last->ow != 1)
        return fer_fail(err, FER_EFORMAT,
                        "architecture: the last layer must be dense (or an average of logits) "
                        "with softmax and %d units (one per class)", m->n_classes);
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
