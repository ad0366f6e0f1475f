/* What fer-recommend and fer-serve's POST /v1/recommend share, so that both
 * answer alike: the state of an emotion given by name, the heart of a
 * fer-predict object, the offline ranking as rows, and fer-recommend's JSON
 * (docs/tools.md, "fer-recommend"). */
#ifndef FER_MUSIC_H
#define FER_MUSIC_H

#include <cJSON.h>
#include <stddef.h>

#include "fer.h"

/* One recommended track, from the catalogue or from Spotify. */
typedef struct cli_track_row {
    const char *id, *title, *artist, *genre;
    int popularity;            /* -1 unknown */
    const fer_track *features; /* NULL when the catalogue does not know it */
    double score, distance;
} cli_track_row;

/* fer-recommend --emotion E --intensity P: a face that shows emotion e
 * (FER2013 index) with probability P (at least 0.15, so that e stays the most
 * likely), the rest spread evenly over the other six, fused with heart (may
 * be NULL) by fer_fuse. */
fer_status cli_state_from_emotion(int e, double intensity, const fer_heart *heart,
                                  fer_state *out, fer_error *err);

/* A fer-predict "heart" object: its bpm scored with o, and, unless rejudge
 * (an age was given), the level and arousal fer-predict judged. 0 with the
 * reason in why. */
int cli_heart_from_json(const cJSON *h, const fer_hr_opts *o, int rejudge, fer_heart *out,
                        char *why, size_t cap);

/* The offline catalogue's picks for t (fer_recommend) as rows; rows holds
 * ro->limit entries, *n receives how many were filled. */
fer_status cli_rank_offline(const fer_catalog *c, const fer_music_target *t,
                            const fer_rank_opts *ro, cli_track_row *rows, size_t *n,
                            fer_error *err);

const char *cli_strategy_name(fer_strategy st); /* "match", "uplift" */

/* fer-recommend --json: {"schema", "state", "heart", "strategy", "target",
 * "source", "tracks"}; heart may be NULL (null). */
cJSON *cli_json_recommendation(const fer_state *s, const fer_heart *heart, fer_strategy st,
                               const fer_music_target *t, const char *source,
                               const cli_track_row *rows, size_t n);

#endif
