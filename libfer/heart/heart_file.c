/* Heart-rate files: "seconds,bpm" rows, or one RR interval in ms per line.
 * Format rule (docs/heart-and-fusion.md): two fields per row is a bpm series
 * with times; one field is RR intervals, recognised by a header such as
 * "rr_ms" or, without a header, by a median value above 250 (no heart beats
 * 250 times a minute, and no RR interval is that short). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/csv.h"
#include "heart/heart.h"

#define HR_FILE_MAX_BYTES ((size_t)8 << 20)
#define HR_LINE_MAX 256
#define HR_MAX_FIELDS 3 /* fields a line may have; two are valid */
#define HR_EXPECTED "expected 'seconds,bpm' or one RR interval (ms)"

typedef struct series {
    double *t, *v;
    size_t n, cap;
} series;

typedef struct parse_state {
    const char *path;
    int ncols;        /* 0 until the first content line */
    char header[64];  /* the single column's name, "" when there is no header */
    int header_ln;
    series s;
} parse_state;

static fer_status push(parse_state *p, double t, double v, fer_error *err)
{
    series *s = &p->s;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *nt = realloc(s->t, cap * sizeof *nt);
        if (nt)
            s->t = nt;
        double *nv = nt ? realloc(s->v, cap * sizeof *nv) : NULL;
        if (!nv)
            return fer_fail(err, FER_ENOMEM, "%s: out of memory", p->path);
        s->v = nv;
        s->cap = cap;
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
    return FER_OK;
}

/* A line without the spaces, tabs and CR around it. */
static char *trim_line(char *a)
{
    while (*a == ' ' || *a == '\t')
        a++;
    size_t n = strlen(a);
    while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t' || a[n - 1] == '\r'))
        a[--n] = 0;
    return a;
}

static int parse_number(const char *s, double *out)
{
    return fer_parse_number(s, -HUGE_VAL, HUGE_VAL, out);
}

static fer_status header_line(parse_state *p, int ln, const char **f, int nf, fer_error *err)
{
    if (nf == 1) {
        if (strlen(f[0]) >= sizeof p->header)
            return fer_fail(err, FER_EFORMAT, "%s:%d: header '%.40s...' is too long", p->path, ln,
                            f[0]);
        strcpy(p->header, f[0]);
        p->header_ln = ln;
    }
    p->ncols = nf;
    return FER_OK;
}

static fer_status data_line(parse_state *p, int ln, const char **f, int nf, fer_error *err)
{
    double x[2];
    for (int i = 0; i < nf; i++) {
        if (!parse_number(f[i], &x[i]))
            return fer_fail(err, FER_EFORMAT, "%s:%d: '%.40s' is not a finite number", p->path,
                            ln, f[i]);
    }
    if (nf == 1)
        return push(p, NAN, x[0], err);
    if (p->s.n > 0 && !(x[0] > p->s.t[p->s.n - 1]))
        return fer_fail(err, FER_EFORMAT, "%s:%d: time %g s is not after the previous %g s",
                        p->path, ln, x[0], p->s.t[p->s.n - 1]);
    return push(p, x[0], x[1], err);
}

/* One content line (trimmed, not blank, not a comment), its fields split by
 * the CSV reader at ',' ';' or tab. */
static fer_status parse_line(parse_state *p, fer_csv *csv, int ln, const char *line,
                             fer_error *err)
{
    char why[160];
    fer_csv_reset(csv, line, strlen(line), (size_t)ln);
    int k = fer_csv_next(csv, why, sizeof why);
    if (k == FER_CSV_NOMEM)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", p->path);
    if (k == FER_CSV_BAD)
        return fer_fail(err, FER_EFORMAT, "%s:%d: %s; " HR_EXPECTED, p->path, ln, why);
    if (k == FER_CSV_END)
        return FER_OK;
    const char *f[HR_MAX_FIELDS];
    int nf = (int)csv->n_fields;
    for (int i = 0; i < nf; i++)
        f[i] = fer_csv_field(csv, (size_t)i);
    if (nf > 2)
        return fer_fail(err, FER_EFORMAT, "%s:%d: %d fields; " HR_EXPECTED, p->path, ln, nf);
    if (p->ncols == 0) {
        double d;
        int numeric = 1;
        for (int i = 0; i < nf; i++)
            numeric = numeric && parse_number(f[i], &d);
        if (!numeric)
            return header_line(p, ln, f, nf, err);
        p->ncols = nf;
    } else if (nf != p->ncols) {
        return fer_fail(err, FER_EFORMAT, "%s:%d: %d field%s, but earlier lines have %d", p->path,
                        ln, nf, nf == 1 ? "" : "s", p->ncols);
    }
    return data_line(p, ln, f, nf, err);
}

