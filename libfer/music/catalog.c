/* The song catalogue: a CSV of tracks with audio features and genre lists
 * (the shipped layout, or SpotifyFeatures') loaded into memory, with a hash
 * index on track ids and an index of its genres. Columns are found by header
 * name, numbers are parsed strictly, and a bad row is skipped and counted,
 * never fatal. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/csv.h"
#include "core/core.h"
#include "music/genres.h"

#define CATALOG_MAX_BYTES ((size_t)512 << 20)
#define MAX_GENRES 256 /* a track's; more are ignored */
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

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
/* The shipped catalogue's name for the genre column (a list either way). */
#define GENRES_ALIAS "genres"

/* Strings live in one arena and are referred to by offset while loading
 * (the arena moves as it grows); pointers are fixed up at the end. */
typedef struct str_refs { size_t genre, artist, title, id; } str_refs;

/* An id index slot: track index + 1 (0: empty) and the id's 32-bit hash,
 * which places it, so that probing rarely and rehashing never touch the
 * strings. A track takes 16 bytes of CSV at least: 512 MiB hold < 2^32. */
typedef struct slot { uint32_t track, tag; } slot;

typedef struct genre_entry { const char *name; size_t n_tracks; } genre_entry;

struct fer_catalog {
    fer_track *tracks;
    str_refs *refs; /* freed once loading is done */
    size_t n, cap;
    char *arena;
    size_t arena_len, arena_cap;
    slot *slots;
    size_t n_slots;
    genre_entry *genres; /* distinct genres, sorted by name */
    size_t n_genres;
    char *genre_text;    /* their names */
    char first_bad[400]; /* the first skipped row, "" when none */
};

typedef struct loader {
    fer_catalog *cat;
    const char *path;
    int col[N_COLS]; /* field index of each column, -1 if absent */
    size_t n_header;
    size_t n_bad;
    char first_bad[400];
    char *scratch; /* a genre list being built */
    size_t scratch_cap;
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

static char ascii_lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }

/* FNV-1a folded to 32 bits, of the ASCII-lower-cased bytes when fold is
 * set (as strncasecmp compares). */
static uint32_t hash_bytes(const char *s, size_t n, int fold)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)(fold ? ascii_lower(s[i]) : s[i])) * 1099511628211ULL;
    return (uint32_t)(h ^ (h >> 32));
}

static const char *id_at(const fer_catalog *c, size_t i)
{
    return c->refs ? c->arena + c->refs[i].id : c->tracks[i].id;
}

/* The track with this id (hash h) or -1; *at gets its slot, or the free one for it. */
static long slot_find(const fer_catalog *c, const char *id, uint32_t h, size_t *at)
{
    size_t mask = c->n_slots - 1, i = h & mask;
    for (; c->slots[i].track; i = (i + 1) & mask)
        if (c->slots[i].tag == h && strcmp(id_at(c, c->slots[i].track - 1), id) == 0)
            break;
    *at = i;
    return (long)c->slots[i].track - 1;
}

/* Keeps the table at most half full. */
static int index_reserve(fer_catalog *c, size_t n)
{
    if (n * 2 <= c->n_slots)
        return 1;
    size_t ns = c->n_slots ? c->n_slots : 1024;
    while (ns < n * 2)
        ns *= 2;
    slot *old = c->slots;
    size_t old_n = c->n_slots;
    c->slots = calloc(ns, sizeof *c->slots);
    if (!c->slots) {
        c->slots = old;
        return 0;
    }
    c->n_slots = ns;
    for (size_t i = 0; i < old_n; i++) {
        if (!old[i].track)
            continue;
        size_t k = old[i].tag & (ns - 1);
        while (c->slots[k].track)
            k = (k + 1) & (ns - 1);
        c->slots[k] = old[i];
    }
    free(old);
    return 1;
}

/* ------------------------------------------------------------ numbers */

