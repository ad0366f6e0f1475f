/* The song catalogue: a SpotifyFeatures-style CSV loaded into memory, with a
 * hash index on track ids. Columns are found by header name, numbers are
 * parsed strictly, and a bad row is skipped and counted, never fatal. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "internal.h"

#define CATALOG_MAX_BYTES ((size_t)512 << 20)

/* Columns by role; the first REQUIRED_COLS must be present. */
enum col {
    C_ID, C_TITLE, C_ARTIST, C_GENRE, C_POPULARITY, C_VALENCE, C_ENERGY, C_TEMPO,
    REQUIRED_COLS,
    C_ACOUSTICNESS = REQUIRED_COLS, C_DANCEABILITY, C_DURATION, C_INSTRUMENTALNESS, C_KEY,
    C_LIVENESS, C_LOUDNESS, C_MODE, C_SPEECHINESS, C_TIME_SIGNATURE,
    N_COLS
};

static const char *const col_names[N_COLS] = {
    "track_id", "track_name", "artist_name", "genre", "popularity", "valence", "energy", "tempo",
    "acousticness", "danceability", "duration_ms", "instrumentalness", "key", "liveness",
    "loudness", "mode", "speechiness", "time_signature",
};

/* Strings live in one arena and are referred to by offset while loading
 * (the arena moves as it grows); pointers are fixed up at the end. */
typedef struct str_refs { size_t genre, artist, title, id; } str_refs;

struct fer_catalog {
    fer_track *tracks;
    str_refs *refs; /* freed once loading is done */
    size_t n, cap;
    char *arena;
    size_t arena_len, arena_cap;
    long *slots; /* hash of ids: track index or -1 */
    size_t n_slots;
};

typedef struct loader {
    fer_catalog *cat;
    const char *path;
    int col[N_COLS]; /* field index of each column, -1 if absent */
    size_t n_header;
    size_t n_bad;
    char first_bad[400];
} loader;

/* ------------------------------------------------------------ strings */

static int arena_add(fer_catalog *c, const char *s, size_t n, size_t *off)
{
    if (c->arena_len + n + 1 > c->arena_cap) {
        size_t cap = c->arena_cap ? c->arena_cap : 1 << 16;
        while (cap < c->arena_len + n + 1)
            cap *= 2;
        char *a = realloc(c->arena, cap);
        if (!a)
            return 0;
        c->arena = a;
        c->arena_cap = cap;
    }
    memcpy(c->arena + c->arena_len, s, n);
    c->arena[c->arena_len + n] = 0;
    *off = c->arena_len;
    c->arena_len += n + 1;
    return 1;
}

/* ------------------------------------------------------------ id index */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static const char *id_at(const fer_catalog *c, long i)
{
    return c->refs ? c->arena + c->refs[i].id : c->tracks[i].id;
}

static long slot_find(const fer_catalog *c, const char *id, size_t *slot)
{
    size_t mask = c->n_slots - 1, i = hash_str(id) & mask;
    while (c->slots[i] >= 0) {
        if (strcmp(id_at(c, c->slots[i]), id) == 0) {
            *slot = i;
            return c->slots[i];
        }
        i = (i + 1) & mask;
    }
    *slot = i;
    return -1;
}

/* Keeps the table at most half full. */
static int index_reserve(fer_catalog *c, size_t n)
{
    if (n * 2 <= c->n_slots)
        return 1;
    size_t ns = c->n_slots ? c->n_slots : 1024;
    while (ns < n * 2)
        ns *= 2;
    long *old = c->slots;
    size_t old_n = c->n_slots;
    c->slots = malloc(ns * sizeof *c->slots);
    if (!c->slots) {
        c->slots = old;
        return 0;
    }
    c->n_slots = ns;
    for (size_t i = 0; i < ns; i++)
        c->slots[i] = -1;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i] < 0)
            continue;
        size_t s;
        slot_find(c, id_at(c, old[i]), &s);
        c->slots[s] = old[i];
    }
    free(old);
    return 1;
}

/* ------------------------------------------------------------ numbers */

/* A plain decimal number, optionally with an exponent: no spaces, hex, inf or nan. */
static int parse_real(const char *s, double lo, double hi, double *out)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
            return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v) || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    const char *p = s + (*s == '-');
    if (!*p)
        return 0;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* "C", "C#", "Db" ... or the API's 0..11 (-1: none). */
