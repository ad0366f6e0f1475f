/* The RFC 4180 CSV reader over a buffer in memory, with a set of separator
 * bytes and optional trimming. A malformed record is skipped and described
 * rather than ending the parse, so that one bad row in a large catalogue
 * costs one row. With one separator, plain fields are scanned 16 bytes (SSE2)
 * or 8 bytes at a time; every field is copied in one piece into a buffer that
 * is kept from record to record. */
#include "core/csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

/* Byte classes: where a plain field stops, separators, blanks that trim drops. */
enum { C_STOP = 1, C_SEP = 2, C_BLANK = 4 };

void fer_csv_init(fer_csv *c, const char *data, size_t len, const fer_csv_opts *opts)
{
    const fer_csv_opts o = opts ? *opts : (fer_csv_opts){0};
    memset(c, 0, sizeof *c);
    c->max_field = o.max_field ? o.max_field : 64 * 1024;
    c->max_fields = o.max_fields ? o.max_fields : 1024;
    c->trim = o.trim;
    c->utf8 = o.utf8;
    const char *seps = o.seps && *o.seps ? o.seps : ",";
    size_t n_seps = 0;
    for (const unsigned char *s = (const unsigned char *)seps; *s; s++)
        if (*s != '"' && *s != '\r' && *s != '\n' && !(c->cls[*s] & C_SEP)) {
            c->cls[*s] = C_STOP | C_SEP;
            c->sep = (char)*s;
            n_seps++;
        }
    if (n_seps != 1)
        c->sep = 0;
    c->cls['"'] = c->cls['\r'] = c->cls['\n'] = C_STOP;
    if (c->trim) {
        if (!c->cls[' '])
            c->cls[' '] = C_BLANK;
        if (!c->cls['\t'])
            c->cls['\t'] = C_BLANK;
    }
    fer_csv_reset(c, data, len, 1);
}

void fer_csv_reset(fer_csv *c, const char *data, size_t len, size_t line)
{
    c->p = data;
    c->end = data + len;
    if (line == 1 && len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c->p += 3;
    c->line = c->next_line = line;
    c->len = c->n_fields = 0;
}

void fer_csv_free(fer_csv *c)
{
    free(c->buf);
    free(c->start);
    c->buf = NULL;
    c->start = NULL;
}

static int grow(fer_csv *c, size_t n)
{
    size_t cap = c->cap ? c->cap : 256;
    while (cap - c->len < n)
        cap *= 2;
    char *b = realloc(c->buf, cap);
    if (!b)
        return 0;
    c->buf = b;
    c->cap = cap;
    return 1;
}

static int put_bytes(fer_csv *c, const char *s, size_t n)
{
    if (n == 0)
        return 1; /* c->buf may still be NULL */
    if (c->cap - c->len < n && !grow(c, n))
        return 0;
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    return 1;
}

static int put_byte(fer_csv *c, char ch)
{
    if (c->len == c->cap && !grow(c, 1))
        return 0;
    c->buf[c->len++] = ch;
    return 1;
}

/* Bytes of the current field so far. */
static size_t field_len(const fer_csv *c) { return c->len - c->start[c->n_fields - 1]; }

static int begin_field(fer_csv *c)
{
    if (c->n_fields == c->cap_fields) {
        size_t cap = c->cap_fields ? c->cap_fields * 2 : 32;
        size_t *s = realloc(c->start, cap * sizeof *s);
        if (!s)
            return 0;
        c->start = s;
        c->cap_fields = cap;
    }
    c->start[c->n_fields++] = c->len;
    return 1;
}

/* Length of the valid UTF-8 sequence at s (shortest form, no surrogates,
 * <= U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned char b = s[0];
    if (b < 0x80)
        return 1;
    size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
    if (n == 0 || b > 0xF4 || (size_t)(end - s) < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((b == 0xE0 && s[1] < 0xA0) || (b == 0xED && s[1] >= 0xA0) ||
        (b == 0xF0 && s[1] < 0x90) || (b == 0xF4 && s[1] >= 0x90))
        return 0;
    return n;
}

static int valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        uint64_t w;
        if (end - p >= 8 && (memcpy(&w, p, 8), (w & 0x8080808080808080ULL) == 0)) {
            p += 8; /* eight ASCII bytes */
            continue;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t k = utf8_len(p, end);
        if (!k)
            return 0;
        p += k;
    }
    return 1;
}

