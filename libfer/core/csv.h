/* RFC 4180 CSV records from a buffer in memory: quoted fields, doubled
 * quotes, separators and newlines inside quotes, LF or CRLF, a leading UTF-8
 * BOM. Internal to libfer (used by the song catalogue). */
#ifndef FER_CSV_H
#define FER_CSV_H

#include <stddef.h>

typedef struct fer_csv {
    const char *p, *end; /* unread input */
    size_t line;         /* physical line where the current record starts */
    size_t next_line;    /* physical line of the next unread byte */
    size_t max_field;    /* bytes per field */
    size_t max_fields;   /* fields per record */
    char *buf;           /* the current record's fields, each NUL-terminated */
    size_t len, cap;
    size_t *start;       /* offset of each field in buf */
    size_t n_fields, cap_fields;
} fer_csv;

enum { FER_CSV_END = 0, FER_CSV_RECORD = 1, FER_CSV_BAD = -1, FER_CSV_NOMEM = -2 };

/* The input must outlive the reader. */
void fer_csv_init(fer_csv *c, const char *data, size_t len);
void fer_csv_free(fer_csv *c);
/* Reads the next non-blank record: FER_CSV_RECORD, FER_CSV_END, FER_CSV_NOMEM,
 * or FER_CSV_BAD after skipping a malformed record (why in msg; c->line is
 * where it started). Fields are checked to be valid UTF-8. */
int fer_csv_next(fer_csv *c, char *msg, size_t msg_cap);
/* How many LF bytes the len bytes at p hold. */
size_t fer_csv_count_lines(const char *p, size_t len);
static inline const char *fer_csv_field(const fer_csv *c, size_t i) { return c->buf + c->start[i]; }
/* Bytes of field i, without the NUL that ends each one. */
static inline size_t fer_csv_field_len(const fer_csv *c, size_t i)
{
    return (i + 1 < c->n_fields ? c->start[i + 1] : c->len) - c->start[i] - 1;
}

#endif
