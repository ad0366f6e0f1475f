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
#include "json.h"
#include "music.h"
#include "opt.h"

static const char *prog = "fer-recommend";

enum { MAX_LIMIT = 50, MAX_STDIN = 1 << 20, DEFAULT_INTENSITY_PCT = 70 };

typedef struct options {
    const char *emotion, *genre, *catalog, *m3u;
    double intensity, bpm;
    long age, limit, bench;
    uint64_t seed;
    int have_bpm, have_age, have_intensity, strategy, source, json, table;
    char genres[1024]; /* every --genre, joined by commas; genre points here */
} options;

/* The state to recommend for, however it was given. */
typedef struct mood_input {
    fer_state state;
    fer_heart heart;
    int have_heart;
} mood_input;

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
            "  --genre G[,G...]    only these genres (case-insensitive; repeatable)\n"
            "  --limit N           number of songs, 1..%d (default 10)\n"
            "  --seed S            tie-breaking seed (default 0)\n"
            "  --catalog FILE      SpotifyFeatures-style CSV (default: the shipped %s)\n"
            "  --source S          offline or spotify (default: spotify when SPOTIFY_CLIENT_ID\n"
            "                      and SPOTIFY_CLIENT_SECRET are set, else offline)\n"
            "  --json              print JSON instead of a table\n"
            "  --m3u FILE          also write an M3U playlist of open.spotify.com links\n"
            "                      (- : print only the playlist, on stdout)\n"
            "  --table             print the state-to-music target table (Markdown) and exit\n"
            "  --bench N           time N rankings of the whole catalogue and exit\n"
            "Without --emotion, the first fer-predict JSON object with a state is read from stdin.\n"
            "Exit status: 0 songs listed, 1 no songs or a source/file failed, 2 usage error.\n",
            MAX_LIMIT, CLI_CATALOG);
    cli_help_common(out);
    fputs("  SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET  credentials for the Spotify Web API\n"
          "  FER_SPOTIFY_API_URL, FER_SPOTIFY_ACCOUNTS_URL  other endpoints (https, or http\n"
          "                       to this machine only; for tests)\n",
          out);
}

/* ------------------------------------------------------------ arguments */

enum { O_EMOTION, O_INTENSITY, O_BPM, O_AGE, O_STRATEGY, O_GENRE, O_LIMIT, O_SEED, O_CATALOG,
       O_SOURCE, O_M3U, O_BENCH, O_JSON, O_TABLE };

static const cli_opt option_list[] = {
    {"--emotion", CLI_VALUE}, {"--intensity", CLI_VALUE}, {"--bpm", CLI_VALUE},
    {"--age", CLI_VALUE},     {"--strategy", CLI_VALUE},  {"--genre", CLI_VALUE},
    {"--limit", CLI_VALUE},   {"--seed", CLI_VALUE},      {"--catalog", CLI_VALUE},
    {"--source", CLI_VALUE},  {"--m3u", CLI_VALUE},       {"--bench", CLI_VALUE},
    {"--json", CLI_FLAG},     {"--table", CLI_FLAG},      {NULL, CLI_FLAG}};

/* --genre rock,jazz --genre "hip hop": one list for libfer, "rock,jazz,hip hop". */
static int add_genres(options *o, const char *v)
{
    size_t used = strlen(o->genres);
    for (const char *p = v;; p++) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (!n)
            return cli_bad_value(prog, "--genre", v, "genre names separated by commas");
        if (used + 1 + n >= sizeof o->genres)
            return cli_error(prog, "--genre: more than %zu bytes of genre names",
                             sizeof o->genres - 1), 0;
        used += (size_t)snprintf(o->genres + used, sizeof o->genres - used, "%s%.*s",
                                 used ? "," : "", (int)n, p);
        if (!(p = strchr(p, ',')))
            break;
    }
    o->genre = o->genres;
    return 1;
}

