/* fer-recommend: songs for an emotional state, from the offline catalogue or
 * the Spotify Web API. The state comes from --emotion/--intensity/--bpm or
 * from fer-predict's JSON on stdin; docs/tools.md and docs/recommend.md. */
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *prog = "fer-recommend";

enum { SRC_AUTO, SRC_OFFLINE, SRC_SPOTIFY };
enum { MAX_LIMIT = 50, MAX_STDIN = 1 << 20, DEFAULT_INTENSITY_PCT = 70 };

typedef struct options {
    const char *emotion, *genre, *catalog, *m3u;
    double intensity, bpm;
    long age, limit, bench;
    uint64_t seed;
    int have_bpm, have_age, have_intensity, strategy, source, json, table;
} options;

/* The state to recommend for, however it was given. */
typedef struct mood_input {
    fer_state state;
    fer_heart heart;
    int have_heart;
} mood_input;

/* One recommended track, from either source. */
typedef struct row {
    const char *id, *title, *artist, *genre;
    int popularity;      /* -1 unknown */
    const fer_track *features; /* NULL when the catalogue does not know it */
    double score, distance;
} row;

typedef struct outcome {
    row *rows;
    size_t n;
    const char *source; /* "offline", "spotify-recommendations", "spotify-search" */
} outcome;

static void usage_text(FILE *out)
{
    fprintf(out,
            "usage: fer-recommend --emotion NAME [--intensity X] [--bpm N] [--age Y] [options]\n"
            "       fer-predict face.jpg --bpm 88 --json | fer-recommend [options]\n"
            "Recommends songs for an emotional state.\n"
            "  --emotion NAME      angry, disgust(ed), fear(ful), happy, sad, surprise(d), neutral\n"
            "  --intensity X       how clearly the face shows it, 0..1 (default 0.7)\n"
            "  --bpm N             heart rate (beats per minute), sets arousal and heart level\n"
            "  --age Y             age in years for the resting heart-rate range (default adult)\n"
            "  --strategy S        match (music that fits the mood, default) or uplift\n"
            "                      (music that moves towards calm and positive)\n"
            "  --genre G           only this genre (case-insensitive)\n"
            "  --limit N           number of songs, 1..%d (default 10)\n"
            "  --seed S            tie-breaking seed (default 0)\n"
            "  --catalog FILE      SpotifyFeatures-style CSV (default: the shipped %s)\n"
            "  --source S          offline or spotify (default: spotify when SPOTIFY_CLIENT_ID\n"
            "                      and SPOTIFY_CLIENT_SECRET are set, else offline)\n"
            "  --json              print JSON instead of a table\n"
            "  --m3u FILE          also write an M3U playlist of open.spotify.com links\n"
            "  --table             print the state-to-music target table (Markdown) and exit\n"
            "  --bench N           time N rankings of the whole catalogue and exit\n"
            "Without --emotion, the first fer-predict JSON object with a state is read from stdin.\n",
            MAX_LIMIT, CLI_CATALOG);
}

/* ------------------------------------------------------------ arguments */