static int parse_key(const char *s, int *out)
{
    static const char letters[] = "C D EF G A B";
    long v;
    if (parse_int(s, -1, 11, &v)) {
        *out = (int)v;
        return 1;
    }
    const char *l = *s ? strchr(letters, toupper((unsigned char)*s)) : NULL;
    if (!l || *l == ' ')
        return 0;
    int k = (int)(l - letters);
    if (s[1] == '#' || s[1] == 'b')
        k += s[1] == '#' ? 1 : -1;
    else if (s[1])
        return 0;
    if (s[1] && s[2])
        return 0;
    *out = (k + 12) % 12;
    return 1;
}

static int parse_mode(const char *s, int *out)
{
    if (!strcasecmp(s, "major") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcasecmp(s, "minor") || !strcmp(s, "0"))
        *out = 0;
    else
        return 0;
    return 1;
}

/* Beats per bar from "4/4", "4", or the spreadsheet-mangled "4-Apr"
 * (a date whose month is the numerator: "4-Mar" was 3/4). */
static int parse_time_signature(const char *s, int *out)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    long v;
    char num[8];
    const char *slash = strchr(s, '/'), *dash = strchr(s, '-');
    if (parse_int(s, 0, 16, &v)) {
        *out = (int)v;
        return 1;
    }
    if (slash && (size_t)(slash - s) < sizeof num) {
        memcpy(num, s, (size_t)(slash - s));
        num[slash - s] = 0;
        long d;
        if (parse_int(num, 0, 16, &v) && parse_int(slash + 1, 1, 16, &d)) {
            *out = (int)v;
            return 1;
        }
        return 0;
    }
    if (dash && dash > s && strlen(dash + 1) == 3) {
        for (int m = 0; m < 12; m++)
            if (!strcasecmp(dash + 1, months[m])) {
                *out = m + 1;
                return 1;
            }
    }
    return 0;
}

/* ------------------------------------------------------------ rows */

static void note_bad(loader *L, size_t line, const char *fmt, const char *a, const char *b)
{
    if (L->n_bad++ == 0) {
        char what[300];
        snprintf(what, sizeof what, fmt, a, b);
        snprintf(L->first_bad, sizeof L->first_bad, "%s:%zu: %s", L->path, line, what);
    }
}

/* The field of a column, or NULL when the column is absent or (optional) empty. */
static const char *field(const fer_csv *r, const loader *L, enum col c)
{
    if (L->col[c] < 0)
        return NULL;
    const char *s = fer_csv_field(r, (size_t)L->col[c]);
    return *s || c < REQUIRED_COLS ? s : NULL;
}

/* Parses every numeric column into t; on failure names the column in *bad. */
static int parse_numbers(const fer_csv *r, const loader *L, fer_track *t, enum col *bad)
{
    static const struct { enum col c; size_t off; double lo, hi; } reals[] = {
        {C_VALENCE, offsetof(fer_track, valence), 0, 1},
        {C_ENERGY, offsetof(fer_track, energy), 0, 1},
        {C_TEMPO, offsetof(fer_track, tempo), 1, 400},
        {C_ACOUSTICNESS, offsetof(fer_track, acousticness), 0, 1},
        {C_DANCEABILITY, offsetof(fer_track, danceability), 0, 1},
        {C_INSTRUMENTALNESS, offsetof(fer_track, instrumentalness), 0, 1},
        {C_LIVENESS, offsetof(fer_track, liveness), 0, 1},
        {C_LOUDNESS, offsetof(fer_track, loudness), -100, 20},
        {C_SPEECHINESS, offsetof(fer_track, speechiness), 0, 1},
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        const char *s = field(r, L, reals[i].c);
        double v = NAN;
        if (s && !parse_real(s, reals[i].lo, reals[i].hi, &v)) {
            *bad = reals[i].c;
            return 0;
        }
        *(float *)((char *)t + reals[i].off) = (float)v;
    }
    long v;
    const char *s = field(r, L, C_POPULARITY);
    if (!parse_int(s, 0, 100, &v))
        return *bad = C_POPULARITY, 0;
    t->popularity = (int)v;
    s = field(r, L, C_DURATION);
    if (s && !parse_int(s, 0, INT_MAX, &v))
        return *bad = C_DURATION, 0;
    t->duration_ms = s ? (int)v : 0;
    t->mode = -1;
    t->key = -1;
    t->time_signature = 0;
    if ((s = field(r, L, C_MODE)) && !parse_mode(s, &t->mode))
        return *bad = C_MODE, 0;
    if ((s = field(r, L, C_KEY)) && !parse_key(s, &t->key))
        return *bad = C_KEY, 0;
    if ((s = field(r, L, C_TIME_SIGNATURE)) && !parse_time_signature(s, &t->time_signature))
        return *bad = C_TIME_SIGNATURE, 0;
    return 1;
}

