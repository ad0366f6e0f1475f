/* Recommendation helpers shared by fer-recommend and fer-serve (music.h). */
#include "music.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

fer_status cli_rank_offline(const fer_catalog *c, const fer_music_target *t,
                            const fer_rank_opts *ro, cli_track_row *rows, size_t *n,
                            fer_error *err)
{
    fer_pick *picks = calloc(ro->limit ? ro->limit : 1, sizeof *picks);
    if (!picks) {
        if (err)
            *err = (fer_error){FER_ENOMEM, "out of memory ranking the catalogue"};
        return FER_ENOMEM;
    }
    fer_status s = fer_recommend(c, t, ro, picks, n, err);
    for (size_t i = 0; !s && i < *n; i++) {
        const fer_track *tr = fer_catalog_track(c, picks[i].track);
        rows[i] = (cli_track_row){tr->id, tr->title, tr->artist, tr->genre, tr->popularity, tr,
                                  picks[i].score, picks[i].distance};
    }
    free(picks);
    return s;
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

static cJSON *row_json(const cli_track_row *r, size_t rank)
{
    char url[160];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "rank", (double)rank);
    cli_json_string(j, "id", r->id);
    cli_json_string(j, "title", r->title);
    cli_json_string(j, "artist", r->artist);
    cli_json_list(j, "genres", r->genre, ';');
    if (r->popularity >= 0)
        cJSON_AddNumberToObject(j, "popularity", r->popularity);
    else
        cJSON_AddNullToObject(j, "popularity");
    if (r->features) {
        cli_json_number(j, "valence", r->features->valence);
        cli_json_number(j, "energy", r->features->energy);
        cli_json_number(j, "tempo", r->features->tempo);
        cli_json_number(j, "distance", r->distance);
    } else {
        cJSON_AddNullToObject(j, "distance");
    }
    cli_json_number(j, "score", r->score);
    snprintf(url, sizeof url, "https://open.spotify.com/track/%s", r->id);
    cli_json_string(j, "url", url);
    return j;
}

cJSON *cli_json_recommendation(const fer_state *s, const fer_heart *heart, fer_strategy st,
                               const fer_music_target *t, const char *source,
                               const cli_track_row *rows, size_t n)
{
    cJSON *j = cli_json_object(NULL), *tracks = cJSON_CreateArray();
    cJSON_AddItemToObject(j, "state", cli_json_state(s, -1));
    cJSON_AddItemToObject(j, "heart", cli_json_heart(heart));
    cJSON_AddStringToObject(j, "strategy", cli_strategy_name(st));
    cJSON_AddItemToObject(j, "target", target_json(t));
    cJSON_AddStringToObject(j, "source", source);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(tracks, row_json(&rows[i], i + 1));
    cJSON_AddItemToObject(j, "tracks", tracks);
    return j;
}
