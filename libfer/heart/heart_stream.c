/* A heart-rate sensor read line by line as it streams (fer.h, "live heart
 * rate"; docs/live.md): each line is one of four formats, garbage is skipped
 * and counted, readings are kept for a rolling window that is summarised as
 * heart.c summarises a series, and a sensor that stops has no heart rate
 * after the timeout. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"

enum { RING_CAP = 4096, MAX_BLE_BYTES = 64, MIN_SERIES = 3 };
/* A single reading must be a possible human rate (fer_heart_from_bpm's bound);
 * an RR interval the same rate range: 240 ms is 250 bpm, 6000 ms 10 bpm. */
#define MAX_BPM 250.0
#define MIN_RR_MS 240.0
#define MAX_RR_MS 6000.0
/* A single number above this is an RR interval in ms (heart_file.c's rule). */
#define RR_ABOVE 250.0

/* BLE Heart Rate Measurement (0x2A37) flag bits. */
#define BLE_HR_UINT16 0x01
#define BLE_CONTACT_DETECTED 0x02
#define BLE_CONTACT_SUPPORTED 0x04
#define BLE_ENERGY 0x08
#define BLE_RR 0x10

typedef struct sample {
    double arrival; /* the caller's clock */
    double t;       /* series time: the line's seconds, else arrival */
    double v;       /* bpm, or RR ms */
    int rr;
} sample;

struct fer_hr_stream {
    fer_hr_stream_opts o;
    sample *ring;
    size_t head, n; /* oldest at head */
    fer_hr_stream_stats st;
    double last_seconds; /* the last "seconds,bpm" time, -inf before any */
    char line[FER_HR_STREAM_MAX_LINE + 1];
    size_t len;
    int overflow, binary;
};

void fer_hr_stream_opts_default(fer_hr_stream_opts *o)
{
    *o = (fer_hr_stream_opts){.window = 30, .timeout = 5};
}

fer_status fer_hr_stream_new(const fer_hr_stream_opts *o, fer_hr_stream **out, fer_error *err)
{
    if (!out)
        return fer_fail(err, FER_EINVAL, "fer_hr_stream_new: NULL argument");
    *out = NULL;
    fer_hr_stream_opts def;
    if (!o)
        fer_hr_stream_opts_default(&def), o = &def;
    if (!(o->window >= 1 && o->window <= 3600))
        return fer_fail(err, FER_ERANGE, "heart stream: window %g s is not in 1..3600", o->window);
    if (!(o->timeout > 0 && o->timeout <= 3600))
        return fer_fail(err, FER_ERANGE, "heart stream: timeout %g s is not in (0, 3600]",
                        o->timeout);
    fer_heart probe; /* the resting range options, judged once */
    fer_status s = fer_heart_from_bpm(70, &o->hr, &probe, err);
    if (s)
        return s;
    fer_hr_stream *h = calloc(1, sizeof *h);
    if (h)
        h->ring = malloc(RING_CAP * sizeof *h->ring);
    if (!h || !h->ring) {
        free(h);
        return fer_fail(err, FER_ENOMEM, "heart stream: out of memory");
    }
    h->o = *o;
    h->st.last = NAN;
    h->st.energy_kj = -1;
    h->last_seconds = -HUGE_VAL;
    *out = h;
    return FER_OK;
}

void fer_hr_stream_free(fer_hr_stream *s)
{
    if (!s)
        return;
    free(s->ring);
    free(s);
}

void fer_hr_stream_get_stats(const fer_hr_stream *s, fer_hr_stream_stats *out)
{
    if (s && out)
        *out = s->st;
}

static void push(fer_hr_stream *s, double now, double t, double v, int rr)
{
    if (s->n == RING_CAP) { /* the oldest goes */
        s->head = (s->head + 1) % RING_CAP;
        s->n--;
    }
    s->ring[(s->head + s->n++) % RING_CAP] = (sample){now, t, v, rr};
    s->st.n_readings++;
    s->st.last = now;
}

/* ------------------------------------------------------------ formats */

