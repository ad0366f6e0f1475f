/* Recommendation helpers shared by fer-recommend and fer-serve (music.h). */
#include "music.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "json.h"

enum { MIN_INTENSITY_PCT = 15 };

fer_status cli_state_from_emotion(int e, double intensity, const fer_heart *heart,
                                  fer_state *out, fer_error *err)
{
    double p = intensity < MIN_INTENSITY_PCT / 100.0 ? MIN_INTENSITY_PCT / 100.0 : intensity;
    float probs[FER_N_EMOTIONS];
    for (int i = 0; i < FER_N_EMOTIONS; i++)
        probs[i] = i == e ? (float)p : (float)((1 - p) / (FER_N_EMOTIONS - 1));
    return fer_fuse(probs, heart, NULL, out, err);
}

int cli_heart_from_json(const cJSON *h, const fer_hr_opts *o, int rejudge, fer_heart *out,
                        char *why, size_t cap)
{
    double bpm, arousal;
    int level;
    if (!cli_json_read_heart(h, &bpm, &level, &arousal, why, cap))
        return 0;
    fer_error err;
    if (fer_heart_from_bpm(bpm, o, out, &err) != FER_OK) {
        snprintf(why, cap, "heart.bpm %g: %s", bpm, err.msg);
        return 0;
    }
    if (!rejudge && level >= 0) { /* keep fer-predict's own judgement */
        out->level = (fer_hr_level)level;
        if (!isnan(arousal))
            out->arousal = arousal;
    }
    return 1;
}

int cli_parse_source(const char *v, int *source)
{
    if (!strcasecmp(v, "offline"))
        *source = CLI_SOURCE_OFFLINE;
    else if (!strcasecmp(v, "spotify"))
        *source = CLI_SOURCE_SPOTIFY;
    else
        return 0;
    return 1;
}

int cli_spotify_wanted(int source)
{
    const char *id = getenv("SPOTIFY_CLIENT_ID"), *secret = getenv("SPOTIFY_CLIENT_SECRET");
    return source == CLI_SOURCE_SPOTIFY ||
           (source == CLI_SOURCE_AUTO && id && *id && secret && *secret);
}

fer_status cli_spotify_open(const fer_catalog *features, long timeout_ms, cli_spotify *out,
                            fer_error *err)
{
    *out = (cli_spotify){NULL, NULL};
    fer_status st = fer_spotify_new(getenv("SPOTIFY_CLIENT_ID"), getenv("SPOTIFY_CLIENT_SECRET"),
                                    getenv("FER_SPOTIFY_API_URL"),
                                    getenv("FER_SPOTIFY_ACCOUNTS_URL"), &out->client, err);
    if (st == FER_OK && timeout_ms > 0) {
        fer_spotify_opts o;
        fer_spotify_opts_default(&o);
        o.timeout_ms = timeout_ms < o.timeout_ms ? timeout_ms : o.timeout_ms;
        o.connect_timeout_ms = timeout_ms < o.connect_timeout_ms ? timeout_ms : o.connect_timeout_ms;
        o.max_wait_ms = timeout_ms < o.max_wait_ms ? timeout_ms : o.max_wait_ms;
        st = fer_spotify_set_opts(out->client, &o, err);
    }
    if (st == FER_OK)
        st = fer_music_source_spotify(out->client, features, &out->source, err);
    if (st != FER_OK)
        cli_spotify_close(out);
    return st;
}

void cli_spotify_close(cli_spotify *s)
{
    fer_music_source_free(s->source);
    fer_spotify_free(s->client);
    *s = (cli_spotify){NULL, NULL};
}

fer_status cli_music_recommend(fer_music_source *spotify, int spotify_only,
                               fer_music_source *offline, const fer_music_target *t,
                               const fer_rank_opts *o, fer_playlist *out, char *fell_back,
                               size_t cap, fer_error *err)
{
    fer_error e = {0};
    fell_back[0] = 0;
    if (spotify) {
        fer_status st = fer_music_recommend(spotify, t, o, out, &e);
        if (st == FER_OK)
            return FER_OK;
        if (spotify_only || !offline) {
            if (err) {
                err->code = st;
                snprintf(err->msg, sizeof err->msg, "Spotify: %.400s", e.msg);
            }
            return st;
        }
        snprintf(fell_back, cap, "Spotify: %s", e.msg);
    }
    if (!offline) {
        if (err)
            *err = (fer_error){FER_EINVAL, "no music source"};
        return FER_EINVAL;
    }
    return fer_music_recommend(offline, t, o, out, err);
}