static int set_option(void *ctx, int k, const char *v)
{
    options *o = ctx;
    const char *name = option_list[k].name;
    long l;
    switch (k) {
    case O_EMOTION:
        o->emotion = v;
        return fer_emotion_index(v) >= 0 ||
               cli_bad_value(prog, name, v, "angry, disgust, fear, happy, sad, surprise or neutral");
    case O_INTENSITY:
        o->have_intensity = 1;
        return cli_parse_double(v, 0, 1, &o->intensity) || cli_bad_value(prog, name, v, "a number in 0..1");
    case O_BPM: { /* checked here; scored again once --age is known (heart_from_bpm) */
        fer_hr_opts defaults = {0};
        fer_heart h;
        o->have_bpm = 1;
        return cli_parse_bpm(prog, v, &defaults, &h) && (o->bpm = h.bpm, 1);
    }
    case O_AGE:
        o->have_age = 1;
        return cli_parse_long(v, 1, 120, &o->age) || cli_bad_value(prog, name, v, "years in 1..120");
    case O_STRATEGY:
        if (!strcasecmp(v, "match") || !strcasecmp(v, "uplift"))
            return o->strategy = tolower((unsigned char)v[0]) == 'u', 1;
        return cli_bad_value(prog, name, v, "match or uplift");
    case O_GENRE: return add_genres(o, v);
    case O_LIMIT:
        return cli_parse_long(v, 1, MAX_LIMIT, &o->limit) ||
               cli_bad_value(prog, name, v, "an integer 1..50");
    case O_SEED:
        if (!cli_parse_long(v, 0, LONG_MAX, &l))
            return cli_bad_value(prog, name, v, "a non-negative integer");
        return o->seed = (uint64_t)l, 1;
    case O_CATALOG: o->catalog = v; return 1;
    case O_SOURCE:
        return cli_parse_source(v, &o->source) || cli_bad_value(prog, name, v, "offline or spotify");
    case O_M3U: o->m3u = v; return 1;
    case O_BENCH:
        return cli_parse_long(v, 1, 100000, &o->bench) || cli_bad_value(prog, name, v, "a count 1..100000");
    case O_JSON: o->json = 1; return 1;
    case O_TABLE: o->table = 1; return 1;
    }
    return 0;
}

/* CLI_GO, CLI_DONE (--help, --version) or the usage exit status. The --m3u
 * path is checked first, so that a typo does not cost a Spotify query. */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.intensity = DEFAULT_INTENSITY_PCT / 100.0, .limit = 10};
    cli_spec spec = {prog, usage_text, option_list, 0};
    int rc = cli_parse(&spec, argc, argv, set_option, o);
    if (rc != CLI_GO)
        return rc;
    if (o->have_intensity && !o->emotion) /* stdin's state has its own intensity */
        return cli_error(prog, "--intensity needs --emotion (see --help)"), CLI_USAGE;
    if (o->m3u && !strcmp(o->m3u, "-") && (o->json || o->table || o->bench))
        return cli_error(prog, "--m3u - writes the playlist to stdout: it excludes --json, "
                               "--table and --bench"), CLI_USAGE;
    char buf[4096];
    const char *inputs[] = {o->catalog, cli_data_path(CLI_CATALOG, buf, sizeof buf)};
    if (o->m3u && !cli_output_ok(prog, o->m3u, inputs, 2))
        return 1; /* a file error, not a usage one */
    return CLI_GO;
}

/* ------------------------------------------------------------ state */

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

/* --emotion X --intensity p (cli_state_from_emotion), fused with --bpm. */
static int state_from_flags(const options *o, mood_input *in)
{
    in->have_heart = o->have_bpm;
    if (o->have_bpm && !heart_from_bpm(o, o->bpm, &in->heart))
        return 0;
    fer_error err;
    if (cli_state_from_emotion(fer_emotion_index(o->emotion), o->intensity,
                               in->have_heart ? &in->heart : NULL, &in->state, &err) != FER_OK) {
        cli_error(prog, "%s", err.msg);
        return 0;
    }
    return 1;
}

/* "heart": {"bpm","level","arousal"} or null. --bpm/--age recompute it. */
static int heart_from_json(const options *o, const cJSON *h, size_t line, mood_input *in)
{
    fer_hr_opts ho = {0};
    ho.age = o->have_age ? (int)o->age : 0;
    char why[256];
    if (!cli_heart_from_json(h, &ho, o->have_age, &in->heart, why, sizeof why))
        return cli_error(prog, "stdin line %zu: %s", line, why), 0;
    in->have_heart = 1;
    return 1;
}

