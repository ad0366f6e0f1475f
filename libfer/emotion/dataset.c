/* The FER2013 Kaggle CSV reader (emotion,pixels[,Usage]).
 *
 * The file is ~300 MB of text for 35k rows, so it is parsed in one streaming
 * pass over a large fixed read buffer: lines are found with memchr, each line
 * split into fields by the one CSV reader (core/csv.c, its buffers kept from
 * line to line) and pixel values converted straight into the data set's
 * uint8 storage. There is no per-row allocation; the only growing memory is
 * the data set itself (geometric growth), and a line longer than MAX_LINE is
 * rejected rather than buffered, so garbage input cannot make memory balloon. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core.h"
#include "core/csv.h"

enum {
    IMG_SIDE = 48,
    ROW_PIXELS = IMG_SIDE * IMG_SIDE,
    /* A valid row is under 10 KB ("6," + 2304 * "255 " + ",PrivateTest"). */
    MAX_LINE = 1 << 16,
    READ_CHUNK = 1 << 20,
    MAX_FIELDS = 16,
    WHY_CAP = 256,
};

/* ------------------------------------------------------------ line reader */

typedef struct line_reader {
    FILE *f;
    char *buf;
    size_t cap, start, end; /* unread bytes are buf[start, end) */
    int eof;
    int skip_pending; /* the rest of an over-long line is still to be dropped */
    long line_no;     /* number of the line last returned */
} line_reader;

typedef struct line {
    char *s;
    size_t n;
    int too_long; /* content dropped: longer than MAX_LINE */
} line;

/* Compacts the buffer and reads more; 0 on success or EOF, -1 on read error. */
static int refill(line_reader *r)
{
    size_t left = r->end - r->start;
    memmove(r->buf, r->buf + r->start, left);
    r->start = 0;
    r->end = left;
    size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
    r->end += got;
    if (got == 0) {
        if (ferror(r->f))
            return -1;
        r->eof = 1;
    }
    return 0;
}

/* Drops bytes up to and including the next newline (or EOF). */
static int skip_rest_of_line(line_reader *r)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl) {
            r->start = (size_t)(nl - r->buf) + 1;
            return 0;
        }
        r->start = r->end;
        if (r->eof)
            return 0;
        if (refill(r) < 0)
            return -1;
    }
}

static void take_line(line_reader *r, size_t len, size_t consumed, line *out)
{
    out->s = r->buf + r->start;
    out->n = len;
    out->too_long = 0;
    if (out->n > 0 && out->s[out->n - 1] == '\r') /* CRLF is a valid ending */
        out->n--;
    r->start += consumed;
    r->line_no++;
}

/* Next line without its ending: 1 if one was read, 0 at EOF, -1 on read error.
 * An over-long line is returned flagged before its end is looked for, so a
 * caller that stops there never reads on (endless input cannot hang it). */
static int next_line(line_reader *r, line *out)
{
    if (r->skip_pending) {
        r->skip_pending = 0;
        if (skip_rest_of_line(r) < 0)
            return -1;
    }
    for (;;) {
        size_t avail = r->end - r->start;
        char *nl = memchr(r->buf + r->start, '\n', avail);
        if (nl) {
            size_t len = (size_t)(nl - (r->buf + r->start));
            take_line(r, len, len + 1, out);
            if (len > MAX_LINE) /* same verdict wherever the buffer boundary falls */
                *out = (line){.s = out->s, .n = 0, .too_long = 1};
            return 1;
        }
        if (avail > MAX_LINE) {
            r->line_no++;
            *out = (line){.s = r->buf + r->start, .n = 0, .too_long = 1};
            r->start = r->end;
            r->skip_pending = 1;
            return 1;
        }
        if (r->eof) {
            if (avail == 0)
                return 0;
            take_line(r, avail, avail, out); /* last line without a newline */
            return 1;
        }
        if (refill(r) < 0)
            return -1;
    }
}

/* ------------------------------------------------------------ fields */

typedef struct span {
    const char *p;
    size_t n;
} span;

/* Field i of the record the CSV reader holds. */
static span field(const fer_csv *csv, int i)
{
    return (span){fer_csv_field(csv, (size_t)i), fer_csv_field_len(csv, (size_t)i)};
}