const char *cli_strategy_name(fer_strategy st)
{
    return st == FER_STRATEGY_UPLIFT ? "uplift" : "match";
}

static cJSON *target_json(const fer_music_target *t)
{
    cJSON *j = cJSON_CreateObject();
    cli_json_number(j, "valence", t->valence);
    cli_json_number(j, "energy", t->energy);
    cli_json_number(j, "tempo", t->tempo);
    cli_json_number(j, "danceability", t->danceability);
    cli_json_number(j, "acousticness", t->acousticness);
    cli_json_number(j, "tol_valence", t->tol_valence);
    cli_json_number(j, "tol_energy", t->tol_energy);
    cli_json_number(j, "tol_tempo", t->tol_tempo);
    return j;
}

static cJSON *song_json(const fer_song *s, size_t rank)
{
    const fer_track *tr = &s->track;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "rank", (double)rank);
    cli_json_string(j, "id", tr->id);
    cli_json_string(j, "title", tr->title);
    cli_json_string(j, "artist", tr->artist);
    cli_json_list(j, "genres", tr->genre, ';');
    if (tr->popularity >= 0)
        cJSON_AddNumberToObject(j, "popularity", tr->popularity);
    else
        cJSON_AddNullToObject(j, "popularity");
    if (!isnan(s->distance)) { /* the audio features are known */
        cli_json_number(j, "valence", tr->valence);
        cli_json_number(j, "energy", tr->energy);
        cli_json_number(j, "tempo", tr->tempo);
        cli_json_number(j, "distance", s->distance);
    } else {
        cJSON_AddNullToObject(j, "distance");
    }
    cli_json_number(j, "score", s->score);
    cli_json_string(j, "url", s->url);
    return j;
}

cJSON *cli_json_playlist(const fer_state *s, const fer_heart *heart, fer_strategy st,
                         const fer_music_target *t, const fer_playlist *p)
{
    cJSON *j = cli_json_object(NULL), *tracks = cJSON_CreateArray();
    cJSON_AddItemToObject(j, "state", cli_json_state(s, -1));
    cJSON_AddItemToObject(j, "heart", cli_json_heart(heart));
    cJSON_AddStringToObject(j, "strategy", cli_strategy_name(st));
    cJSON_AddItemToObject(j, "target", target_json(t));
    cJSON_AddStringToObject(j, "source", p->source);
    for (size_t i = 0; i < p->n; i++)
        cJSON_AddItemToArray(tracks, song_json(&p->songs[i], i + 1));
    cJSON_AddItemToObject(j, "tracks", tracks);
    return j;
}

/* ------------------------------------------------------------ M3U */

/* #EXTM3U with one #EXTINF (artist - title) and link per track. */
int cli_write_m3u(const char *prog, const char *path, const fer_playlist *out)
{
    size_t cap = 64, len = 0;
    for (size_t i = 0; i < out->n; i++)
        cap += strlen(out->songs[i].track.title) + strlen(out->songs[i].track.artist) +
               strlen(out->songs[i].url) + 64;
    char *buf = malloc(cap);
    if (!buf)
        return cli_error(prog, "out of memory"), 0;
    len += (size_t)snprintf(buf, cap, "#EXTM3U\n");
    for (size_t i = 0; i < out->n; i++) {
        const fer_track *r = &out->songs[i].track;
        int secs = r->duration_ms > 0 ? (r->duration_ms + 500) / 1000 : -1;
        size_t start = len;
        len += (size_t)snprintf(buf + len, cap - len, "#EXTINF:%d,%s - %s", secs, r->artist, r->title);
        for (size_t k = start; k < len; k++) /* a newline in a title would break the format */
            if ((unsigned char)buf[k] < 0x20)
                buf[k] = ' ';
        len += (size_t)snprintf(buf + len, cap - len, "\n%s\n", out->songs[i].url);
    }
    fer_error err;
    int ok = !strcmp(path, "-") ? fwrite(buf, 1, len, stdout) == len
                                : fer_file_write_atomic(path, buf, len, &err) == FER_OK;
    if (!ok && strcmp(path, "-"))
        cli_error(prog, "%s", err.msg);
    free(buf);
    return ok;
}