static int has_genre_at(const char *list, const char *genre)
{
    size_t gl = strlen(genre);
    for (const char *p = list; *p;) {
        const char *sep = strstr(p, "; ");
        size_t n = sep ? (size_t)(sep - p) : strlen(p);
        if (n == gl && strncasecmp(p, genre, n) == 0)
            return 1;
        p += n + (sep ? 2 : 0);
    }
    return 0;
}

int fer_track_has_genre(const fer_track *t, const char *genre)
{
    return t && genre && has_genre_at(t->genre, genre);
}

/* Same id seen again (the data set lists a track once per genre): add the
 * genre, keep the highest popularity. */
static int merge_duplicate(fer_catalog *c, long i, const char *genre, int popularity)
{
    fer_track *t = &c->tracks[i];
    if (popularity > t->popularity)
        t->popularity = popularity;
    if (has_genre_at(c->arena + c->refs[i].genre, genre))
        return 1;
    size_t old = c->refs[i].genre, ol = strlen(c->arena + old), gl = strlen(genre);
    char *joined = malloc(ol + gl + 3);
    if (!joined)
        return 0;
    memcpy(joined, c->arena + old, ol);
    memcpy(joined + ol, "; ", 2);
    memcpy(joined + ol + 2, genre, gl + 1);
    int ok = arena_add(c, joined, ol + gl + 2, &c->refs[i].genre);
    free(joined);
    return ok;
}

static int append_track(fer_catalog *c, const fer_track *t, const fer_csv *r, const loader *L)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        fer_track *nt = realloc(c->tracks, cap * sizeof *nt);
        if (!nt)
            return 0;
        c->tracks = nt;
        str_refs *nr = realloc(c->refs, cap * sizeof *nr);
        if (!nr)
            return 0;
        c->refs = nr;
        c->cap = cap;
    }
    str_refs *s = &c->refs[c->n];
    const enum col cols[4] = {C_GENRE, C_ARTIST, C_TITLE, C_ID};
    size_t *offs[4] = {&s->genre, &s->artist, &s->title, &s->id};
    for (int k = 0; k < 4; k++) {
        const char *v = fer_csv_field(r, (size_t)L->col[cols[k]]);
        if (!arena_add(c, v, strlen(v), offs[k]))
            return 0;
    }
    c->tracks[c->n++] = *t;
    return 1;
}

/* Returns 0 only when out of memory; a bad row is counted in L. */
static int add_row(loader *L, const fer_csv *r)
{
    fer_catalog *c = L->cat;
    if (r->n_fields != L->n_header) {
        char got[32], want[32];
        snprintf(got, sizeof got, "%zu", r->n_fields);
        snprintf(want, sizeof want, "%zu", L->n_header);
        note_bad(L, r->line, "%s fields where the header has %s", got, want);
        return 1;
    }
    const enum col text[4] = {C_ID, C_TITLE, C_ARTIST, C_GENRE};
    for (int k = 0; k < 4; k++)
        if (!*fer_csv_field(r, (size_t)L->col[text[k]])) {
            note_bad(L, r->line, "empty %s%s", col_names[text[k]], "");
            return 1;
        }
    fer_track t = {0};
    enum col bad;
    if (!parse_numbers(r, L, &t, &bad)) {
        note_bad(L, r->line, "%s: bad value '%.60s'", col_names[bad],
                 fer_csv_field(r, (size_t)L->col[bad]));
        return 1;
    }
    const char *id = fer_csv_field(r, (size_t)L->col[C_ID]);
    size_t slot;
    if (!index_reserve(c, c->n + 1))
        return 0;
    long dup = slot_find(c, id, &slot);
    if (dup >= 0)
        return merge_duplicate(c, dup, fer_csv_field(r, (size_t)L->col[C_GENRE]), t.popularity);
    if (!append_track(c, &t, r, L))
        return 0;
    c->slots[slot] = (long)c->n - 1;
    return 1;
}

/* ------------------------------------------------------------ loading */

