/* What fer-recommend and fer-serve's POST /v1/recommend share, so that both
 * answer alike: the state of an emotion given by name, the heart of a
 * fer-predict object, the choice of music source (Spotify when credentials
 * are set, the offline catalogue as the fallback), and fer-recommend's JSON
 * (docs/tools.md, "fer-recommend"). */
#ifndef FER_MUSIC_H
#define FER_MUSIC_H

#include <cJSON.h>
#include <stddef.h>

#include "fer.h"

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

/* --source: which music source fer-recommend and fer-serve use. */
enum { CLI_SOURCE_AUTO, CLI_SOURCE_OFFLINE, CLI_SOURCE_SPOTIFY };

/* "offline" or "spotify" (any case) into *source; 0 for anything else. */
int cli_parse_source(const char *v, int *source);
/* Spotify is used: asked for, or (CLI_SOURCE_AUTO) SPOTIFY_CLIENT_ID and
 * SPOTIFY_CLIENT_SECRET are set. */
int cli_spotify_wanted(int source);

/* A Spotify client (SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET,
 * FER_SPOTIFY_API_URL, FER_SPOTIFY_ACCOUNTS_URL) and the music source over
 * it, ranking with features (may be NULL). timeout_ms > 0 bounds each
 * request and all waiting for retries (fer-serve's --timeout); 0 keeps
 * libfer's defaults. */
typedef struct cli_spotify {
    fer_spotify *client;
    fer_music_source *source;
} cli_spotify;

fer_status cli_spotify_open(const fer_catalog *features, long timeout_ms, cli_spotify *out,
                            fer_error *err);
void cli_spotify_close(cli_spotify *s);

/* The songs for t as both tools choose them: from spotify when it is not
 * NULL; when that fails, from offline unless spotify_only (--source spotify)
 * or offline is NULL, with Spotify's error in fell_back ("Spotify: ...",
 * empty when it did not fall back) for the caller to report. Without
 * spotify, from offline. A Spotify error that is final reads "Spotify: ...". */
fer_status cli_music_recommend(fer_music_source *spotify, int spotify_only,
                               fer_music_source *offline, const fer_music_target *t,
                               const fer_rank_opts *o, fer_playlist *out, char *fell_back,
                               size_t cap, fer_error *err);

const char *cli_strategy_name(fer_strategy st); /* "match", "uplift" */

/* fer-recommend --json: {"schema", "state", "heart", "strategy", "target",
 * "source", "tracks"}; heart may be NULL (null). */
cJSON *cli_json_playlist(const fer_state *s, const fer_heart *heart, fer_strategy st,
                         const fer_music_target *t, const fer_playlist *p);

/* #EXTM3U with one #EXTINF (artist - title) and link per song, to path
 * (atomically) or "-" (stdout); 0 after the error line. */
int cli_write_m3u(const char *prog, const char *path, const fer_playlist *p);

#endif