/* A short printable rendering of untrusted text for error messages. */
static const char *shown(span s, char *out, size_t cap)
{
    size_t max = cap - 4, k = 0;
    for (; k < s.n && k < max; k++) {
        unsigned char c = (unsigned char)s.p[k];
        out[k] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (k < s.n)
        memcpy(out + k, "...", 4);
    else
        out[k] = 0;
    return out;
}

/* ------------------------------------------------------------ header */

typedef struct columns {
    int n, emotion, pixels, usage; /* indices, -1 when absent */
} columns;

static int name_is(span s, const char *name)
{
    return s.n == strlen(name) && strncasecmp(s.p, name, s.n) == 0;
}

/* The first non-blank line: k is what the CSV reader made of it. */
static int parse_header(const line *ln, const fer_csv *csv, int k, columns *c, char *why)
{
    span s = {ln->s, ln->n};
    char txt[48];
    if (s.n >= 3 && memcmp(s.p, "\xEF\xBB\xBF", 3) == 0) { /* the reader skipped it too */
        s.p += 3;
        s.n -= 3;
    }
    int n = k == FER_CSV_RECORD ? (int)csv->n_fields : 0;
    *c = (columns){n, -1, -1, -1};
    for (int i = 0; i < n; i++) {
        span t = field(csv, i);
        int *slot = name_is(t, "emotion") ? &c->emotion
                    : name_is(t, "pixels") ? &c->pixels
                    : name_is(t, "usage")  ? &c->usage
                                           : NULL;
        if (slot && *slot >= 0)
            return snprintf(why, WHY_CAP, "column '%s' appears twice", shown(t, txt, sizeof txt)),
                   -1;
        if (slot)
            *slot = i;
    }
    if (c->emotion < 0 || c->pixels < 0) {
        snprintf(why, WHY_CAP, "missing header: expected emotion,pixels[,Usage], got '%s'",
                 ln->too_long ? "(a very long line)" : shown(s, txt, sizeof txt));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ row values */

static int parse_emotion(span s, int *label, char *why)
{
    char txt[32];
    int v = 0;
    size_t i = 0;
    for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++)
        v = v < 1000 ? v * 10 + (s.p[i] - '0') : v; /* saturates: only range matters */
    if (s.n == 0 || i < s.n)
        return snprintf(why, WHY_CAP, "emotion '%s' is not a number", shown(s, txt, sizeof txt)),
               -1;
    if (v >= FER_N_EMOTIONS)
        return snprintf(why, WHY_CAP, "emotion %s out of range 0..%d", shown(s, txt, sizeof txt),
                        FER_N_EMOTIONS - 1),
               -1;
    *label = v;
    return 0;
}

static int parse_usage(span s, uint8_t *usage, char *why)
{
    static const char *const names[] = {"Training", "PublicTest", "PrivateTest"};
    char txt[32];
    for (int i = 0; i < 3; i++)
        if (name_is(s, names[i])) {
            *usage = (uint8_t)i;
            return 0;
        }
    snprintf(why, WHY_CAP, "Usage '%s' is not Training, PublicTest or PrivateTest",
             shown(s, txt, sizeof txt));
    return -1;
}

static int pixel_error(const char *tok, const char *e, size_t index, int too_big, char *why)
{
    const char *t = tok;
    while (t < e && *t != ' ' && *t != '\t')
        t++;
    char txt[32];
    shown((span){tok, (size_t)(t - tok)}, txt, sizeof txt);
    if (too_big)
        snprintf(why, WHY_CAP, "pixel %zu: value %s exceeds 255", index + 1, txt);
    else
        snprintf(why, WHY_CAP, "pixel %zu: '%s' is not a number 0..255", index + 1, txt);
    return -1;
}

/* The hot loop: space-separated decimal values into dst (at most ROW_PIXELS
 * are stored; the rest are only counted for the message). */
static int parse_pixels(span s, uint8_t *dst, char *why)
{
    const char *p = s.p, *e = s.p + s.n;
    size_t count = 0;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p == e)
            break;
        const char *tok = p;
        unsigned v = 0;
        while (p < e && (unsigned)(*p - '0') <= 9u) {
            v = v * 10u + (unsigned)(*p - '0');
            if (v > 255u)
                return pixel_error(tok, e, count, 1, why);
            p++;
        }
        if (p == tok || (p < e && *p != ' ' && *p != '\t'))
            return pixel_error(tok, e, count, 0, why);
        if (count < ROW_PIXELS)
            dst[count] = (uint8_t)v;
        count++;
    }
    if (count != ROW_PIXELS)
        return snprintf(why, WHY_CAP, "%zu pixel values, expected %d", count, ROW_PIXELS), -1;
    return 0;
}

/* ------------------------------------------------------------ storage */

static fer_status reserve_row(fer_dataset *ds, const char *name, fer_error *err)
{
    if (ds->n < ds->cap)
        return FER_OK;
    size_t cap = ds->cap ? ds->cap * 2 : 1024;
    if (cap > SIZE_MAX / 2 / ROW_PIXELS)
        return fer_fail(err, FER_ENOMEM, "%s: too many rows", name);
    uint8_t *px = realloc(ds->pixels, cap * ROW_PIXELS);
    if (px)
        ds->pixels = px;
    int *lb = px ? realloc(ds->labels, cap * sizeof *lb) : NULL;
    if (lb)
        ds->labels = lb;
    uint8_t *us = lb ? realloc(ds->usage, cap) : NULL;
    if (!us)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory after %zu rows", name, ds->n);
    ds->usage = us;
    ds->cap = cap;
    return FER_OK;
}

/* Parses the record the CSV reader holds into slot ds->n; 0 if valid, else -1
 * with *why. */
