/* fer-train's progress in a checkpoint (progress.h). */
#include "progress.h"

#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *progress_json(const progress *p)
{
    cJSON *o = cJSON_CreateObject();
    char buf[32];
    cJSON_AddNumberToObject(o, "epoch", p->epoch);
    cJSON *rng = cJSON_AddArrayToObject(o, "rng");
    for (int i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "%016" PRIx64, p->rng.s[i]);
        cJSON_AddItemToArray(rng, cJSON_CreateString(buf));
    }
    cJSON_AddNumberToObject(o, "best_val_acc", p->best_val_acc);
    cJSON_AddNumberToObject(o, "best_val_loss", p->best_val_loss);
    cJSON_AddNumberToObject(o, "since_best_loss", p->since_best_loss);
    cJSON_AddNumberToObject(o, "since_lr_change", p->since_lr_change);
    cJSON *h = cJSON_AddArrayToObject(o, "history");
    for (int e = 0; e < p->epoch; e++) {
        const epoch_row *r = &p->rows[e];
        double v[7] = {r->loss, r->acc, r->val_loss, r->val_acc, r->lr, r->seconds, r->images_per_s};
        cJSON_AddItemToArray(h, cJSON_CreateDoubleArray(v, 7));
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* o[k], a number within [lo, hi] (whole when `whole`), else *ok = 0 and 0:
 * checked as a double, so that 1e300 never reaches an int. */
static double num(const cJSON *o, const char *k, double lo, double hi, int whole, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(x >= lo && x <= hi) || (whole && x != floor(x))) {
        *ok = 0;
        return 0;
    }
    return x;
}

/* Four 64-bit words in hex, not all zero (xoshiro's one stuck state). */
static int parse_rng(const cJSON *rng, fer_rng *r)
{
    int ok = cJSON_IsArray(rng) && cJSON_GetArraySize(rng) == 4;
    uint64_t any = 0;
    for (int i = 0; ok && i < 4; i++) {
        const cJSON *s = cJSON_GetArrayItem(rng, i);
        size_t n = cJSON_IsString(s) ? strlen(s->valuestring) : 0;
        ok = n >= 1 && n <= 16 && strspn(s->valuestring, "0123456789abcdefABCDEF") == n;
        if (ok)
            any |= r->s[i] = strtoull(s->valuestring, NULL, 16);
    }
    return ok && any;
}

/* One history row: loss, accuracy, validation loss and accuracy, learning
 * rate, seconds, images a second; each a number in its range or null. */
static int parse_row(const cJSON *r, epoch_row *row)
{
    static const double hi[7] = {1e9, 1, 1e9, 1, 10, 1e9, 1e9};
    double v[7];
    int ok = cJSON_IsArray(r) && cJSON_GetArraySize(r) == 7;
    for (int k = 0; ok && k < 7; k++) {
        const cJSON *x = cJSON_GetArrayItem(r, k);
        v[k] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        ok = cJSON_IsNull(x) || (v[k] >= 0 && v[k] <= hi[k]);
    }
    if (ok)
        *row = (epoch_row){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    return ok;
}

int progress_parse(const char *json, progress *p, int max_epochs)
{
    cJSON *o = cJSON_Parse(json ? json : "");
    int ok = cJSON_IsObject(o);
    p->epoch = (int)num(o, "epoch", 0, max_epochs, 1, &ok);
    p->best_val_acc = num(o, "best_val_acc", -1, 1, 0, &ok);
    p->best_val_loss = num(o, "best_val_loss", 0, HUGE_VAL, 0, &ok);
    p->since_best_loss = (int)num(o, "since_best_loss", 0, p->epoch, 1, &ok);
    p->since_lr_change = (int)num(o, "since_lr_change", 0, p->epoch, 1, &ok);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "history");
    ok = ok && parse_rng(cJSON_GetObjectItemCaseSensitive(o, "rng"), &p->rng) &&
         cJSON_IsArray(h) && cJSON_GetArraySize(h) == p->epoch;
    const cJSON *r = ok ? h->child : NULL;
    for (int e = 0; ok && e < p->epoch; e++, r = r->next)
        ok = parse_row(r, &p->rows[e]);
    cJSON_Delete(o);
    return ok;
}
