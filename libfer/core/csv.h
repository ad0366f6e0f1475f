/* RFC 4180 CSV records from a buffer in memory: quoted fields, doubled
 * quotes, separators and newlines inside quotes, LF or CRLF, a leading UTF-8
 * BOM. Options: the separator bytes, trimming, a UTF-8 check, limits. The
 * one CSV reader of libfer: the song catalogue reads a whole file with it,
 * the FER2013 loader and the heart-rate files one line at a time
 * (fer_csv_reset). Internal to libfer. */
#ifndef FER_CSV_H
#define FER_CSV_H

#include <stddef.h>

typedef struct fer_csv_opts {
    const char *seps;  /* separator bytes; NULL or "": ","; a quote, CR or LF is never one */
    int trim;          /* drop spaces and tabs (those not separators) around each field,
                          quoted or not; a line of nothing else is blank */
    int utf8;          /* fields must be valid UTF-8 */
    size_t max_field;  /* bytes per field; 0: 64 KiB */
    size_t max_fields; /* fields per record; 0: 1024 */
} fer_csv_opts;

typedef struct fer_csv {
    const char *p, *end; /* unread input */
    size_t line;         /* physical line where the current record starts */
    size_t next_line;    /* physical line of the next unread byte */
    size_t max_field, max_fields;
    int trim, utf8;
    char sep;                /* the separator when there is one, else 0 */
    unsigned char cls[256];  /* what each byte is to the reader (csv.c) */
    char *buf;           /* the current record's fields, each NUL-terminated */
    size_t len, cap;
    size_t *start;       /* offset of each field in buf */
    size_t n_fields, cap_fields;
} fer_csv;

enum { FER_CSV_END = 0, FER_CSV_RECORD = 1, FER_CSV_BAD = -1, FER_CSV_NOMEM = -2 };

/* opts may be NULL (the defaults); data may not ("" for none yet). The input
 * must outlive its use. */
void fer_csv_init(fer_csv *c, const char *data, size_t len, const fer_csv_opts *opts);
/* Goes on with new input whose first byte is on physical line `line` (1: a
 * file's start, where a UTF-8 BOM is skipped), keeping the options and the
 * buffers: one record at a time costs no allocation. */
void fer_csv_reset(fer_csv *c, const char *data, size_t len, size_t line);
void fer_csv_free(fer_csv *c);
/* Reads the next non-blank record: FER_CSV_RECORD, FER_CSV_END, FER_CSV_NOMEM,
 * or FER_CSV_BAD after skipping a malformed record (why in msg, "field N: ..."
 * or "more than N fields"; c->line is where it started). */
int fer_csv_next(fer_csv *c, char *msg, size_t msg_cap);
/* How many LF bytes the len bytes at p hold. */
size_t fer_csv_count_lines(const char *p, size_t len);
static inline const char *fer_csv_field(const fer_csv *c, size_t i) { return c->buf + c->start[i]; }
/* Bytes of field i, without the NUL that ends each one (a field may hold
 * other NULs). */
static inline size_t fer_csv_field_len(const fer_csv *c, size_t i)
{
    return (i + 1 < c->n_fields ? c->start[i + 1] : c->len) - c->start[i] - 1;
}

#endif