static int parse_row(const fer_csv *csv, const columns *c, fer_dataset *ds, char *why)
{
    int n = (int)csv->n_fields;
    if (n != c->n)
        return snprintf(why, WHY_CAP, "%d fields, expected %d as in the header", n, c->n), -1;
    uint8_t usage = FER_USAGE_NONE;
    if (parse_emotion(field(csv, c->emotion), &ds->labels[ds->n], why) < 0 ||
        (c->usage >= 0 && parse_usage(field(csv, c->usage), &usage, why) < 0) ||
        parse_pixels(field(csv, c->pixels), ds->pixels + ds->n * ROW_PIXELS, why) < 0)
        return -1;
    ds->usage[ds->n] = usage;
    return 0;
}

/* ------------------------------------------------------------ the loader */

/* A bad row: fatal, or (skip_bad) counted with the first message kept. */
static fer_status bad_row(fer_dataset *ds, int skip_bad, const char *name, long line_no,
                          const char *why, fer_error *err)
{
    if (!skip_bad)
        return fer_fail(err, FER_EFORMAT, "%s:%ld: %s", name, line_no, why);
    if (ds->n_bad++ == 0)
        snprintf(ds->first_bad, sizeof ds->first_bad, "%s:%ld: %.200s", name, line_no, why);
    return FER_OK;
}

/* Each line is one record for the CSV reader (quoted fields do not span
 * lines), which keeps its buffers from line to line. */
static fer_status read_rows(line_reader *r, const char *name, int skip_bad, fer_dataset *ds,
                            fer_error *err)
{
    fer_csv csv;
    fer_csv_init(&csv, "", 0,
                 &(fer_csv_opts){.trim = 1, .max_field = MAX_LINE, .max_fields = MAX_FIELDS});
    line ln;
    columns cols;
    char why[WHY_CAP];
    int got = 0, have_header = 0;
    fer_status st = FER_OK;
    while (st == FER_OK && (got = next_line(r, &ln)) > 0) {
        int k = FER_CSV_BAD;
        if (ln.too_long) {
            snprintf(why, WHY_CAP, "line longer than %d bytes", MAX_LINE);
        } else {
            fer_csv_reset(&csv, ln.s, ln.n, (size_t)r->line_no);
            k = fer_csv_next(&csv, why, sizeof why);
            if (k == FER_CSV_END) /* a blank line */
                continue;
            if (k == FER_CSV_NOMEM) {
                st = fer_fail(err, FER_ENOMEM, "%s: out of memory", name);
                break;
            }
        }
        if (!have_header) {
            if (parse_header(&ln, &csv, k, &cols, why) < 0)
                st = fer_fail(err, FER_EFORMAT, "%s:%ld: %s", name, r->line_no, why);
            have_header = 1;
            continue;
        }
        st = reserve_row(ds, name, err);
        if (st == FER_OK && k == FER_CSV_RECORD && parse_row(&csv, &cols, ds, why) == 0)
            ds->n++;
        else if (st == FER_OK)
            st = bad_row(ds, skip_bad, name, r->line_no, why, err);
    }
    fer_csv_free(&csv);
    if (st != FER_OK)
        return st;
    if (got < 0)
        return fer_fail(err, FER_EIO, "%s:%ld: read error: %s", name, r->line_no + 1,
                        strerror(errno));
    if (!have_header)
        return fer_fail(err, FER_EFORMAT, "%s: empty file (expected a header emotion,pixels[,Usage])",
                        name);
    return FER_OK;
}

static fer_status open_input(const char *path, FILE **f, fer_error *err)
{
    if (strcmp(path, "-") == 0) {
        *f = stdin;
        return FER_OK;
    }
    *f = fopen(path, "rb");
    if (!*f)
        return fer_fail(err, FER_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(*f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(*f);
        return fer_fail(err, FER_EIO, "%s: is a directory", path);
    }
    return FER_OK;
}

fer_status fer_dataset_load_csv(const char *path, int skip_bad, fer_dataset *ds, fer_error *err)
{
    if (!ds)
        return fer_fail(err, FER_EINVAL, "fer_dataset_load_csv: no data set");
    memset(ds, 0, sizeof *ds);
    if (!path)
        return fer_fail(err, FER_EINVAL, "fer_dataset_load_csv: no path");
    if (err) {
        err->code = FER_OK;
        err->msg[0] = 0;
    }
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    line_reader r = {.cap = READ_CHUNK + MAX_LINE};
    fer_status st = open_input(path, &r.f, err);
    if (st != FER_OK)
        return st;
    r.buf = malloc(r.cap);
    st = r.buf ? read_rows(&r, name, skip_bad, ds, err)
               : fer_fail(err, FER_ENOMEM, "%s: out of memory", name);
    free(r.buf);
    if (r.f != stdin)
        fclose(r.f);
    if (st != FER_OK) {
        fer_dataset_free(ds);
        return st;
    }
    ds->h = ds->w = IMG_SIDE;
    return FER_OK;
}

void fer_dataset_free(fer_dataset *ds)
{
    if (!ds)
        return;
    free(ds->pixels);
    free(ds->labels);
    free(ds->usage);
    memset(ds, 0, sizeof *ds);
}