/* One fer-predict object with a state: the state, and the heart rate unless --bpm is given. */
static int mood_from_json(const options *o, const cJSON *j, const cJSON *st, size_t line,
                          mood_input *in)
{
    char why[128];
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "heart");
    if (!cli_json_schema_ok(j, why, sizeof why) || !cli_json_read_state(st, &in->state, why, sizeof why))
        return cli_error(prog, "stdin line %zu: %s", line, why), 0;
    if (o->have_bpm)
        return in->have_heart = heart_from_bpm(o, o->bpm, &in->heart);
    return !cJSON_IsObject(h) || heart_from_json(o, h, line, in);
}

/* Uses the first object that has a state (fer-predict prints null when it
 * found no face); the lines after it are not read as JSON. */
static int state_from_stdin(const options *o, mood_input *in)
{
    char *buf;
    size_t len, line = 1;
    if (!cli_read_stdin(prog, MAX_STDIN, &buf, &len))
        return 0;
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
            ok = mood_from_json(o, j, st, line, in);
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
        fprintf(stderr, "%s: warning: %zu bad rows skipped; first: %s\n", prog, bad,
                fer_catalog_first_bad(*c));
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

static fer_strategy strategy_of(const options *o) { return o->strategy ? FER_STRATEGY_UPLIFT : FER_STRATEGY_MATCH; }

static void print_table(const options *o, const mood_input *in, const fer_music_target *t,
                        const fer_playlist *out)
{
    printf("State: %s (valence %+.2f, arousal %.2f)", in->state.label, in->state.valence,
           in->state.arousal);
    if (in->have_heart)
        printf(", heart %.0f bpm (%s)", in->heart.bpm, fer_hr_level_name(in->heart.level));
    printf("\nTarget (%s): valence %.2f\xC2\xB1%.2f, energy %.2f\xC2\xB1%.2f, tempo %.0f\xC2\xB1%.0f BPM\n\n",
           cli_strategy_name(strategy_of(o)), t->valence, t->tol_valence, t->energy, t->tol_energy, t->tempo,
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
        const fer_song *r = &out->songs[i];
        printf("%2zu  ", i + 1);
        put_cell(r->track.title, W_TITLE);
        putchar(' ');
        put_cell(r->track.artist, W_ARTIST);
        putchar(' ');
        put_cell(*r->track.genre ? r->track.genre : "-", W_GENRE);
        putchar(' ');
        put_cell(r->why, W_WHY);
        printf("  %s\n", r->url);
    }
}

static int print_json(const options *o, const mood_input *in, const fer_music_target *t,
                      const fer_playlist *out)
{
    return cli_json_print(prog, cli_json_playlist(&in->state, in->have_heart ? &in->heart : NULL,
                                                        strategy_of(o), t, out));
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
                    if (fer_state_describe(&s, &err) ||
                        fer_music_target_for(&s, h ? &hh : NULL, FER_STRATEGY_MATCH, &m, &err) ||
                        fer_music_target_for(&s, h ? &hh : NULL, FER_STRATEGY_UPLIFT, &u, &err))
                        return cli_error(prog, "%s", err.msg), 0;
                    printf("| %s | %s | %.1f | %s | %.2f / %.2f / %.0f | %.2f / %.2f / %.0f | "
                           "%.2f, %.2f, %.0f |\n",
                           s.emotion_name, words[in], s.arousal, hearts[h].name, m.valence,
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
    fer_music_source *src;
    fer_playlist pl;
    fer_error err;
    double best = INFINITY, total = 0;
    if (fer_music_source_catalog(c, &src, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), 0;
    for (long i = 0; i < o->bench; i++) {
        ro.seed = (uint64_t)i;
        double t0 = cli_now();
        fer_status st = fer_music_recommend(src, t, &ro, &pl, &err);
        fer_playlist_free(&pl);
        if (st != FER_OK)
            return fer_music_source_free(src), cli_error(prog, "%s", err.msg), 0;
        double dt = cli_now() - t0;
        total += dt;
        best = dt < best ? dt : best;
    }
    printf("ranked %zu tracks %ld times: mean %.3f ms, best %.3f ms per ranking\n",
           fer_catalog_size(c), o->bench, 1e3 * total / (double)o->bench, 1e3 * best);
    fer_music_source_free(src);
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

/* The rank options of the command line. */
static void rank_opts(const options *o, fer_rank_opts *ro)
{
    fer_rank_opts_default(ro);
    ro->limit = (size_t)o->limit;
    ro->genre = o->genre;
    ro->seed = o->seed;
}

/* Spotify when wanted (the catalogue, if there is one, gives it audio
 * features), the offline catalogue otherwise or when Spotify fails and was
 * not asked for explicitly (cli_music_recommend). */
static int recommend(const options *o, const fer_music_target *t, fer_catalog **c,
                     fer_playlist *out)
{
    char buf[4096];
    const char *path = NULL;
    int want = cli_spotify_wanted(o->source), only = o->source == CLI_SOURCE_SPOTIFY, ok = 0;
    cli_spotify sp = {NULL, NULL};
    fer_music_source *offline = NULL;
    fer_error err;
    if (want) {
        load_catalog(o, 0, c, &path, buf, sizeof buf); /* features for ranking, if any */
        if (cli_spotify_open(*c, 0, &sp, &err) != FER_OK) {
            cli_error(prog, "Spotify: %s", err.msg);
            if (only)
                return 0;
            fprintf(stderr, "%s: falling back to the offline catalogue\n", prog);
        }
    }
    if (!sp.source && !*c && !load_catalog(o, 1, c, &path, buf, sizeof buf))
        return 0;
    if (*c && fer_music_source_catalog(*c, &offline, &err) != FER_OK) {
        cli_error(prog, "%s", err.msg);
        cli_spotify_close(&sp);
        return 0;
    }
    fer_rank_opts ro;
    rank_opts(o, &ro);
    char fell[600];
    fer_status st = cli_music_recommend(sp.source, only, offline, t, &ro, out, fell, sizeof fell, &err);
    if (*fell)
        fprintf(stderr, "%s: %s\n%s: falling back to the offline catalogue\n", prog, fell, prog);
    if (st != FER_OK)
        cli_error(prog, "%s", err.msg);
    else if (strcmp(out->source, "offline"))
        fprintf(stderr, "%s: source: Spotify Web API, %s\n", prog,
                !strcmp(out->source, "spotify-recommendations")
                    ? "/v1/recommendations"
                    : "/v1/search (recommendations are closed to this app)");
    else if (out->n > 0) /* said once it worked, so that an error stays one line */
        fprintf(stderr, "%s: source: offline catalogue %s (%zu tracks)\n", prog, path,
                fer_catalog_size(*c));
    ok = st == FER_OK;
    fer_music_source_free(offline);
    cli_spotify_close(&sp);
    return ok;
}

int main(int argc, char **argv)
{
    options o;
    cli_start();
    int rc = parse_args(argc, argv, &o);
    if (rc != CLI_GO)
        return cli_stdout_ok(prog) ? (rc == CLI_DONE ? 0 : rc) : 1;
    if (o.table)
        return print_target_table() && cli_stdout_ok(prog) ? 0 : 1;
    mood_input in;
    fer_music_target t;
    fer_error err;
    if (!get_state(&o, &in))
        return 1;
    if (fer_music_target_for(&in.state, in.have_heart ? &in.heart : NULL,
                             strategy_of(&o), &t, &err))
        return cli_error(prog, "%s", err.msg), 1;
    fer_catalog *c = NULL;
    fer_playlist out = {0};
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
        ok = recommend(&o, &t, &c, &out);
        if (ok && out.n == 0) {
            cli_error(prog, "no tracks found%s%s%s", o.genre ? " in genre '" : "",
                      o.genre ? o.genre : "", o.genre ? "'" : "");
            ok = 0;
        }
        int m3u_only = o.m3u && !strcmp(o.m3u, "-");
        if (ok && !m3u_only)
            ok = o.json ? print_json(&o, &in, &t, &out) : (print_table(&o, &in, &t, &out), 1);
        if (ok && o.m3u)
            ok = cli_write_m3u(prog, o.m3u, &out);
    }
    fer_playlist_free(&out);
    fer_catalog_free(c);
    return cli_stdout_ok(prog) && ok ? 0 : 1;
}
