/* An ensemble as one model: the members' graphs side by side in one
 * architecture, each reading the input, their last (dense) layers giving
 * logits to an "average" node with softmax (add.c). Averaging logits is the
 * geometric mean of the members' probabilities, renormalised. The parameters
 * and buffers are copied in file order, which is the members' orders one
 * after the other, so the result saves and loads like any model. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"

static int same_classes(const fer_model *a, const fer_model *b)
{
    if (a->n_classes != b->n_classes || a->in_c != b->in_c || a->in_h != b->in_h ||
        a->in_w != b->in_w)
        return 0;
    for (int i = 0; i < a->n_classes; i++)
        if (strcmp(a->classes[i], b->classes[i]))
            return 0;
    return 1;
}

/* A node reference in the merged list: "input" or the node's index. */
static cJSON *ref(int node, int base)
{
    char s[16];
    snprintf(s, sizeof s, "%d", base + node);
    return cJSON_CreateString(node == FER_NODE_INPUT ? "input" : s);
}

/* Member m's layers appended to out (names dropped, every input named by
 * its index from base); its last layer loses the softmax (logits). */
static int append_member(const fer_model *m, int base, cJSON *out)
{
    cJSON *root = cJSON_Parse(m->arch_json);
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(root, "layers");
    int i = 0, ok = cJSON_GetArraySize(ls) == m->n_layers;
    for (const cJSON *o = ok ? ls->child : NULL; ok && o; o = o->next, i++) {
        cJSON *c = cJSON_Duplicate(o, 1), *ins = cJSON_CreateArray();
        ok = c && ins;
        if (ok) {
            cJSON_DeleteItemFromObjectCaseSensitive(c, "name");
            cJSON_DeleteItemFromObjectCaseSensitive(c, "inputs");
            if (i == m->n_layers - 1)
                cJSON_DeleteItemFromObjectCaseSensitive(c, "activation");
            for (int k = 0; k < m->layers[i].n_in; k++)
                cJSON_AddItemToArray(ins, ref(m->layers[i].in[k], base));
            cJSON_AddItemToObject(c, "inputs", ins);
            cJSON_AddItemToArray(out, c);
        } else {
            cJSON_Delete(c);
            cJSON_Delete(ins);
        }
    }
    cJSON_Delete(root);
    return ok;
}

/* The merged architecture's JSON, or NULL when out of memory. */
static char *merged_arch(const fer_model *const *members, int n)
{
    cJSON *root = cJSON_Parse(members[0]->arch_json), *layers = cJSON_CreateArray(),
          *avg = cJSON_CreateObject(), *heads = cJSON_CreateArray();
    int ok = root && layers && avg && heads, base = 0;
    for (int j = 0; ok && j < n; j++) {
        ok = append_member(members[j], base, layers);
        base += members[j]->n_layers;
        cJSON_AddItemToArray(heads, ref(members[j]->n_layers - 1, base - members[j]->n_layers));
    }
    char *json = NULL;
    if (ok) {
        cJSON_AddStringToObject(avg, "type", "average");
        cJSON_AddItemToObject(avg, "inputs", heads);
        cJSON_AddStringToObject(avg, "activation", "softmax");
        cJSON_AddItemToArray(layers, avg);
        cJSON_ReplaceItemInObjectCaseSensitive(root, "layers", layers);
        json = cJSON_PrintUnformatted(root);
    } else {
        cJSON_Delete(layers);
        cJSON_Delete(avg);
        cJSON_Delete(heads);
    }
    cJSON_Delete(root);
    return json;
}

/* dst's tensors from the members' (the same count and sizes, in order). */
static int copy_tensors(fer_param *dst, int n_dst, const fer_model *const *members, int n,
                        int buffers)
{
    int d = 0;
    for (int j = 0; j < n; j++) {
        const fer_model *m = members[j];
        const fer_param *src = buffers ? m->buffers : m->params;
        for (int i = 0; i < (buffers ? m->n_buffers : m->n_params); i++, d++) {
            if (d >= n_dst || dst[d].value->size != src[i].value->size)
                return 0;
            memcpy(dst[d].value->data, src[i].value->data, src[i].value->size * sizeof(float));
        }
    }
    return d == n_dst;
}

fer_status fer_model_ensemble(const fer_model *const *members, int n, fer_model **out,
                              fer_error *err)
{
    *out = NULL;
    if (n < 2 || n > FER_MAX_INPUTS)
        return fer_fail(err, FER_EINVAL, "ensemble: 2..%d models, not %d", FER_MAX_INPUTS, n);
    for (int j = 1; j < n; j++)
        if (!same_classes(members[0], members[j]))
            return fer_fail(err, FER_EINVAL, "ensemble: model %d's input shape or classes differ "
                            "from model 1's (an ensemble needs the same, in the same order)",
                            j + 1);
    char *json = merged_arch(members, n);
    if (!json)
        return fer_fail(err, FER_ENOMEM, "ensemble: out of memory");
    fer_model *m = NULL;
    fer_status s = fer_model_from_json_bare(json, &m, err);
    free(json);
    if (s)
        return s;
    if (!copy_tensors(m->params, m->n_params, members, n, 0) ||
        !copy_tensors(m->buffers, m->n_buffers, members, n, 1)) {
        fer_model_free(m);
        return fer_fail(err, FER_EINVAL, "ensemble: the members' tensors do not match their "
                        "architectures");
    }
    m->weights_gen++;
    *out = m;
    return FER_OK;
}