static int parse_value(options *o, int k, const char *v)
{
    long l;
    switch (k) {
    case 0: o->emotion = v; return fer_emotion_index(v) >= 0 ||
        (cli_error(prog, "--emotion '%s': expected angry, disgust, fear, happy, sad, surprise "
                         "or neutral", v), 0);
    case 1: o->have_intensity = 1; return cli_parse_double(v, 0, 1, &o->intensity) ||
        (cli_error(prog, "--intensity '%s': expected a number in 0..1", v), 0);
    case 2: { /* checked here; scored again once --age is known (heart_from_bpm) */
        fer_hr_opts defaults = {0};
        fer_heart h;
        o->have_bpm = 1;
        return cli_parse_bpm(prog, v, &defaults, &h) && (o->bpm = h.bpm, 1);
    }
    case 3: o->have_age = 1; return cli_parse_long(v, 1, 120, &o->age) ||
        (cli_error(prog, "--age '%s': expected years in 1..120", v), 0);
    case 4:
        if (!strcasecmp(v, "match") || !strcasecmp(v, "uplift"))
            return o->strategy = tolower((unsigned char)v[0]) == 'u', 1;
        return cli_error(prog, "--strategy '%s': expected match or uplift", v), 0;
    case 5: o->genre = v; return *v || (cli_error(prog, "--genre: empty value"), 0);
    case 6: return cli_parse_long(v, 1, MAX_LIMIT, &o->limit) ||
        (cli_error(prog, "--limit '%s': expected an integer 1..%d", v, MAX_LIMIT), 0);
    case 7:
        if (!cli_parse_long(v, 0, LONG_MAX, &l))
            return cli_error(prog, "--seed '%s': expected a non-negative integer", v), 0;
        return o->seed = (uint64_t)l, 1;
    case 8: o->catalog = v; return *v || (cli_error(prog, "--catalog: empty value"), 0);
    case 9:
        if (!strcasecmp(v, "offline") || !strcasecmp(v, "spotify"))
            return o->source = tolower((unsigned char)v[0]) == 's' ? SRC_SPOTIFY : SRC_OFFLINE, 1;
        return cli_error(prog, "--source '%s': expected offline or spotify", v), 0;
    case 10: o->m3u = v; return *v || (cli_error(prog, "--m3u: empty value"), 0);
    case 11: return cli_parse_long(v, 1, 100000, &o->bench) ||
        (cli_error(prog, "--bench '%s': expected a count 1..100000", v), 0);
    }
    return 0;
}

/* Returns 0 to go on, else an exit status + 1 (so --help gives 1 -> exit 0). */
static int parse_args(int argc, char **argv, options *o)
{
    static const char *const names[] = {"--emotion", "--intensity", "--bpm",   "--age",
                                        "--strategy", "--genre",    "--limit", "--seed",
                                        "--catalog",  "--source",   "--m3u",   "--bench"};
    enum { N_NAMES = sizeof names / sizeof names[0] };
    *o = (options){.intensity = DEFAULT_INTENSITY_PCT / 100.0, .limit = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage_text(stdout), 1;
        if (!strcmp(a, "--json") || !strcmp(a, "--table")) {
            *(a[2] == 'j' ? &o->json : &o->table) = 1;
            continue;
        }
        int k = 0;
        while (k < N_NAMES && !cli_is_option(a, names[k]))
            k++;
        if (k == N_NAMES)
            return cli_error(prog, "unknown argument '%s' (see --help)", a), 3;
        if (!(v = cli_option_value(prog, argc, argv, &i, names[k])) || !parse_value(o, k, v))
            return 3;
    }
    if (o->have_intensity && !o->emotion) /* stdin's state has its own intensity */
        return cli_error(prog, "--intensity needs --emotion (see --help)"), 3;
    return 0;
}

/* ------------------------------------------------------------ state */

static const char *const emotion_titles[FER_N_EMOTIONS] = {
    "Angry", "Disgusted", "Fearful", "Happy", "Sad", "Surprised", "Neutral"};

static int heart_from_bpm(const options *o, double bpm, fer_heart *h)
{
    fer_hr_opts ho = {0};
    ho.age = o->have_age ? (int)o->age : 0;
    fer_error err;
    if (fer_heart_from_bpm(bpm, &ho, h, &err) != FER_OK) {
        cli_error(prog, "heart rate %g: %s", bpm, err.msg);
        return 0;
    }
    return 1;
}

/* --emotion X --intensity p: a face that shows X with probability p (at
 * least 0.15, so X stays the most likely), the rest spread evenly, fused
 * with the heart rate by libfer's fusion rules. */