/* Text files have no control characters other than tab and CR. */
static int binary_byte(const char *line)
{
    for (const unsigned char *c = (const unsigned char *)line; *c; c++)
        if (*c < 0x20 && *c != '\t' && *c != '\r')
            return *c;
    return -1;
}

static fer_status parse_text(parse_state *p, char *text, fer_error *err)
{
    if ((unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        text += 3; /* UTF-8 byte order mark */
    fer_csv csv;
    fer_csv_init(&csv, "", 0,
                 &(fer_csv_opts){.seps = ",;\t", .trim = 1, .max_fields = HR_MAX_FIELDS});
    fer_status s = FER_OK;
    int ln = 0;
    for (char *line = text; *line && s == FER_OK;) {
        ln++;
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : line + strlen(line);
        if (nl)
            *nl = 0;
        int b = binary_byte(line);
        if (strlen(line) > HR_LINE_MAX)
            s = fer_fail(err, FER_EFORMAT, "%s:%d: line longer than %d characters", p->path, ln,
                         HR_LINE_MAX);
        else if (b >= 0)
            s = fer_fail(err, FER_EFORMAT, "%s:%d: binary data (byte 0x%02x), not a CSV",
                         p->path, ln, b);
        else if (*(line = trim_line(line)) && *line != '#')
            s = parse_line(p, &csv, ln, line, err);
        line = next;
    }
    fer_csv_free(&csv);
    return s;
}

static int is_rr_name(const char *h)
{
    static const char *const names[] = {"rr", "rr_ms", "rri", "rr_interval", "rr_interval_ms",
                                        "ibi", "ibi_ms", "nn", "nn_ms"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(h, names[i]) == 0)
            return 1;
    return 0;
}

static double median_value(const series *s)
{
    double *c = malloc(s->n * sizeof *c);
    if (!c)
        return NAN;
    memcpy(c, s->v, s->n * sizeof *c);
    double m = fer_median_sort(c, s->n);
    free(c);
    return m;
}

/* A single column must be RR intervals: by its header, or by its values. */
static fer_status check_single_column(const parse_state *p, fer_error *err)
{
    if (p->header[0]) {
        if (is_rr_name(p->header))
            return FER_OK;
        return fer_fail(err, FER_EFORMAT,
                        "%s:%d: single column '%s' is not RR intervals (name it rr_ms); a bpm "
                        "series needs times: write 'seconds,bpm'",
                        p->path, p->header_ln, p->header);
    }
    double med = median_value(&p->s);
    if (isnan(med))
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", p->path);
    if (med > 250)
        return FER_OK;
    return fer_fail(err, FER_EFORMAT,
                    "%s: one value per line with median %g: RR intervals are in ms (> 250); a bpm "
                    "series needs times: write 'seconds,bpm'",
                    p->path, med);
}

static fer_status summarise_file(parse_state *p, const fer_hr_opts *o, fer_heart *out,
                                 fer_error *err)
{
    if (p->s.n == 0)
        return fer_fail(err, FER_EFORMAT, "%s: no heart rate samples", p->path);
    int rr = p->ncols == 1;
    if (rr) {
        fer_status s = check_single_column(p, err);
        if (s)
            return s;
    }
    fer_error e = {0};
    fer_status s = fer_heart_from_series(rr ? NULL : p->s.t, p->s.v, p->s.n, rr, o, out, &e);
    if (s)
        return fer_fail(err, s, "%s: %s", p->path, e.msg);
    return FER_OK;
}

fer_status fer_heart_from_file(const char *path, const fer_hr_opts *o, fer_heart *out,
                               fer_error *err)
{
    if (!path || !out)
        return fer_fail(err, FER_EINVAL, "fer_heart_from_file: %s is NULL", !path ? "path" : "out");
    char *text;
    size_t len;
    fer_status s = fer_file_read(path, HR_FILE_MAX_BYTES, &text, &len, err);
    if (s)
        return s;
    const char *nul = memchr(text, 0, len);
    if (nul) {
        size_t at = (size_t)(nul - text);
        free(text);
        return fer_fail(err, FER_EFORMAT, "%s: binary data (NUL byte at offset %zu), not a CSV",
                        path, at);
    }
    parse_state p = {.path = path};
    s = parse_text(&p, text, err);
    if (!s)
        s = summarise_file(&p, o, out, err);
    free(text);
    free(p.s.t);
    free(p.s.v);
    return s;
}
