/* fer-serve's two computing endpoints without the HTTP plumbing
 * (docs/tools.md, "fer-serve"): a request's parts in, an HTTP status and a
 * JSON text out. POST /v1/analyze answers fer-predict's JSON, POST
 * /v1/recommend fer-recommend's, through the same library calls and the same
 * JSON modules as those tools. */
#ifndef FER_SERVE_API_H
#define FER_SERVE_API_H

#include <stddef.h>

#include "fer.h"

typedef struct serve_answer {
    int status;  /* HTTP status */
    char *json;  /* one JSON object (cJSON_free), NULL only when out of memory */
    size_t len;
} serve_answer;

/* The heart-rate parameters of an analysis (query or form fields), as
 * given: NULL when absent. hr is a series of bpm one second apart, "70,72,75". */
typedef struct serve_heart_params {
    const char *bpm, *age, *hr;
} serve_heart_params;

/* {"schema":1,"error":"..."} with status. */
void serve_error(serve_answer *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* GET /v1/health: {"schema", "model", "status":"ok", "version", "workers",
 * "waiting" (requests queued for a worker), "tracks" (in the catalogue)}. */
void serve_health(const char *model_path, const fer_catalog *c, int workers, size_t waiting,
                  serve_answer *out);

/* fer_analyze on the image in body (any format fer_image_load_mem reads, at
 * most max_pixels), fused with the heart rate of p; "image" is "upload".
 * 200 also when no face is found (faces [], state null); 400 bad parameters
 * or an empty body, 413 too many pixels, 422 not a decodable image. */
void serve_analyze(fer_analyzer *a, const char *model_path, size_t max_pixels,
                   const serve_heart_params *p, const void *body, size_t len, serve_answer *out);

/* Where a worker's songs come from (cli_music_recommend): its own Spotify
 * source (NULL: none), the shared offline one as the fallback unless
 * spotify_only. */
typedef struct serve_music {
    fer_music_source *spotify;
    int spotify_only;
    fer_music_source *offline;
} serve_music;

/* fer_music_target_for and the songs of m for the JSON request in body: a
 * "state" (as fer-predict prints it), an "emotion" (+ "intensity") or
 * "probabilities", and optionally "heart" or "bpm", "age", "strategy",
 * "limit", "genre", "seed". 400 malformed, 422 a genre the catalogue lacks
 * or no track for it, 502 Spotify failed (with spotify_only; else the
 * offline catalogue answers, and a line on stderr says why). */
void serve_recommend(const serve_music *m, const char *body, size_t len, serve_answer *out);

#endif