static int state_from_flags(const options *o, mood_input *in)
{
    int e = fer_emotion_index(o->emotion);
    double p = o->intensity < 0.15 ? 0.15 : o->intensity;
    float probs[FER_N_EMOTIONS];
    for (int i = 0; i < FER_N_EMOTIONS; i++)
        probs[i] = i == e ? (float)p : (float)((1 - p) / (FER_N_EMOTIONS - 1));
    in->have_heart = o->have_bpm;
    if (o->have_bpm && !heart_from_bpm(o, o->bpm, &in->heart))
        return 0;
    fer_error err;
    if (fer_fuse(probs, in->have_heart ? &in->heart : NULL, NULL, &in->state, &err) != FER_OK) {
        cli_error(prog, "%s", err.msg);
        return 0;
    }
    return 1;
}

static int intensity_from_word(const char *w, fer_intensity *out)
{
    if (!strcasecmp(w, "mildly"))
        *out = FER_MILDLY;
    else if (!strcasecmp(w, "very"))
        *out = FER_VERY;
    else if (!*w || !strcasecmp(w, "plain"))
        *out = FER_PLAIN;
    else
        return 0;
    return 1;
}

static int json_unit(const cJSON *o, const char *key, double lo, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= 1))
        return 0;
    *out = v->valuedouble;
    return 1;
}

/* fer-predict's "state": {"emotion","intensity","label","valence","arousal"}. */
static int state_from_json(const cJSON *st, size_t line, fer_state *s)
{
    const cJSON *em = cJSON_GetObjectItemCaseSensitive(st, "emotion");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(st, "intensity");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(st, "label");
    memset(s, 0, sizeof *s);
    s->emotion = cJSON_IsString(em) ? fer_emotion_index(em->valuestring) : -1;
    if (s->emotion < 0)
        return cli_error(prog, "stdin line %zu: state.emotion missing or not an emotion name", line), 0;
    s->intensity = FER_PLAIN;
    if (in && (!cJSON_IsString(in) || !intensity_from_word(in->valuestring, &s->intensity)))
        return cli_error(prog, "stdin line %zu: state.intensity is not Mildly, plain or Very", line), 0;
    if (!json_unit(st, "arousal", 0, &s->arousal))
        return cli_error(prog, "stdin line %zu: state.arousal missing or outside 0..1", line), 0;
    if (!json_unit(st, "valence", -1, &s->valence))
        s->valence = 0;
    s->emotion_name = emotion_titles[s->emotion];
    snprintf(s->label, sizeof s->label, "%s",
             cJSON_IsString(label) && *label->valuestring ? label->valuestring : s->emotion_name);
    s->confidence = NAN;
    return 1;
}

/* "heart": {"bpm","level","arousal"} or null. --bpm/--age recompute it. */
static int heart_from_json(const options *o, const cJSON *h, size_t line, mood_input *in)
{
    const cJSON *bpm = cJSON_GetObjectItemCaseSensitive(h, "bpm");
    const cJSON *level = cJSON_GetObjectItemCaseSensitive(h, "level");
    if (!cJSON_IsNumber(bpm))
        return cli_error(prog, "stdin line %zu: heart.bpm missing or not a number", line), 0;
    if (!heart_from_bpm(o, bpm->valuedouble, &in->heart))
        return 0;
    if (!o->have_age && cJSON_IsString(level)) { /* keep fer-predict's own judgement */
        for (int l = FER_HR_LOW; l <= FER_HR_HIGH; l++)
            if (!strcmp(level->valuestring, fer_hr_level_name((fer_hr_level)l)))
                in->heart.level = (fer_hr_level)l;
        json_unit(h, "arousal", 0, &in->heart.arousal);
    }
    in->have_heart = 1;
    return 1;
}

static int read_stdin(char **buf, size_t *len)
{
    size_t cap = 4096;
    *buf = malloc(cap + 1);
    *len = 0;
    for (;;) {
        if (!*buf)
            return cli_error(prog, "out of memory reading stdin"), 0;
        size_t got = fread(*buf + *len, 1, cap - *len, stdin);
        *len += got;
        if (got == 0)
            break;
        if (*len == cap) {
            if (cap >= MAX_STDIN)
                return cli_error(prog, "stdin: more than %d bytes of JSON", MAX_STDIN), 0;
            cap *= 2;
            *buf = realloc(*buf, cap + 1);
        }
    }
    if (ferror(stdin))
        return cli_error(prog, "stdin: read error: %s", strerror(errno)), 0;
    (*buf)[*len] = 0;
    return 1;
}

