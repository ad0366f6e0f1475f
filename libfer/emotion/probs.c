/* Probability files: a model's (or an ensemble's) class probabilities for
 * the images of a data set, one CSV line an image ("row,hash,<class>...";
 * docs/dataset.md). fer-eval --probs writes them, fer-train --soft-targets
 * trains against them (distillation from teachers run once, not at every
 * step). The hash of each image's pixels ties a line to its image, so a file
 * made from another data set, or from the same one read differently, is
 * refused instead of silently misaligned. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/csv.h"

enum { MAX_BYTES = 256 << 20, MAX_CLASSES = 64, MSG_CAP = 200 };

/* FNV-1a (32 bits) of an image's pixels. */
static uint32_t pixels_hash(const fer_dataset *ds, size_t row)
{
    const uint8_t *p = ds->pixels + row * (size_t)ds->h * (size_t)ds->w;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < (size_t)ds->h * (size_t)ds->w; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

fer_status fer_probs_write(const char *path, const fer_dataset *ds, const size_t *rows, size_t n,
                           const float *probs, const fer_model *m, fer_error *err)
{
    if (!path || !ds || (n && (!rows || !probs)) || !m)
        return fer_fail(err, FER_EINVAL, "fer_probs_write: no path, data set, rows or model");
    int k = fer_model_n_classes(m);
    if (k > MAX_CLASSES)
        return fer_fail(err, FER_EINVAL, "fer_probs_write: %d classes, at most %d", k, MAX_CLASSES);
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= ds->n)
            return fer_fail(err, FER_EINVAL, "fer_probs_write: row %zu is not in the data set",
                            rows[i]);
    fer_afile f;
    fer_status s = fer_afile_open(&f, path, err);
    if (s)
        return s;
    char line[64 + MAX_CLASSES * 16];
    int len = snprintf(line, sizeof line, "row,hash");
    for (int c = 0; c < k && len < (int)sizeof line; c++)
        len += snprintf(line + len, sizeof line - (size_t)len, ",%s", fer_model_class_name(m, c));
    fer_afile_write(&f, line, (size_t)len);
    fer_afile_write(&f, "\n", 1);
    for (size_t i = 0; i < n; i++) {
        len = snprintf(line, sizeof line, "%zu,%08x", rows[i], (unsigned)pixels_hash(ds, rows[i]));
        for (int c = 0; c < k; c++)
            len += snprintf(line + len, sizeof line - (size_t)len, ",%.6g",
                            (double)probs[i * (size_t)k + (size_t)c]);
        line[len++] = '\n';
        fer_afile_write(&f, line, (size_t)len);
    }
    return fer_afile_commit(&f, err);
}

/* The column of each of m's classes in the header (by name), and those of
 * "row" and "hash". */
static fer_status map_header(const char *path, const fer_csv *c, const fer_model *m, int *col,
                             int *row_col, int *hash_col, fer_error *err)
{
    int k = fer_model_n_classes(m);
    *row_col = *hash_col = -1;
    for (int j = 0; j < k; j++)
        col[j] = -1;
    for (size_t i = 0; i < c->n_fields; i++) {
        const char *name = fer_csv_field(c, i);
        int *slot = !strcmp(name, "row") ? row_col : !strcmp(name, "hash") ? hash_col : NULL;
        for (int j = 0; !slot && j < k; j++)
            if (!strcmp(name, fer_model_class_name(m, j)))
                slot = &col[j];
        if (!slot)
            return fer_fail(err, FER_EFORMAT, "%s:%zu: column '%s' is neither row, hash nor a class "
                            "of the model", path, c->line, name);
        if (*slot >= 0)
            return fer_fail(err, FER_EFORMAT, "%s:%zu: column '%s' twice", path, c->line, name);
        *slot = (int)i;
    }
    if (*row_col < 0 || *hash_col < 0)
        return fer_fail(err, FER_EFORMAT, "%s:%zu: the header lacks the %s column", path, c->line,
                        *row_col < 0 ? "row" : "hash");
    for (int j = 0; j < k; j++)
        if (col[j] < 0)
            return fer_fail(err, FER_EFORMAT, "%s:%zu: no column for the model's class '%s'", path,
                            c->line, fer_model_class_name(m, j));
    return FER_OK;
}

