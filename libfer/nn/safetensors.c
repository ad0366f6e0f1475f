/* The weights file: safetensors. An 8-byte little-endian header length, a
 * JSON header naming each tensor's dtype (F32), shape and byte range, then
 * the raw little-endian data. __metadata__ holds the architecture, classes,
 * input shape and preprocessing, so one file is a complete model; a
 * checkpoint adds the optimiser's state tensors ("adam.m.*", "adam.v.*";
 * "sgd.v.*") and settings ("adam.lr", ...).
 * Loading trusts nothing: every offset, size and shape is checked. */
#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"

enum { MAX_HEADER = 64 << 20 };
/* Adam's step count, at most: exact as a double, far from overflowing. */
static const double MAX_ITERATIONS = 9007199254740992.0; /* 2^53 */
static const size_t MAX_FILE = (size_t)4 << 30;
static const char PREPROCESS[] = "grey uint8 / 255";

static int host_is_le(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void copy_le(void *dst, const void *src, size_t n_floats)
{
    memcpy(dst, src, n_floats * 4);
    if (!host_is_le()) {
        uint8_t *b = dst;
        for (size_t i = 0; i < n_floats * 4; i += 4) {
            uint8_t t0 = b[i], t1 = b[i + 1];
            b[i] = b[i + 3], b[i + 1] = b[i + 2], b[i + 2] = t1, b[i + 3] = t0;
        }
    }
}

/* ---------------------------------------------------------------- saving */

static void write_le(fer_afile *f, const float *x, size_t n)
{
    if (host_is_le()) {
        fer_afile_write(f, x, n * 4);
        return;
    }
    float chunk[1024];
    for (size_t i = 0; i < n; i += 1024) {
        size_t k = n - i < 1024 ? n - i : 1024;
        copy_le(chunk, x + i, k);
        fer_afile_write(f, chunk, k * 4);
    }
}

/* Every tensor a file holds for (m, opt), in file order: each parameter
 * followed by its optimiser slots, then the buffers (running statistics). */
typedef struct entry { char name[96]; fer_tensor *t; } entry;

static entry *collect(fer_model *m, fer_optim *opt, int *n_out)
{
    int slots = opt ? fer_optim_n_slots(opt) : 0, n = 0;
    entry *e = calloc((size_t)m->n_params * (size_t)(1 + slots) + (size_t)m->n_buffers + 1,
                      sizeof *e);
    for (int i = 0; e && i < m->n_params; i++) {
        e[n].t = m->params[i].value;
        snprintf(e[n++].name, sizeof e->name, "%s", m->params[i].name);
        for (int k = 0; k < slots; k++) {
            e[n].t = fer_optim_slot(opt, i, k);
            snprintf(e[n++].name, sizeof e->name, "%s%s", fer_optim_slot_prefix(opt, k),
                     m->params[i].name);
        }
    }
    for (int i = 0; e && i < m->n_buffers; i++) {
        e[n].t = m->buffers[i].value;
        snprintf(e[n++].name, sizeof e->name, "%s", m->buffers[i].name);
    }
    *n_out = n;
    return e;
}

/* "<prefix>.<key>": v as a whole number (whole) or with 9 significant digits. */
static void add_meta(cJSON *md, const char *prefix, const char *key, int whole, double v)
{
    char k[64], buf[64];
    snprintf(k, sizeof k, "%s.%s", prefix, key);
    if (whole)
        snprintf(buf, sizeof buf, "%" PRId64, (int64_t)v);
    else
        snprintf(buf, sizeof buf, "%.9g", v);
    cJSON_AddStringToObject(md, k, buf);
}

/* The optimiser's settings: "<kind>.iterations", ".lr", ".decay", and what
 * differs from Adam's defaults (an Adam checkpoint reads as it always did). */
static void optim_meta(cJSON *md, const fer_optim *opt)
{
    fer_optim_opts o;
    fer_optim_get_opts(opt, &o);
    const char *p = fer_optim_kind_name(o.kind);
    add_meta(md, p, "iterations", 1, (double)fer_optim_iterations(opt));
    add_meta(md, p, "lr", 0, o.lr);
    add_meta(md, p, "decay", 0, o.decay);
    if (o.kind == FER_SGD) {
        add_meta(md, p, "momentum", 0, o.momentum);
        add_meta(md, p, "nesterov", 1, o.nesterov);
    }
    if (o.weight_decay > 0)
        add_meta(md, p, "weight_decay", 0, o.weight_decay);
}

static cJSON *metadata(const fer_model *m, const fer_optim *opt, const char *extra)
{
    cJSON *md = cJSON_CreateObject();
    char buf[64 * 72] = "";
    size_t off = 0;
    for (int i = 0; i < m->n_classes; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", i ? "," : "", m->classes[i]);
    cJSON_AddStringToObject(md, "format", "libfer");
    cJSON_AddStringToObject(md, "libfer_version", FER_VERSION);
    cJSON_AddStringToObject(md, "arch", m->arch_json);
    cJSON_AddStringToObject(md, "classes", buf);
    snprintf(buf, sizeof buf, "%d,%d,%d", m->in_c, m->in_h, m->in_w);
    cJSON_AddStringToObject(md, "input", buf);
    cJSON_AddStringToObject(md, "preprocess", PREPROCESS);
    if (opt)
        optim_meta(md, opt);
    if (extra)
        cJSON_AddStringToObject(md, "fer.extra", extra);
    return md;
}

fer_status fer_model_save(const fer_model *mc, const fer_optim *optc, const char *extra_meta,
                          const char *path, fer_error *err)
{
    fer_model *m = (fer_model *)mc; /* tensors are only read */
    fer_optim *opt = (fer_optim *)optc;
    int n;
    entry *ents = collect(m, opt, &n);
    cJSON *hdr = ents ? cJSON_CreateObject() : NULL;
    if (!hdr) {
        free(ents);
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(hdr, ents[i].name);
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON_AddItemToObject(e, "shape", cJSON_CreateIntArray(ents[i].t->shape, ents[i].t->ndim));
        double range[2] = {(double)off, (double)(off + ents[i].t->size * 4)};
        cJSON_AddItemToObject(e, "data_offsets", cJSON_CreateDoubleArray(range, 2));
        off += ents[i].t->size * 4;
    }
    cJSON_AddItemToObject(hdr, "__metadata__", metadata(m, opt, extra_meta));
    char *json = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    if (!json) {
        free(ents);
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    }
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8; /* pad: data 8-byte aligned */
    uint8_t *head = malloc(8 + hlen);
    fer_afile f;
    fer_status s = head ? fer_afile_open(&f, path, err)
                        : fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    if (!s) {
        for (int i = 0; i < 8; i++)
            head[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
        memset(head + 8, ' ', hlen);
        memcpy(head + 8, json, jlen);
        fer_afile_write(&f, head, 8 + hlen);
        /* Tensors go straight from memory to the file: no second copy of
         * a checkpoint (28 MB for the paper CNN) is ever held. */
        for (int i = 0; i < n; i++)
            write_le(&f, ents[i].t->data, ents[i].t->size);
        s = fer_afile_commit(&f, err);
    }
    free(head);
    free(json);
    free(ents);
    return s;
}

/* --------------------------------------------------------------- loading */

typedef struct span { size_t begin, end; } span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Checks one header entry: F32, a valid shape, a byte range matching it. */
static fer_status check_entry(const char *path, const cJSON *e, size_t data_len, int *shape,
                              int *ndim, span *sp, fer_error *err)
{
    const char *name = e->string;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsObject(e) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) ||
        cJSON_GetArraySize(of) != 2)
        return fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\": needs dtype, shape and data_offsets",
                        path, name);
    if (strcmp(dt->valuestring, "F32"))
        return fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\": dtype %.16s (only F32 is supported)",
                        path, name, dt->valuestring);
    *ndim = cJSON_GetArraySize(sh);
    if (*ndim < 1 || *ndim > FER_MAX_DIMS)
        return fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\": %d dimensions", path, name, *ndim);
    double count = 1;
    int i = 0;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > (1 << 28) ||
            d->valuedouble != (double)(int)d->valuedouble)
            return fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\": bad shape", path, name);
        shape[i] = (int)d->valuedouble;
        count *= shape[i];
    }
    double b = cJSON_GetArrayItem(of, 0)->valuedouble, en = cJSON_GetArrayItem(of, 1)->valuedouble;
    if (!cJSON_IsNumber(of->child) || !cJSON_IsNumber(of->child->next) || b < 0 || en < b ||
        en > (double)data_len || b != (double)(size_t)b || en != (double)(size_t)en)
        return fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\": data_offsets outside the file's %zu data bytes",
                        path, name, data_len);
    if (en - b != count * 4)
        return fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\": %g bytes for a shape of %g floats",
                        path, name, en - b, count);
    sp->begin = (size_t)b;
    sp->end = (size_t)en;
    return FER_OK;
}