/* Uses the first object that has a state (fer-predict prints null when it
 * found no face); the lines after it are not read as JSON. */
static int state_from_stdin(const options *o, mood_input *in)
{
    char *buf;
    size_t len, line = 1;
    if (!read_stdin(&buf, &len)) {
        free(buf);
        return 0;
    }
    const char *p = buf, *end = buf + len;
    int found = 0, ok = 0, objects = 0;
    while (!found) {
        while (p < end && strchr(" \t\r\n", *p))
            line += *p++ == '\n';
        if (p >= end)
            break;
        const char *stop;
        cJSON *j = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
        if (!j || !cJSON_IsObject(j)) {
            cli_error(prog, "stdin line %zu: not a JSON object (expected fer-predict --json output)", line);
            cJSON_Delete(j);
            break;
        }
        objects++;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "state");
        if (cJSON_IsObject(st)) {
            found = 1;
            const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "heart");
            ok = state_from_json(st, line, &in->state) &&
                 (o->have_bpm ? (in->have_heart = heart_from_bpm(o, o->bpm, &in->heart))
                              : !cJSON_IsObject(h) || heart_from_json(o, h, line, in));
        }
        for (const char *q = p; q < stop; q++)
            line += *q == '\n';
        p = stop;
        cJSON_Delete(j);
    }
    if (!found && p >= end)
        cli_error(prog, objects ? "stdin: no object with a \"state\" (no face found?)"
                                : "stdin: no input (give --emotion, or pipe fer-predict --json)");
    free(buf);
    return ok;
}

/* ------------------------------------------------------------ sources */

static int load_catalog(const options *o, int required, fer_catalog **c, const char **path,
                        char *buf, size_t cap)
{
    *path = o->catalog ? o->catalog : cli_data_path(CLI_CATALOG, buf, cap);
    if (!*path) {
        if (required)
            cli_error(prog, "no catalogue: %s does not exist (pass --catalog FILE)", buf);
        return 0;
    }
    size_t bad;
    fer_error err;
    if (fer_catalog_load(*path, c, &bad, &err) != FER_OK) {
        if (required)
            cli_error(prog, "%s", err.msg);
        return 0;
    }
    if (bad)
        fprintf(stderr, "%s: warning: %zu bad rows skipped; first: %s\n", prog, bad, err.msg);
    return 1;
}