static fer_status bpm_reading(fer_hr_stream *s, double now, double t, double bpm, fer_error *err)
{
    if (!(bpm > 0 && bpm <= MAX_BPM))
        return fer_fail(err, FER_ERANGE, "heart rate %g bpm is impossible (0 < bpm <= %g)", bpm,
                        MAX_BPM);
    push(s, now, t, bpm, 0);
    return FER_OK;
}

static fer_status rr_reading(fer_hr_stream *s, double now, double ms, fer_error *err)
{
    if (!(ms >= MIN_RR_MS && ms <= MAX_RR_MS))
        return fer_fail(err, FER_ERANGE, "RR interval %g ms is impossible (%g..%g ms)", ms,
                        MIN_RR_MS, MAX_RR_MS);
    push(s, now, now, ms, 1);
    return FER_OK;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Hex bytes: tokens of 1-2 digits (each maybe 0x-prefixed) separated by
 * blanks, ':', '-' or ','; or one packed token of an even number of digits
 * that starts with 0x or holds a letter (a bare "1648" is a decimal number).
 * Returns the byte count, or -1 when it is not hex. */
static int parse_hex(const char *p, uint8_t *b)
{
    int n = 0, tokens = 0, packed_ok = 0, last_digits = 0;
    const char *seps = " \t:-,";
    while (*p) {
        if (strchr(seps, *p)) {
            p++;
            continue;
        }
        int prefixed = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
        p += prefixed ? 2 : 0;
        const char *q = p;
        int letter = 0;
        while (hexval(*q) >= 0)
            letter |= isalpha((unsigned char)*q), q++;
        int digits = (int)(q - p);
        if (digits == 0 || (*q && !strchr(seps, *q)))
            return -1;
        tokens++;
        last_digits = digits;
        packed_ok = prefixed || letter;
        if (digits > 2 && digits % 2)
            return -1;
        for (int i = 0; i < digits; i += digits <= 2 ? digits : 2) {
            if (n == MAX_BLE_BYTES)
                return -1;
            int hi = digits == 1 ? 0 : hexval(p[i]), lo = hexval(p[i + (digits == 1 ? 0 : 1)]);
            b[n++] = (uint8_t)(hi * 16 + lo);
        }
        p = q;
    }
    if (tokens == 0 || (tokens == 1 && !(last_digits > 2 && packed_ok)))
        return -1; /* one short token, or packed digits that read as a decimal number */
    if (tokens > 1 && n != tokens)
        return -1; /* separated bytes are 1-2 digits each */
    return n;
}

static fer_status ble_reading(fer_hr_stream *s, double now, const uint8_t *b, int n,
                              fer_error *err)
{
    if (n < 2)
        return fer_fail(err, FER_EFORMAT, "BLE heart rate measurement of %d byte%s (at least 2)",
                        n, n == 1 ? "" : "s");
    int flags = b[0], i = 1;
    int need = 1 + ((flags & BLE_HR_UINT16) ? 2 : 1) + ((flags & BLE_ENERGY) ? 2 : 0);
    if (n < need)
        return fer_fail(err, FER_EFORMAT, "BLE heart rate measurement: flags 0x%02x need %d "
                        "bytes, got %d", flags, need, n);
    int bpm = b[i];
    if (flags & BLE_HR_UINT16)
        bpm |= b[i + 1] << 8, i += 2;
    else
        i += 1;
    int energy = -1;
    if (flags & BLE_ENERGY)
        energy = b[i] | b[i + 1] << 8, i += 2;
    int rest = n - i;
    if ((flags & BLE_RR) ? rest == 0 || rest % 2 : rest != 0)
        return fer_fail(err, FER_EFORMAT, "BLE heart rate measurement: %d byte%s after the %s "
                        "(flags 0x%02x)", rest, rest == 1 ? "" : "s",
                        (flags & BLE_ENERGY) ? "energy" : "rate", flags);
    if (energy >= 0)
        s->st.energy_kj = energy;
    if ((flags & BLE_CONTACT_SUPPORTED) && !(flags & BLE_CONTACT_DETECTED)) {
        s->st.n_no_contact++;
        return FER_OK;
    }
    if (!(flags & BLE_RR))
        return bpm_reading(s, now, now, bpm, err);
    /* Validate every interval before taking any: a packet is taken whole or not at all. */
    for (int k = i; k < n; k += 2) {
        double ms = (b[k] | b[k + 1] << 8) * 1000.0 / 1024.0;
        if (!(ms >= MIN_RR_MS && ms <= MAX_RR_MS))
            return fer_fail(err, FER_ERANGE, "BLE RR interval %.1f ms is impossible (%g..%g ms)",
                            ms, MIN_RR_MS, MAX_RR_MS);
    }
    for (int k = i; k < n; k += 2)
        rr_reading(s, now, (b[k] | b[k + 1] << 8) * 1000.0 / 1024.0, err);
    return FER_OK;
}

static char *trim(char *a)
{
    while (*a == ' ' || *a == '\t')
        a++;
    size_t n = strlen(a);
    while (n && strchr(" \t\r\n", a[n - 1]))
        a[--n] = 0;
    return a;
}

/* A number alone: bpm, or RR ms above RR_ABOVE. */
static fer_status single(fer_hr_stream *s, double now, double v, fer_error *err)
{
    return v > RR_ABOVE ? rr_reading(s, now, v, err) : bpm_reading(s, now, now, v, err);
}

static fer_status parse(fer_hr_stream *s, char *text, double now, fer_error *err)
{
    char *p = trim(text);
    if (!*p)
        return FER_OK;
    double v, t;
    uint8_t bytes[MAX_BLE_BYTES];
    char *value = NULL;
    for (char *q = p; *q && !value; q++) /* gatttool: "Notification handle = 0x0010 value: 16 4a" */
        if (!strncasecmp(q, "value:", 6))
            value = q + 6;
    if (value) {
        int n = parse_hex(trim(value), bytes);
        if (n < 0)
            return fer_fail(err, FER_EFORMAT, "the bytes after 'value:' are not hex");
        return ble_reading(s, now, bytes, n, err);
    }
    if ((p[0] == 'r' || p[0] == 'R') && (p[1] == 'r' || p[1] == 'R') &&
        (p[2] == ' ' || p[2] == '=' || p[2] == ':' || p[2] == '\t')) {
        if (!fer_parse_number(trim(p + 3), -HUGE_VAL, HUGE_VAL, &v))
            return fer_fail(err, FER_EFORMAT, "'%.40s': the RR interval is not a number", p);
        return rr_reading(s, now, v, err);
    }
    if (fer_parse_number(p, -HUGE_VAL, HUGE_VAL, &v))
        return single(s, now, v, err);
    char *comma = strchr(p, ',');
    if (comma && !strchr(comma + 1, ',')) {
        *comma = 0;
        char *a = trim(p), *b = trim(comma + 1);
        if (fer_parse_number(a, -HUGE_VAL, HUGE_VAL, &t) &&
            fer_parse_number(b, -HUGE_VAL, HUGE_VAL, &v)) {
            if (!(t > s->last_seconds))
                return fer_fail(err, FER_EFORMAT, "time %g s is not after %g s", t,
                                s->last_seconds);
            fer_status st = bpm_reading(s, now, t, v, err);
            if (!st)
                s->last_seconds = t;
            return st;
        }
        if (s->st.n_readings == 0 && s->st.n_bad == 0 && isalpha((unsigned char)*a) &&
            isalpha((unsigned char)*b))
            return FER_OK; /* a header, "seconds,bpm" */
        *comma = ',';
    }
    int n = parse_hex(p, bytes);
    if (n >= 0)
        return ble_reading(s, now, bytes, n, err);
    return fer_fail(err, FER_EFORMAT, "'%.40s' is not a heart rate line (bpm, seconds,bpm, RR ms "
                    "or BLE hex bytes)", p);
}

/* A garbage line: counted, and the first one's reason kept. */
static void note_bad(fer_hr_stream *s, const char *why)
{
    if (s->st.n_bad++ == 0)
        snprintf(s->st.first_bad, sizeof s->st.first_bad, "%.150s", why);
}

fer_status fer_hr_stream_line(fer_hr_stream *s, const char *line, double now, fer_error *err)
{
    if (!s || !line)
        return fer_fail(err, FER_EINVAL, "fer_hr_stream_line: NULL argument");
    if (!isfinite(now))
        return fer_fail(err, FER_EINVAL, "fer_hr_stream_line: time is not finite");
    s->st.n_lines++;
    size_t n = strlen(line);
    fer_error e = {0};
    fer_status st;
    if (n > FER_HR_STREAM_MAX_LINE) {
        st = fer_fail(&e, FER_EFORMAT, "line of %zu bytes (at most %d)", n, FER_HR_STREAM_MAX_LINE);
    } else {
        char buf[FER_HR_STREAM_MAX_LINE + 1];
        memcpy(buf, line, n + 1);
        st = parse(s, buf, now, &e);
    }
    if (st)
        note_bad(s, e.msg);
    if (err)
        *err = e;
    return st;
}

/* The line buffered so far, judged and cleared. */
static void flush_line(fer_hr_stream *s, double now)
{
    if (s->overflow || s->binary) {
        s->st.n_lines++;
        char why[64];
        snprintf(why, sizeof why, s->binary ? "a line holds a NUL byte"
                                            : "a line is longer than %d bytes",
                 FER_HR_STREAM_MAX_LINE);
        note_bad(s, why);
    } else {
        s->line[s->len] = 0;
        fer_hr_stream_line(s, s->line, now, NULL);
    }
    s->len = 0;
    s->overflow = s->binary = 0;
}

fer_status fer_hr_stream_feed(fer_hr_stream *s, const void *data, size_t len, double now,
                              fer_error *err)
{
    if (err)
        *err = (fer_error){0};
    if (!s || (!data && len))
        return fer_fail(err, FER_EINVAL, "fer_hr_stream_feed: NULL argument");
    if (!isfinite(now))
        return fer_fail(err, FER_EINVAL, "fer_hr_stream_feed: time is not finite");
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            flush_line(s, now);
        } else if (s->len < FER_HR_STREAM_MAX_LINE) {
            s->binary |= p[i] == 0;
            s->line[s->len++] = (char)p[i];
        } else {
            s->overflow = 1;
        }
    }
    return FER_OK;
}