static const char *meta_str(const cJSON *md, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static fer_status load_tensors(const char *path, const cJSON *hdr, const uint8_t *data,
                               size_t data_len, fer_model *m, fer_optim *opt, fer_error *err)
{
    int n = cJSON_GetArraySize(hdr), ns = 0, n_ent;
    entry *ents = collect(m, opt, &n_ent);
    span *spans = calloc((size_t)n + 1, sizeof *spans);
    unsigned char *seen = calloc((size_t)n_ent + 1, 1);
    fer_status s = ents && spans && seen ? FER_OK
                                         : fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    for (const cJSON *e = hdr->child; e && !s; e = e->next) {
        if (!strcmp(e->string, "__metadata__"))
            continue;
        int shape[FER_MAX_DIMS] = {0}, ndim = 0, k = 0;
        if ((s = check_entry(path, e, data_len, shape, &ndim, &spans[ns], err)))
            break;
        while (k < n_ent && strcmp(ents[k].name, e->string))
            k++;
        /* A model file may carry optimiser state that a plain load skips. */
        int skip = k == n_ent && !opt && (!strncmp(e->string, "adam.", 5) ||
                                          !strncmp(e->string, "sgd.", 4));
        if (k == n_ent && !skip) {
            s = fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\" is not part of the architecture",
                         path, e->string);
            break;
        }
        if (k < n_ent && seen[k]++) {
            s = fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\" is listed twice", path,
                         e->string);
            break;
        }
        fer_tensor *t = k < n_ent ? ents[k].t : NULL;
        if (t && (ndim != t->ndim || memcmp(shape, t->shape, (size_t)ndim * sizeof *shape))) {
            s = fer_fail(err, FER_EFORMAT, "%s: tensor \"%.60s\" has a shape the architecture does not",
                         path, e->string);
            break;
        }
        if (t)
            copy_le(t->data, data + spans[ns].begin, t->size);
        ns++;
    }
    /* Byte ranges must tile the data exactly: no overlap, no hole. */
    if (!s)
        qsort(spans, (size_t)ns, sizeof *spans, span_cmp);
    size_t at = 0;
    for (int i = 0; !s && i < ns; i++) {
        if (spans[i].begin != at)
            s = fer_fail(err, FER_EFORMAT, "%s: tensor data overlap or leave a gap at byte %zu", path, at);
        at = spans[i].end;
    }
    if (!s && at != data_len)
        s = fer_fail(err, FER_EFORMAT, "%s: %zu data bytes but the tensors cover %zu", path, data_len, at);
    /* Every tensor, and for a checkpoint the optimiser's, must be there. */
    for (int k = 0; !s && k < n_ent; k++)
        if (!seen[k])
            s = fer_fail(err, FER_EFORMAT, "%s: tensor \"%s\" is missing (the %s needs it)", path,
                         ents[k].name, opt ? "checkpoint" : "architecture");
    m->weights_gen++; /* whatever was written */
    free(seen);
    free(spans);
    free(ents);
    return s;
}