/* One line: its row's probabilities into t (NAN until then). */
static fer_status read_line(const char *path, const fer_csv *c, const fer_dataset *ds,
                            const fer_model *m, const int *col, int row_col, int hash_col, float *t,
                            fer_error *err)
{
    int k = fer_model_n_classes(m);
    if (c->n_fields != (size_t)k + 2)
        return fer_fail(err, FER_EFORMAT, "%s:%zu: %zu fields, the header has %d", path, c->line,
                        c->n_fields, k + 2);
    long row;
    if (!fer_parse_integer(fer_csv_field(c, (size_t)row_col), 0, (long)ds->n - 1, &row))
        return fer_fail(err, FER_EFORMAT, "%s:%zu: row '%s' is not an image of the data set "
                        "(0..%zu)", path, c->line, fer_csv_field(c, (size_t)row_col), ds->n - 1);
    char want[16];
    snprintf(want, sizeof want, "%08x", (unsigned)pixels_hash(ds, (size_t)row));
    if (strcmp(fer_csv_field(c, (size_t)hash_col), want))
        return fer_fail(err, FER_EFORMAT, "%s:%zu: hash %s, but image %ld of the data has %s (a "
                        "file made from other data?)", path, c->line,
                        fer_csv_field(c, (size_t)hash_col), row, want);
    float *dst = t + (size_t)row * (size_t)k;
    if (!isnan(dst[0]))
        return fer_fail(err, FER_EFORMAT, "%s:%zu: row %ld a second time", path, c->line, row);
    double sum = 0;
    for (int j = 0; j < k; j++) {
        double p;
        if (!fer_parse_number(fer_csv_field(c, (size_t)col[j]), 0, 1, &p))
            return fer_fail(err, FER_EFORMAT, "%s:%zu: %s '%s' is not a probability (0..1)", path,
                            c->line, fer_model_class_name(m, j), fer_csv_field(c, (size_t)col[j]));
        dst[j] = (float)p;
        sum += p;
    }
    if (fabs(sum - 1) > 1e-3)
        return fer_fail(err, FER_EFORMAT, "%s:%zu: the probabilities sum to %.6g, not 1", path,
                        c->line, sum);
    return FER_OK;
}

fer_status fer_probs_read(const char *path, const fer_dataset *ds, const fer_model *m, float **out,
                          fer_error *err)
{
    if (!path || !ds || !m || !out || !ds->n)
        return fer_fail(err, FER_EINVAL, "fer_probs_read: no path, data set, model or output");
    *out = NULL;
    int k = fer_model_n_classes(m), col[MAX_CLASSES], row_col, hash_col;
    if (k > MAX_CLASSES)
        return fer_fail(err, FER_EINVAL, "fer_probs_read: %d classes, at most %d", k, MAX_CLASSES);
    char *data;
    size_t len;
    fer_status s = fer_file_read(path, MAX_BYTES, &data, &len, err);
    if (s)
        return s;
    float *t = malloc((size_t)k * ds->n * sizeof *t);
    if (!t) {
        free(data);
        return fer_fail(err, FER_ENOMEM, "%s: out of memory for %zu images", path, ds->n);
    }
    for (size_t i = 0; i < (size_t)k * ds->n; i++)
        t[i] = NAN;
    fer_csv c;
    fer_csv_opts o = {.max_fields = (size_t)k + 3};
    fer_csv_init(&c, data, len, &o);
    char msg[MSG_CAP];
    int r = FER_CSV_END, header = 1;
    while (!s && (r = fer_csv_next(&c, msg, sizeof msg)) == FER_CSV_RECORD) {
        s = header ? map_header(path, &c, m, col, &row_col, &hash_col, err)
                   : read_line(path, &c, ds, m, col, row_col, hash_col, t, err);
        header = 0;
    }
    if (!s && r != FER_CSV_END)
        s = r == FER_CSV_NOMEM ? fer_fail(err, FER_ENOMEM, "%s: out of memory", path)
                               : fer_fail(err, FER_EFORMAT, "%s:%zu: %s", path, c.line, msg);
    else if (!s && header)
        s = fer_fail(err, FER_EFORMAT, "%s: empty (no header)", path);
    fer_csv_free(&c);
    free(data);
    if (s) {
        free(t);
        return s;
    }
    *out = t;
    return FER_OK;
}