fer_status fer_hr_stream_end(fer_hr_stream *s, double now, fer_error *err)
{
    if (err)
        *err = (fer_error){0};
    if (!s)
        return fer_fail(err, FER_EINVAL, "fer_hr_stream_end: NULL argument");
    if (s->len || s->overflow || s->binary)
        flush_line(s, now);
    return FER_OK;
}

/* ------------------------------------------------------------ summary */

fer_status fer_hr_stream_heart(const fer_hr_stream *s, double now, fer_heart *out, int *has,
                               fer_error *err)
{
    if (!s || !out || !has)
        return fer_fail(err, FER_EINVAL, "fer_hr_stream_heart: NULL argument");
    *has = 0;
    if (s->n == 0)
        return FER_OK;
    const sample *last = &s->ring[(s->head + s->n - 1) % RING_CAP];
    if (now - last->arrival > s->o.timeout)
        return FER_OK; /* the sensor stopped: the face alone */
    double *t = malloc(s->n * sizeof *t), *v = malloc(s->n * sizeof *v);
    if (!t || !v) {
        free(t);
        free(v);
        return fer_fail(err, FER_ENOMEM, "heart stream: out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) { /* the last reading's kind, within the window */
        const sample *x = &s->ring[(s->head + i) % RING_CAP];
        if (x->rr != last->rr || now - x->arrival > s->o.window)
            continue;
        /* series times must increase: lines of one batch share an arrival time */
        t[m] = m && !(x->t > t[m - 1]) ? t[m - 1] + 1e-3 : x->t;
        v[m++] = x->v;
    }
    fer_error e;
    fer_status st = FER_ERANGE;
    if (m >= MIN_SERIES)
        st = fer_heart_from_series(t, v, m, last->rr, &s->o.hr, out, &e);
    if (st == FER_ERANGE) /* too few readings, or too few left after cleaning */
        st = fer_heart_from_bpm(last->rr ? 60000.0 / last->v : last->v, &s->o.hr, out, &e);
    free(t);
    free(v);
    if (st == FER_ERANGE)
        return FER_OK; /* even the last reading alone is not a rate: none */
    if (st)
        return fer_fail(err, st, "heart stream: %s", e.msg);
    *has = 1;
    return FER_OK;
}