/* text, all of it a number within [lo, hi] (as a double: whole numbers exact up to 2^53). */
static int meta_number(const char *text, double lo, double hi, double *out)
{
    *out = NAN;
    return fer_parse_number(text, lo, hi, out);
}

static const char *meta_key(const cJSON *md, const char *prefix, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "%s.%s", prefix, key);
    return meta_str(md, k);
}

/* The optimiser of a checkpoint, from "adam.*" or "sgd.*" settings, every
 * number range-checked before any conversion (nor the step count can
 * overflow on the next step). */
static fer_status restore_optim(const char *path, const cJSON *md, fer_model *m, fer_optim **opt,
                                fer_error *err)
{
    fer_optim_opts o;
    fer_optim_opts_default(&o, meta_str(md, "sgd.iterations") ? FER_SGD : FER_ADAM);
    const char *p = fer_optim_kind_name(o.kind);
    const char *it = meta_key(md, p, "iterations"), *lr = meta_key(md, p, "lr"),
               *dc = meta_key(md, p, "decay"), *wd = meta_key(md, p, "weight_decay");
    if (!it || !lr || !dc)
        return fer_fail(err, FER_EFORMAT, "%s: not a checkpoint (no optimiser state in "
                        "__metadata__)", path);
    double iters, lrv, dcv, wdv = 0, mom = 0, nest = 0;
    if (!meta_number(it, 0, MAX_ITERATIONS, &iters) || iters != floor(iters))
        return fer_fail(err, FER_EFORMAT, "%s: %s.iterations \"%.40s\" is not an integer in "
                        "0..2^53", path, p, it);
    if (!meta_number(lr, 0, 10, &lrv) || !meta_number(dc, 0, 1e3, &dcv) || lrv == 0 ||
        lrv == 10 || dcv == 1e3)
        return fer_fail(err, FER_EFORMAT, "%s: %s.lr \"%.40s\" or %s.decay \"%.40s\" is "
                        "outside (0, 10) or [0, 1000)", path, p, lr, p, dc);
    if (wd && (!meta_number(wd, 0, 1, &wdv) || wdv == 1))
        return fer_fail(err, FER_EFORMAT, "%s: %s.weight_decay \"%.40s\" is outside [0, 1)",
                        path, p, wd);
    if (o.kind == FER_SGD) {
        const char *mo = meta_key(md, p, "momentum"), *ne = meta_key(md, p, "nesterov");
        if (!mo || !ne || !meta_number(mo, 0, 1, &mom) || mom == 1 ||
            !meta_number(ne, 0, 1, &nest) || nest != floor(nest))
            return fer_fail(err, FER_EFORMAT, "%s: sgd.momentum (in [0, 1)) or sgd.nesterov (0 "
                            "or 1) missing or out of range", path);
    }
    o.lr = (float)lrv, o.decay = (float)dcv, o.weight_decay = (float)wdv;
    o.momentum = (float)mom, o.nesterov = (int)nest;
    fer_status s = fer_optim_new(m, &o, opt, err);
    if (!s)
        fer_optim_set_iterations(*opt, (int64_t)iters);
    return s;
}