static fer_status read_header(loader *L, fer_csv *r, fer_error *err)
{
    char why[200];
    int k = fer_csv_next(r, why, sizeof why);
    if (k == FER_CSV_END)
        return fer_fail(err, FER_EFORMAT, "%s: empty file, expected a header row", L->path);
    if (k == FER_CSV_NOMEM)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", L->path);
    if (k == FER_CSV_BAD)
        return fer_fail(err, FER_EFORMAT, "%s:%zu: bad header: %s", L->path, r->line, why);
    for (int c = 0; c < N_COLS; c++)
        L->col[c] = -1;
    for (size_t i = 0; i < r->n_fields; i++)
        for (int c = 0; c < N_COLS; c++)
            if (L->col[c] < 0 && !strcasecmp(fer_csv_field(r, i), col_names[c]))
                L->col[c] = (int)i;
    for (int c = 0; c < REQUIRED_COLS; c++)
        if (L->col[c] < 0)
            return fer_fail(err, FER_EFORMAT, "%s:%zu: missing column '%s' in the header",
                            L->path, r->line, col_names[c]);
    L->n_header = r->n_fields;
    return FER_OK;
}

static fer_status read_rows(loader *L, fer_csv *r, fer_error *err)
{
    char why[200];
    for (;;) {
        int k = fer_csv_next(r, why, sizeof why);
        if (k == FER_CSV_END)
            return FER_OK;
        if (k == FER_CSV_NOMEM || (k == FER_CSV_RECORD && !add_row(L, r)))
            return fer_fail(err, FER_ENOMEM, "%s: out of memory", L->path);
        if (k == FER_CSV_BAD)
            note_bad(L, r->line, "%s%s", why, "");
    }
}

/* Turns arena offsets into pointers and drops the load-time state. */
static void finish(fer_catalog *c)
{
    for (size_t i = 0; i < c->n; i++) {
        c->tracks[i].genre = c->arena + c->refs[i].genre;
        c->tracks[i].artist = c->arena + c->refs[i].artist;
        c->tracks[i].title = c->arena + c->refs[i].title;
        c->tracks[i].id = c->arena + c->refs[i].id;
    }
    free(c->refs);
    c->refs = NULL;
}

static fer_status load_buffer(loader *L, const char *data, size_t len, fer_error *err)
{
    fer_csv r;
    fer_csv_init(&r, data, len);
    fer_status s = read_header(L, &r, err);
    if (s == FER_OK)
        s = read_rows(L, &r, err);
    fer_csv_free(&r);
    if (s != FER_OK)
        return s;
    if (L->cat->n == 0 && L->n_bad > 0)
        return fer_fail(err, FER_EFORMAT, "no valid rows (%zu bad); first: %s", L->n_bad,
                        L->first_bad);
    return FER_OK;
}

fer_status fer_catalog_load(const char *path, fer_catalog **out, size_t *n_bad, fer_error *err)
{
    if (!path || !out)
        return fer_fail(err, FER_EINVAL, "fer_catalog_load: NULL argument");
    *out = NULL;
    if (n_bad)
        *n_bad = 0;
    char *data;
    size_t len;
    fer_status s = fer_file_read(path, CATALOG_MAX_BYTES, &data, &len, err);
    if (s != FER_OK)
        return s;
    loader L = {.path = path};
    L.cat = calloc(1, sizeof *L.cat);
    s = L.cat ? load_buffer(&L, data, len, err) : fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    free(data);
    if (s != FER_OK) {
        fer_catalog_free(L.cat);
        return s;
    }
    finish(L.cat);
    if (n_bad)
        *n_bad = L.n_bad;
    if (err) {
        err->code = FER_OK;
        snprintf(err->msg, sizeof err->msg, "%s", L.first_bad);
    }
    *out = L.cat;
    return FER_OK;
}

void fer_catalog_free(fer_catalog *c)
{
    if (!c)
        return;
    free(c->tracks);
    free(c->refs);
    free(c->arena);
    free(c->slots);
    free(c);
}

size_t fer_catalog_size(const fer_catalog *c) { return c ? c->n : 0; }

const fer_track *fer_catalog_track(const fer_catalog *c, size_t i)
{
    return c && i < c->n ? &c->tracks[i] : NULL;
}

long fer_catalog_find(const fer_catalog *c, const char *id)
{
    if (!c || !id || !c->n_slots)
        return -1;
    size_t slot;
    return slot_find(c, id, &slot);
}