/* "C", "C#", "Db" ... or the API's 0..11 (-1: none). */
static int parse_key(const char *s, int *out)
{
    static const char letters[] = "C D EF G A B";
    long v;
    if (fer_parse_integer(s, -1, 11, &v)) {
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
    if (!strcmp(s, "1") || !strcasecmp(s, "major"))
        *out = 1;
    else if (!strcmp(s, "0") || !strcasecmp(s, "minor"))
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
    if (fer_parse_integer(s, 0, 16, &v)) {
        *out = (int)v;
        return 1;
    }
    if (slash && (size_t)(slash - s) < sizeof num) {
        memcpy(num, s, (size_t)(slash - s));
        num[slash - s] = 0;
        long d;
        if (fer_parse_integer(num, 0, 16, &v) && fer_parse_integer(slash + 1, 1, 16, &d)) {
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
        if (s && !fer_parse_number(s, reals[i].lo, reals[i].hi, &v)) {
            *bad = reals[i].c;
            return 0;
        }
        *(float *)((char *)t + reals[i].off) = (float)v;
    }
    long v;
    const char *s = field(r, L, C_POPULARITY);
    if (!fer_parse_integer(s, 0, 100, &v))
        return *bad = C_POPULARITY, 0;
    t->popularity = (int)v;
    s = field(r, L, C_DURATION);
    if (s && !fer_parse_integer(s, 0, INT_MAX, &v))
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

/* ------------------------------------------------------------ genre lists */

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

int fer_list_next(const char **p, char sep, const char **item, size_t *n)
{
    const char *s = *p;
    while (*s) {
        const char *end = s;
        while (*end && *end != sep)
            end++;
        const char *next = *end ? end + 1 : end;
        while (s < end && is_blank(*s))
            s++;
        while (end > s && is_blank(end[-1]))
            end--;
        if (end > s) {
            *item = s;
            *n = (size_t)(end - s);
            *p = next;
            return 1;
        }
        s = next;
    }
    *p = s;
    return 0;
}

int fer_genre_list_has(const char *list, const char *genre, size_t n)
{
    const char *item;
    size_t k;
    while (fer_genre_next(&list, &item, &k))
        if (k == n && strncasecmp(item, genre, n) == 0)
            return 1;
    return 0;
}

int fer_track_has_genre(const fer_track *t, const char *genre)
{
    return t && genre && fer_genre_list_has(t->genre, genre, strlen(genre));
}

/* Appends to L->scratch, which holds a list of `len` bytes, the genres of
 * `list` it lacks (case-insensitively), joined by "; ", up to MAX_GENRES in
 * all; *len is updated. Returns 0 when out of memory. */
static int genres_append(loader *L, size_t *len, const char *list)
{
    size_t need = *len + 3 * strlen(list) + 1; /* an item of n bytes adds n + 2 at most */
    if (need > L->scratch_cap) {
        char *b = realloc(L->scratch, need);
        if (!b)
            return 0;
        L->scratch = b;
        L->scratch_cap = need;
    }
    char *out = L->scratch;
    out[*len] = 0;
    size_t count = 0, n;
    const char *item;
    for (const char *p = out; fer_genre_next(&p, &item, &n);)
        count++;
    for (const char *p = list; count < MAX_GENRES && fer_genre_next(&p, &item, &n);) {
        if (fer_genre_list_has(out, item, n))
            continue;
        if (*len) {
            memcpy(out + *len, "; ", 2);
            *len += 2;
        }
        memcpy(out + *len, item, n);
        *len += n;
        out[*len] = 0;
        count++;
    }
    return 1;
}

static int is_empty_list(const char *list)
{
    const char *item;
    size_t n;
    return !fer_genre_next(&list, &item, &n);
}

/* Same id seen again (the data set lists a track once per genre): add the
 * genres it lacks, keep the highest popularity. */
static int merge_duplicate(loader *L, long i, const char *genres, int popularity)
{
    fer_catalog *c = L->cat;
    fer_track *t = &c->tracks[i];
    if (popularity > t->popularity)
        t->popularity = popularity;
    size_t old = strlen(c->arena + c->refs[i].genre), len = 0;
    if (!genres_append(L, &len, c->arena + c->refs[i].genre) || !genres_append(L, &len, genres))
        return 0;
    return len == old || arena_add(c, L->scratch, len, &c->refs[i].genre);
}

static int reserve_tracks(fer_catalog *c, size_t n)
{
    if (n <= c->cap)
        return 1;
    fer_track *nt = realloc(c->tracks, n * sizeof *nt);
    if (!nt)
        return 0;
    c->tracks = nt;
    str_refs *nr = realloc(c->refs, n * sizeof *nr);
    if (!nr)
        return 0;
    c->refs = nr;
    c->cap = n;
    return 1;
}

static int append_track(loader *L, const fer_track *t, const fer_csv *r)
{
    fer_catalog *c = L->cat;
    if (c->n == c->cap && !reserve_tracks(c, c->cap ? c->cap * 2 : 1024))
        return 0;
    str_refs *s = &c->refs[c->n];
    const enum col cols[3] = {C_ARTIST, C_TITLE, C_ID};
    size_t *offs[3] = {&s->artist, &s->title, &s->id}, len = 0;
    for (int k = 0; k < 3; k++) {
        size_t col = (size_t)L->col[cols[k]];
        if (!arena_add(c, fer_csv_field(r, col), fer_csv_field_len(r, col), offs[k]))
            return 0;
    }
    if (!genres_append(L, &len, fer_csv_field(r, (size_t)L->col[C_GENRE])) ||
        !arena_add(c, L->scratch, len, &s->genre))
        return 0;
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
    const char *id = fer_csv_field(r, (size_t)L->col[C_ID]);
    uint32_t h = hash_bytes(id, fer_csv_field_len(r, (size_t)L->col[C_ID]), 0);
    if (c->n_slots) /* a cache miss, paid while the numbers are read */
        PREFETCH(&c->slots[h & (c->n_slots - 1)]);
    const enum col text[4] = {C_ID, C_TITLE, C_ARTIST, C_GENRE};
    for (int k = 0; k < 4; k++)
        if (k < 3 ? !*fer_csv_field(r, (size_t)L->col[text[k]])
                  : is_empty_list(fer_csv_field(r, (size_t)L->col[C_GENRE]))) {
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
    size_t at;
    if (!index_reserve(c, c->n + 1))
        return 0;
    long dup = slot_find(c, id, h, &at);
    if (dup >= 0)
        return merge_duplicate(L, dup, fer_csv_field(r, (size_t)L->col[C_GENRE]), t.popularity);
    if (!append_track(L, &t, r))
        return 0;
    c->slots[at] = (slot){(uint32_t)c->n, h};
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
            if (L->col[c] < 0 && (!strcasecmp(fer_csv_field(r, i), col_names[c]) ||
                                  (c == C_GENRE && !strcasecmp(fer_csv_field(r, i), GENRES_ALIAS))))
                L->col[c] = (int)i;
    for (int c = 0; c < REQUIRED_COLS; c++)
        if (L->col[c] < 0)
            return fer_fail(err, FER_EFORMAT, "%s:%zu: missing column '%s'%s in the header",
                            L->path, r->line, col_names[c],
                            c == C_GENRE ? " (or '" GENRES_ALIAS "')" : "");
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

/* ------------------------------------------------------------ genre index */

/* Distinct genres while they are counted: names point into the arena. */
typedef struct genre_seen { const char *name; size_t len, n_tracks; uint32_t hash; } genre_seen;
typedef struct genre_set {
    genre_seen *g;
    size_t n, cap;
    uint32_t *slots; /* entry index + 1, 0 empty */
    size_t n_slots;
} genre_set;

static long genre_find(const genre_set *s, const char *name, size_t len, uint32_t h, size_t *at)
{
    size_t mask = s->n_slots - 1, i = h & mask;
    for (; s->slots[i]; i = (i + 1) & mask) {
        const genre_seen *g = &s->g[s->slots[i] - 1];
        if (g->hash == h && g->len == len && strncasecmp(g->name, name, len) == 0)
            break;
    }
    *at = i;
    return (long)s->slots[i] - 1;
}

/* Room for one more genre, the table at most half full. */
static int genre_reserve(genre_set *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        genre_seen *g = realloc(s->g, cap * sizeof *g);
        if (!g)
            return 0;
        s->g = g;
        s->cap = cap;
    }
    if ((s->n + 1) * 2 <= s->n_slots)
        return 1;
    size_t ns = s->n_slots ? s->n_slots * 2 : 128;
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (!slots)
        return 0;
    free(s->slots);
    s->slots = slots;
    s->n_slots = ns;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->g[k].hash & (ns - 1);
        while (slots[i])
            i = (i + 1) & (ns - 1);
        slots[i] = (uint32_t)k + 1;
    }
    return 1;
}

static int genre_count(genre_set *s, const char *name, size_t len)
{
    if (!genre_reserve(s))
        return 0;
    uint32_t h = hash_bytes(name, len, 1);
    size_t at;
    long k = genre_find(s, name, len, h, &at);
    if (k < 0) {
        k = (long)s->n++;
        s->g[k] = (genre_seen){name, len, 0, h};
        s->slots[at] = (uint32_t)s->n;
    }
    s->g[k].n_tracks++;
    return 1;
}

static int by_genre_name(const void *a, const void *b)
{
    return strcasecmp(((const genre_entry *)a)->name, ((const genre_entry *)b)->name);
}

/* The catalogue's own copy of the names, sorted. */
static int keep_genres(fer_catalog *c, const genre_set *s)
{
    size_t bytes = 0;
    for (size_t k = 0; k < s->n; k++)
        bytes += s->g[k].len + 1;
    c->genres = malloc(s->n * sizeof *c->genres);
    c->genre_text = malloc(bytes);
    if (!c->genres || !c->genre_text)
        return 0;
    char *p = c->genre_text;
    for (size_t k = 0; k < s->n; k++) {
        memcpy(p, s->g[k].name, s->g[k].len);
        p[s->g[k].len] = 0;
        c->genres[k] = (genre_entry){p, s->g[k].n_tracks};
        p += s->g[k].len + 1;
    }
    c->n_genres = s->n;
    qsort(c->genres, c->n_genres, sizeof *c->genres, by_genre_name);
    return 1;
}

/* Each distinct genre (case-insensitively; the first spelling names it) and
 * its number of tracks: lists hold a genre once, so one count a list. */
static int index_genres(fer_catalog *c)
{
    genre_set s = {0};
    int ok = 1;
    for (size_t i = 0; ok && i < c->n; i++) {
        const char *p = c->tracks[i].genre, *item;
        size_t n;
        while (ok && fer_genre_next(&p, &item, &n))
            ok = genre_count(&s, item, n);
    }
    ok = ok && (s.n == 0 || keep_genres(c, &s));
    free(s.g);
    free(s.slots);
    return ok;
}

/* Turns arena offsets into pointers, drops the load-time state and indexes
 * the genres; 0 when out of memory. */
static int finish(fer_catalog *c)
{
    for (size_t i = 0; i < c->n; i++) {
        c->tracks[i].genre = c->arena + c->refs[i].genre;
        c->tracks[i].artist = c->arena + c->refs[i].artist;
        c->tracks[i].title = c->arena + c->refs[i].title;
        c->tracks[i].id = c->arena + c->refs[i].id;
    }
    free(c->refs);
    c->refs = NULL;
    return index_genres(c);
}

/* A hint, so that the tables rarely grow: room for as many tracks as the
 * file has lines (a track takes 16 bytes at least; 4 Mi at most here) and
 * for as many string bytes as it has. Without the memory they grow instead. */
static void presize(fer_catalog *c, const char *data, size_t len)
{
    size_t lines = fer_csv_count_lines(data, len) + 1, n = len / 16 + 1;
    n = lines < n ? lines : n;
    n = n < ((size_t)1 << 22) ? n : (size_t)1 << 22;
    if (reserve_tracks(c, n))
        index_reserve(c, n);
    if ((c->arena = malloc(len + 1)) != NULL)
        c->arena_cap = len + 1;
}

static fer_status load_buffer(loader *L, const char *data, size_t len, fer_error *err)
{
    presize(L->cat, data, len);
    fer_csv r;
    fer_csv_init(&r, data, len, &(fer_csv_opts){.utf8 = 1});
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
    free(L.scratch);
    if (s == FER_OK && !finish(L.cat))
        s = fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    if (s != FER_OK) {
        fer_catalog_free(L.cat);
        return s;
    }
    if (n_bad)
        *n_bad = L.n_bad;
    memcpy(L.cat->first_bad, L.first_bad, sizeof L.first_bad);
    *out = L.cat;
    return FER_OK;
}

const char *fer_catalog_first_bad(const fer_catalog *c) { return c ? c->first_bad : ""; }

void fer_catalog_free(fer_catalog *c)
{
    if (!c)
        return;
    free(c->tracks);
    free(c->refs);
    free(c->arena);
    free(c->slots);
    free(c->genres);
    free(c->genre_text);
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
    size_t at;
    return slot_find(c, id, hash_bytes(id, strlen(id), 0), &at);
}

size_t fer_catalog_n_genres(const fer_catalog *c) { return c ? c->n_genres : 0; }

const char *fer_catalog_genre(const fer_catalog *c, size_t i, size_t *n_tracks)
{
    if (!c || i >= c->n_genres)
        return NULL;
    if (n_tracks)
        *n_tracks = c->genres[i].n_tracks;
    return c->genres[i].name;
}