static fer_status parse_file(const char *path, const char *buf, size_t len, fer_model **model,
                             fer_optim **opt, char **extra, fer_error *err)
{
    if (len < 8)
        return fer_fail(err, FER_EFORMAT, "%s: not a model file (%zu bytes: too short for a "
                        "safetensors header)", path, len);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)(uint8_t)buf[i] << (8 * i);
    /* The JSON header starts right after its length: without a '{' there the
     * file is something else (a CSV, an image), not a damaged model. */
    if (len > 8 && buf[8] != '{')
        return fer_fail(err, FER_EFORMAT, "%s: not a model file (no safetensors header: byte 8 "
                        "is not the '{' of a JSON header)", path);
    if (hlen < 2 || hlen > MAX_HEADER || hlen > len - 8)
        return fer_fail(err, FER_EFORMAT, "%s: damaged or truncated: header length %" PRIu64
                        " does not fit the %zu-byte file", path, hlen, len);
    cJSON *hdr = cJSON_ParseWithLength(buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(hdr)) {
        cJSON_Delete(hdr);
        return fer_fail(err, FER_EFORMAT, "%s: the header is not a JSON object", path);
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(hdr, "__metadata__");
    const char *arch = meta_str(md, "arch");
    fer_status s = FER_OK;
    if (!arch)
        s = fer_fail(err, FER_EFORMAT, "%s: no architecture in __metadata__ (not a libfer model)", path);
    if (!s)
        s = fer_model_from_json_bare(arch, model, err); /* every tensor is in the file */
    if (s && *model == NULL && arch) /* prefix the architecture error with the file */
        fer_fail_prefix(err, s, path);
    if (!s && opt)
        s = restore_optim(path, md, *model, opt, err);
    if (!s)
        s = load_tensors(path, hdr, (const uint8_t *)buf + 8 + hlen, len - 8 - (size_t)hlen, *model,
                         opt ? *opt : NULL, err);
    const char *ex = meta_str(md, "fer.extra");
    if (!s && extra && ex && !(*extra = strdup(ex)))
        s = fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    cJSON_Delete(hdr);
    return s;
}

fer_status fer_checkpoint_load(const char *path, fer_model **model, fer_optim **opt,
                               char **extra_meta, fer_error *err)
{
    *model = NULL;
    if (opt)
        *opt = NULL;
    if (extra_meta)
        *extra_meta = NULL;
    char *buf;
    size_t len;
    fer_status s = fer_file_read(path, MAX_FILE, &buf, &len, err);
    if (s)
        return s;
    s = parse_file(path, buf, len, model, opt, extra_meta, err);
    free(buf);
    if (s) {
        if (opt) {
            fer_optim_free(*opt);
            *opt = NULL;
        }
        if (extra_meta) {
            free(*extra_meta);
            *extra_meta = NULL;
        }
        fer_model_free(*model);
        *model = NULL;
    }
    return s;
}

fer_status fer_model_load(const char *path, fer_model **out, fer_error *err)
{
    return fer_checkpoint_load(path, out, NULL, NULL, err);
}