static int offline(const options *o, const fer_catalog *c, const fer_music_target *t,
                   outcome *out)
{
    fer_rank_opts ro;
    fer_rank_opts_default(&ro);
    ro.limit = (size_t)o->limit;
    ro.genre = o->genre;
    ro.seed = o->seed;
    fer_pick picks[MAX_LIMIT];
    size_t n;
    fer_error err;
    if (fer_recommend(c, t, &ro, picks, &n, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), 0;
    out->rows = calloc(n ? n : 1, sizeof *out->rows);
    if (!out->rows)
        return cli_error(prog, "out of memory"), 0;
    for (size_t i = 0; i < n; i++) {
        const fer_track *tr = fer_catalog_track(c, picks[i].track);
        out->rows[i] = (row){tr->id, tr->title, tr->artist, tr->genre, tr->popularity, tr,
                             picks[i].score, picks[i].distance};
    }
    out->n = n;
    out->source = "offline";
    return 1;
}

static int spotify(const options *o, const fer_catalog *c, const fer_music_target *t,
                   fer_spotify_result *res, outcome *out)
{
    fer_spotify *s;
    fer_error err;
    if (fer_spotify_new(getenv("SPOTIFY_CLIENT_ID"), getenv("SPOTIFY_CLIENT_SECRET"), NULL, NULL,
                        &s, &err) != FER_OK ||
        fer_spotify_recommend(s, t, o->genre, (size_t)o->limit, c, res, &err) != FER_OK) {
        cli_error(prog, "Spotify: %s", err.msg);
        fer_spotify_free(s);
        return 0;
    }
    fer_spotify_free(s);
    out->rows = calloc(res->n ? res->n : 1, sizeof *out->rows);
    if (!out->rows)
        return cli_error(prog, "out of memory"), 0;
    for (size_t i = 0; i < res->n; i++) {
        const fer_spotify_track *k = &res->tracks[i];
        const fer_track *tr = k->catalog_index >= 0 ? fer_catalog_track(c, (size_t)k->catalog_index) : NULL;
        out->rows[i] = (row){k->id, k->title, k->artist, tr ? tr->genre : (o->genre ? o->genre : "-"),
                             k->popularity, tr, k->score, k->distance};
    }
    out->n = res->n;
    out->source = res->path[0] == 'r' ? "spotify-recommendations" : "spotify-search";
    return 1;
}

/* ------------------------------------------------------------ output */

/* Prints s in exactly `width` columns (one per code point), control
 * characters as spaces, cut with "…" when too long. */
static void put_cell(const char *s, int width)
{
    int cols = 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t total = 0;
    for (const unsigned char *q = p; *q; q++)
        total += (*q & 0xC0) != 0x80;
    while (*p && cols < width) {
        if (total > (size_t)width && cols == width - 1) {
            fputs("\xE2\x80\xA6", stdout);
            cols++;
            break;
        }
        size_t n = 1;
        while ((p[n] & 0xC0) == 0x80)
            n++;
        if (*p < 0x20 || *p == 0x7F)
            putchar(' ');
        else
            fwrite(p, 1, n, stdout);
        p += n;
        cols++;
    }
    for (; cols < width; cols++)
        putchar(' ');
}

/* x rounded as printed with 1/scale resolution, so that a difference that
 * rounds to zero prints "+0.00", not "-0.00". */
static double as_shown(double x, double scale) { return round(x * scale) / scale + 0.0; }

static void why_text(const row *r, const fer_music_target *t, char *buf, size_t cap)
{
    const fer_track *f = r->features;
    if (!f) {
        snprintf(buf, cap, "no audio features known; popularity %d", r->popularity);
        return;
    }
    int in_band = fabs(f->valence - t->valence) <= t->tol_valence &&
                  fabs(f->energy - t->energy) <= t->tol_energy &&
                  fabs(f->tempo - t->tempo) <= t->tol_tempo;
    snprintf(buf, cap, "valence %.2f (%+.2f) energy %.2f (%+.2f) %3.0f BPM (%+.0f)%s", f->valence,
             as_shown(f->valence - t->valence, 100), f->energy,
             as_shown(f->energy - t->energy, 100), f->tempo, as_shown(f->tempo - t->tempo, 1),
             in_band ? " \xE2\x9C\x93" : "");
}

static const char *strategy_name(const options *o) { return o->strategy ? "uplift" : "match"; }

static void print_table(const options *o, const mood_input *in, const fer_music_target *t,
                        const outcome *out)
{
    printf("State: %s (valence %+.2f, arousal %.2f)", in->state.label, in->state.valence,
           in->state.arousal);
    if (in->have_heart)
        printf(", heart %.0f bpm (%s)", in->heart.bpm, fer_hr_level_name(in->heart.level));
    printf("\nTarget (%s): valence %.2f\xC2\xB1%.2f, energy %.2f\xC2\xB1%.2f, tempo %.0f\xC2\xB1%.0f BPM\n\n",
           strategy_name(o), t->valence, t->tol_valence, t->energy, t->tol_energy, t->tempo,
           t->tol_tempo);
    enum { W_TITLE = 32, W_ARTIST = 22, W_GENRE = 12, W_WHY = 58 };
    printf(" #  ");
    put_cell("Title", W_TITLE);
    putchar(' ');
    put_cell("Artist", W_ARTIST);
    putchar(' ');
    put_cell("Genre", W_GENRE);
    putchar(' ');
    put_cell("Why: track (difference to target)", W_WHY);
    printf("  Link\n");
    for (size_t i = 0; i < out->n; i++) {
        const row *r = &out->rows[i];
        char why[128];
        why_text(r, t, why, sizeof why);
        printf("%2zu  ", i + 1);
        put_cell(r->title, W_TITLE);
        putchar(' ');
        put_cell(r->artist, W_ARTIST);
        putchar(' ');
        put_cell(r->genre, W_GENRE);
        putchar(' ');
        put_cell(why, W_WHY);
        printf("  https://open.spotify.com/track/%s\n", r->id);
    }
}

static double round3(double x) { return round(x * 1000) / 1000; }

static cJSON *target_json(const fer_music_target *t)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "valence", round3(t->valence));
    cJSON_AddNumberToObject(j, "energy", round3(t->energy));
    cJSON_AddNumberToObject(j, "tempo", round3(t->tempo));
    cJSON_AddNumberToObject(j, "danceability", round3(t->danceability));
    cJSON_AddNumberToObject(j, "acousticness", round3(t->acousticness));
    cJSON_AddNumberToObject(j, "tol_valence", round3(t->tol_valence));
    cJSON_AddNumberToObject(j, "tol_energy", round3(t->tol_energy));
    cJSON_AddNumberToObject(j, "tol_tempo", round3(t->tol_tempo));
    return j;
}