/* Skips to just after the next LF (quotes ignored): resynchronises after an error. */
static void skip_line(fer_csv *c)
{
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    c->p = nl ? nl + 1 : c->end;
    c->next_line++;
}

static int at_record_end(const fer_csv *c)
{
    return c->p == c->end || *c->p == '\n' || (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n');
}

static void consume_record_end(fer_csv *c)
{
    if (c->p < c->end && *c->p == '\r')
        c->p++;
    if (c->p < c->end && *c->p == '\n') {
        c->p++;
        c->next_line++;
    }
}

typedef enum { F_OK, F_BAD, F_NOMEM } field_result;

/* Resumes after the record's first line rather than lose the rest of the file. */
static field_result resync(fer_csv *c, const char *record_start)
{
    c->p = record_start;
    c->next_line = c->line;
    skip_line(c);
    return F_BAD;
}

size_t fer_csv_count_lines(const char *p, size_t len)
{
    size_t n = 0;
    for (const char *nl, *end = p + len; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL;
         p = nl + 1)
        n++;
    return n;
}

static int is_sep(const fer_csv *c, const char *p)
{
    return p < c->end && (c->cls[(unsigned char)*p] & C_SEP);
}

static const char *skip_blanks(const fer_csv *c, const char *p)
{
    while (p < c->end && (c->cls[(unsigned char)*p] & C_BLANK))
        p++;
    return p;
}

/* Runs up to each quote are copied whole; a doubled quote is one quote. */
static field_result read_quoted(fer_csv *c, const char *record_start, char *msg, size_t cap)
{
    size_t quote_line = c->next_line;
    c->p++; /* opening quote */
    for (;;) {
        const char *q = memchr(c->p, '"', (size_t)(c->end - c->p));
        const char *stop = q ? q : c->end;
        int doubled = q && q + 1 < c->end && q[1] == '"';
        if (field_len(c) + (size_t)(stop - c->p) + (size_t)doubled > c->max_field) {
            snprintf(msg, cap, "field %zu longer than %zu bytes", c->n_fields, c->max_field);
            return resync(c, record_start);
        }
        if (!q) {
            snprintf(msg, cap, "field %zu: unterminated quote (opened on line %zu, never closed)",
                     c->n_fields, quote_line);
            return resync(c, record_start);
        }
        c->next_line += fer_csv_count_lines(c->p, (size_t)(q - c->p));
        if (!put_bytes(c, c->p, (size_t)(q - c->p) + (size_t)doubled))
            return F_NOMEM;
        c->p = q + 1 + doubled;
        if (!doubled)
            break;
    }
    c->p = skip_blanks(c, c->p);
    if (c->p < c->end && !is_sep(c, c->p) && !at_record_end(c)) {
        snprintf(msg, cap, "field %zu: text after a closing quote", c->n_fields);
        skip_line(c);
        return F_BAD;
    }
    return F_OK;
}

/* The high bit of each byte of w equal to ch, and maybe of bytes after
 * (in significance) the first such one: the lowest set bit is exact. */
static uint64_t bytes_equal(uint64_t w, char ch)
{
    const uint64_t ones = 0x0101010101010101ULL, x = w ^ (ones * (unsigned char)ch);
    return (x - ones) & ~x & (ones << 7);
}

/* Bytes from p before the first separator, quote, CR or LF, sixteen (SSE2)
 * or eight at a time while a block has none (with one separator); *ascii is
 * cleared if one of them has the high bit set. */
static const char *plain_run(const fer_csv *c, const char *p, int *ascii)
{
    const char *end = c->end;
    uint64_t seen = 0;
#if defined(__SSE2__) && defined(__GNUC__)
    if (c->sep) {
        const __m128i sep = _mm_set1_epi8(c->sep), quote = _mm_set1_epi8('"'),
                      lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
        __m128i all = _mm_setzero_si128();
        for (; end - p >= 16; p += 16) {
            __m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, sep), _mm_cmpeq_epi8(w, quote)),
                                       _mm_or_si128(_mm_cmpeq_epi8(w, lf), _mm_cmpeq_epi8(w, cr)));
            unsigned m = (unsigned)_mm_movemask_epi8(hit);
            if (m) {
                unsigned k = (unsigned)__builtin_ctz(m); /* the first of them */
                if (_mm_movemask_epi8(all) || ((unsigned)_mm_movemask_epi8(w) & ((1u << k) - 1)))
                    *ascii = 0;
                return p + k;
            }
            all = _mm_or_si128(all, w);
        }
        if (_mm_movemask_epi8(all))
            *ascii = 0;
    }