static cJSON *row_json(const row *r, size_t rank)
{
    char url[128];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "rank", (double)rank);
    cJSON_AddStringToObject(j, "id", r->id);
    cJSON_AddStringToObject(j, "title", r->title);
    cJSON_AddStringToObject(j, "artist", r->artist);
    cJSON_AddStringToObject(j, "genre", r->genre);
    if (r->popularity >= 0)
        cJSON_AddNumberToObject(j, "popularity", r->popularity);
    else
        cJSON_AddNullToObject(j, "popularity");
    if (r->features) {
        cJSON_AddNumberToObject(j, "valence", round3(r->features->valence));
        cJSON_AddNumberToObject(j, "energy", round3(r->features->energy));
        cJSON_AddNumberToObject(j, "tempo", round3(r->features->tempo));
        cJSON_AddNumberToObject(j, "distance", round3(r->distance));
    } else {
        cJSON_AddNullToObject(j, "distance");
    }
    cJSON_AddNumberToObject(j, "score", round3(r->score));
    snprintf(url, sizeof url, "https://open.spotify.com/track/%s", r->id);
    cJSON_AddStringToObject(j, "url", url);
    return j;
}

static int print_json(const options *o, const mood_input *in, const fer_music_target *t,
                      const outcome *out)
{
    cJSON *j = cJSON_CreateObject(), *st = cJSON_CreateObject(), *tracks = cJSON_CreateArray();
    cJSON_AddStringToObject(st, "emotion", emotion_titles[in->state.emotion]);
    cJSON_AddStringToObject(st, "label", in->state.label);
    cJSON_AddNumberToObject(st, "valence", round3(in->state.valence));
    cJSON_AddNumberToObject(st, "arousal", round3(in->state.arousal));
    if (in->have_heart) {
        cJSON_AddNumberToObject(st, "bpm", round3(in->heart.bpm));
        cJSON_AddStringToObject(st, "heart_level", fer_hr_level_name(in->heart.level));
    }
    cJSON_AddItemToObject(j, "state", st);
    cJSON_AddStringToObject(j, "strategy", strategy_name(o));
    cJSON_AddItemToObject(j, "target", target_json(t));
    cJSON_AddStringToObject(j, "source", out->source);
    for (size_t i = 0; i < out->n; i++)
        cJSON_AddItemToArray(tracks, row_json(&out->rows[i], i + 1));
    cJSON_AddItemToObject(j, "tracks", tracks);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return cli_error(prog, "out of memory"), 0;
    puts(text);
    cJSON_free(text);
    return 1;
}

/* #EXTM3U with one #EXTINF (artist - title) and link per track. */
static int write_m3u(const char *path, const outcome *out)
{
    size_t cap = 64, len = 0;
    for (size_t i = 0; i < out->n; i++)
        cap += strlen(out->rows[i].title) + strlen(out->rows[i].artist) + 128;
    char *buf = malloc(cap);
    if (!buf)
        return cli_error(prog, "out of memory"), 0;
    len += (size_t)snprintf(buf, cap, "#EXTM3U\n");
    for (size_t i = 0; i < out->n; i++) {
        const row *r = &out->rows[i];
        int secs = r->features && r->features->duration_ms > 0 ? (r->features->duration_ms + 500) / 1000 : -1;
        size_t start = len;
        len += (size_t)snprintf(buf + len, cap - len, "#EXTINF:%d,%s - %s", secs, r->artist, r->title);
        for (size_t k = start; k < len; k++) /* a newline in a title would break the format */
            if ((unsigned char)buf[k] < 0x20)
                buf[k] = ' ';
        len += (size_t)snprintf(buf + len, cap - len, "\nhttps://open.spotify.com/track/%s\n", r->id);
    }
    fer_error err;
    int ok = fer_file_write_atomic(path, buf, len, &err) == FER_OK;
    if (!ok)
        cli_error(prog, "%s", err.msg);
    free(buf);
    return ok;
}

/* ------------------------------------------------------------ extras */