#endif
    for (uint64_t w; c->sep && end - p >= 8; p += 8) {
        memcpy(&w, p, 8);
        uint64_t hit = bytes_equal(w, c->sep) | bytes_equal(w, '"') | bytes_equal(w, '\n') |
                       bytes_equal(w, '\r');
        if (hit) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            int k = __builtin_ctzll(hit) >> 3; /* the first of them, in memory order */
            if ((seen | (w & ((1ULL << (8 * k)) - 1))) & 0x8080808080808080ULL)
                *ascii = 0;
            return p + k;
#else
            break;
#endif
        }
        seen |= w;
    }
    for (; p < end && !(c->cls[(unsigned char)*p] & C_STOP); p++)
        seen |= (unsigned char)*p;
    if (seen & 0x8080808080808080ULL)
        *ascii = 0;
    return p;
}

/* Copied in one piece (trailing blanks dropped when trimming); a CR is data
 * unless an LF follows. *ascii: no byte had the high bit set (nothing for the
 * UTF-8 check to do). */
static field_result read_plain(fer_csv *c, int *ascii, char *msg, size_t cap)
{
    const char *s = c->p, *q = s;
    *ascii = 1;
    while ((q = plain_run(c, q, ascii)) < c->end && *q == '\r' &&
           !(q + 1 < c->end && q[1] == '\n'))
        q++;
    c->p = q;
    if (q < c->end && *q == '"') {
        snprintf(msg, cap, "field %zu: stray double quote in an unquoted field", c->n_fields);
        skip_line(c);
        return F_BAD;
    }
    while (c->trim && q > s && (c->cls[(unsigned char)q[-1]] & C_BLANK))
        q--;
    if ((size_t)(q - s) > c->max_field) {
        snprintf(msg, cap, "field %zu longer than %zu bytes", c->n_fields, c->max_field);
        skip_line(c);
        return F_BAD;
    }
    return put_bytes(c, s, (size_t)(q - s)) ? F_OK : F_NOMEM;
}

static int read_record(fer_csv *c, char *msg, size_t cap)
{
    const char *record_start = c->p;
    for (;;) {
        if (c->n_fields >= c->max_fields) {
            snprintf(msg, cap, "more than %zu fields", c->max_fields);
            skip_line(c);
            return FER_CSV_BAD;
        }
        if (!begin_field(c))
            return FER_CSV_NOMEM;
        int ascii = 0;
        c->p = skip_blanks(c, c->p);
        field_result r = c->p < c->end && *c->p == '"' ? read_quoted(c, record_start, msg, cap)
                                                         : read_plain(c, &ascii, msg, cap);
        if (r != F_OK)
            return r == F_BAD ? FER_CSV_BAD : FER_CSV_NOMEM;
        size_t s = c->start[c->n_fields - 1];
        /* An empty field is valid, and c->buf may still be NULL then. */
        if (c->utf8 && !ascii && c->len > s && !valid_utf8(c->buf + s, c->len - s)) {
            snprintf(msg, cap, "field %zu is not valid UTF-8", c->n_fields);
            if (!at_record_end(c))
                skip_line(c);
            else
                consume_record_end(c);
            return FER_CSV_BAD;
        }
        if (!put_byte(c, 0))
            return FER_CSV_NOMEM;
        if (is_sep(c, c->p)) {
            c->p++;
            continue;
        }
        consume_record_end(c);
        return FER_CSV_RECORD;
    }
}

int fer_csv_next(fer_csv *c, char *msg, size_t msg_cap)
{
    for (;;) {
        c->len = 0;
        c->n_fields = 0;
        c->line = c->next_line;
        const char *p = skip_blanks(c, c->p); /* c->p itself unless trimming */
        if (p == c->end) {
            c->p = p;
            return FER_CSV_END;
        }
        if (*p == '\n' || (*p == '\r' && p + 1 < c->end && p[1] == '\n')) {
            c->p = p;
            consume_record_end(c); /* blank line */
            continue;
        }
        return read_record(c, msg, msg_cap);
    }
}