/* The whole target table as Markdown, for docs/recommend.md. */
static int print_target_table(void)
{
    static const struct { double bpm; fer_hr_level level; const char *name; } hearts[4] = {
        {0, FER_HR_MODERATE, "none"}, {55, FER_HR_LOW, "low (55)"},
        {80, FER_HR_MODERATE, "moderate (80)"}, {125, FER_HR_HIGH, "high (125)"}};
    static const char *const words[3] = {"Mildly", "plain", "Very"};
    printf("| emotion | intensity | arousal | heart | match v / e / tempo | uplift v / e / tempo | tol v, e, tempo |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (int e = 0; e < FER_N_EMOTIONS; e++)
        for (int in = 0; in < 3; in++)
            for (int a = 0; a < 2; a++)
                for (int h = 0; h < 4; h++) {
                    fer_state s = {0};
                    s.emotion = e;
                    s.intensity = (fer_intensity)in;
                    s.arousal = a ? 0.8 : 0.3;
                    fer_heart hh = {0};
                    hh.bpm = hearts[h].bpm;
                    hh.level = hearts[h].level;
                    fer_music_target m, u;
                    fer_error err;
                    if (fer_music_target_for(&s, h ? &hh : NULL, FER_STRATEGY_MATCH, &m, &err) ||
                        fer_music_target_for(&s, h ? &hh : NULL, FER_STRATEGY_UPLIFT, &u, &err))
                        return cli_error(prog, "%s", err.msg), 0;
                    printf("| %s | %s | %.1f | %s | %.2f / %.2f / %.0f | %.2f / %.2f / %.0f | "
                           "%.2f, %.2f, %.0f |\n",
                           emotion_titles[e], words[in], s.arousal, hearts[h].name, m.valence,
                           m.energy, m.tempo, u.valence, u.energy, u.tempo, m.tol_valence,
                           m.tol_energy, m.tol_tempo);
                }
    return 1;
}

static int bench(const options *o, const fer_catalog *c, const fer_music_target *t)
{
    fer_rank_opts ro;
    fer_rank_opts_default(&ro);
    ro.limit = (size_t)o->limit;
    fer_pick picks[MAX_LIMIT];
    size_t n;
    double best = INFINITY, total = 0;
    for (long i = 0; i < o->bench; i++) {
        ro.seed = (uint64_t)i;
        double t0 = cli_now();
        if (fer_recommend(c, t, &ro, picks, &n, NULL) != FER_OK)
            return cli_error(prog, "ranking failed"), 0;
        double dt = cli_now() - t0;
        total += dt;
        best = dt < best ? dt : best;
    }
    printf("ranked %zu tracks %ld times: mean %.3f ms, best %.3f ms per ranking\n",
           fer_catalog_size(c), o->bench, 1e3 * total / (double)o->bench, 1e3 * best);
    return 1;
}

/* ------------------------------------------------------------ main */

static int get_state(const options *o, mood_input *in)
{
    memset(in, 0, sizeof *in);
    if (o->emotion)
        return state_from_flags(o, in);
    if (isatty(0))
        return cli_error(prog, "no state: give --emotion NAME or pipe fer-predict --json "
                               "(see --help)"), 0;
    return state_from_stdin(o, in);
}

/* Checked first, so that a typo in --m3u does not cost a Spotify query. */
static int output_dir_writable(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = 0;
    if (access(slash ? dir : ".", W_OK) != 0)
        return cli_error(prog, "%s: cannot write there: %s", path, strerror(errno)), 0;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_error(prog, "%s: is a directory", path), 0;
    return 1;
}

static int want_spotify(const options *o)
{
    const char *id = getenv("SPOTIFY_CLIENT_ID"), *secret = getenv("SPOTIFY_CLIENT_SECRET");
    return o->source == SRC_SPOTIFY || (o->source == SRC_AUTO && id && *id && secret && *secret);
}

static int recommend(const options *o, const fer_music_target *t, fer_catalog **c,
                     fer_spotify_result *res, outcome *out)
{
    char buf[4096];
    const char *path;
    if (want_spotify(o)) {
        load_catalog(o, 0, c, &path, buf, sizeof buf); /* features for ranking, if any */
        if (spotify(o, *c, t, res, out)) {
            fprintf(stderr, "%s: source: Spotify Web API, %s\n", prog,
                    out->source[8] == 'r' ? "/v1/recommendations"
                                          : "/v1/search (recommendations are closed to this app)");
            return 1;
        }
        if (o->source == SRC_SPOTIFY)
            return 0;
        fprintf(stderr, "%s: falling back to the offline catalogue\n", prog);
    }
    if (!*c && !load_catalog(o, 1, c, &path, buf, sizeof buf))
        return 0;
    if (!offline(o, *c, t, out))
        return 0;
    if (out->n > 0) /* said once it worked, so that an error stays one line */
        fprintf(stderr, "%s: source: offline catalogue %s (%zu tracks)\n", prog,
                o->catalog ? o->catalog : buf, fer_catalog_size(*c));
    return 1;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc - 1;
    if (o.table)
        return print_target_table() ? 0 : 1;
    mood_input in;
    fer_music_target t;
    fer_error err;
    if ((o.m3u && !output_dir_writable(o.m3u)) || !get_state(&o, &in))
        return 1;
    if (fer_music_target_for(&in.state, in.have_heart ? &in.heart : NULL,
                             o.strategy ? FER_STRATEGY_UPLIFT : FER_STRATEGY_MATCH, &t, &err))
        return cli_error(prog, "%s", err.msg), 1;
    fer_catalog *c = NULL;
    fer_spotify_result res = {0};
    outcome out = {0};
    int ok;
    if (o.bench) {
        char buf[4096];
        const char *path;
        double t0 = cli_now();
        ok = load_catalog(&o, 1, &c, &path, buf, sizeof buf);
        if (ok)
            printf("loaded %s (%zu tracks) in %.1f ms\n", path, fer_catalog_size(c),
                   1e3 * (cli_now() - t0));
        ok = ok && bench(&o, c, &t);
    } else {
        ok = recommend(&o, &t, &c, &res, &out);
        if (ok && out.n == 0) {
            cli_error(prog, "no tracks found%s%s%s", o.genre ? " in genre '" : "",
                      o.genre ? o.genre : "", o.genre ? "'" : "");
            ok = 0;
        }
        if (ok)
            ok = o.json ? print_json(&o, &in, &t, &out) : (print_table(&o, &in, &t, &out), 1);
        if (ok && o.m3u)
            ok = write_m3u(o.m3u, &out);
    }
    free(out.rows);
    fer_spotify_result_free(&res);
    fer_catalog_free(c);
    return ok ? 0 : 1;
}
