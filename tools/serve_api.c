/* fer-serve's analyze and recommend answers (serve_api.h). */
#include "serve_api.h"

#include <cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "faces_json.h"
#include "json.h"
#include "music.h"

enum { MAX_HR_SAMPLES = 600, MAX_LIMIT = 50, DEFAULT_LIMIT = 10, MAX_GENRE = 100,
       DEFAULT_INTENSITY_PCT = 70 };

/* ------------------------------------------------------------ answers */

static void answer_json(serve_answer *out, int status, cJSON *o)
{
    out->status = status;
    out->json = o ? cJSON_PrintUnformatted(o) : NULL;
    out->len = out->json ? strlen(out->json) : 0;
    cJSON_Delete(o);
}

void serve_error(serve_answer *out, int status, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cli_json_object(NULL);
    cli_json_string(o, "error", msg);
    answer_json(out, status, o);
}

void serve_health(const char *model_path, const fer_catalog *c, int workers, size_t waiting,
                  serve_answer *out)
{
    cJSON *o = cli_json_object(model_path);
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "version", FER_VERSION);
    cJSON_AddNumberToObject(o, "workers", workers);
    cJSON_AddNumberToObject(o, "waiting", (double)waiting);
    cJSON_AddNumberToObject(o, "tracks", (double)fer_catalog_size(c));
    answer_json(out, 200, o);
}

/* ------------------------------------------------------------ analyze */

/* "70,72,75": bpm one second apart, into h; 0 after the error answer. */
static int hr_series(const char *text, const fer_hr_opts *ho, fer_heart *h, serve_answer *out)
{
    double t[MAX_HR_SAMPLES], v[MAX_HR_SAMPLES];
    size_t n = 0;
    for (const char *p = text;; p++) {
        size_t k = strcspn(p, ",");
        char num[32];
        if (n == MAX_HR_SAMPLES)
            return serve_error(out, 400, "hr: more than %d values", MAX_HR_SAMPLES), 0;
        if (k == 0 || k >= sizeof num)
            return serve_error(out, 400, "hr: value %zu is empty or too long", n + 1), 0;
        memcpy(num, p, k);
        num[k] = 0;
        if (!cli_parse_double(num, -HUGE_VAL, HUGE_VAL, &v[n]))
            return serve_error(out, 400, "hr: value %zu '%s' is not a number", n + 1, num), 0;
        t[n] = (double)n;
        n++;
        p += k;
        if (!*p)
            break;
    }
    fer_error err;
    if (fer_heart_from_series(t, v, n, 0, ho, h, &err) != FER_OK)
        return serve_error(out, 400, "hr: %s", err.msg), 0;
    return 1;
}

/* The heart rate of p into h (*have 0 when none is given); 0 after the error answer. */
static int heart_params(const serve_heart_params *p, fer_heart *h, int *have, serve_answer *out)
{
    fer_hr_opts ho = {0};
    long age = 0;
    *have = p->bpm || p->hr;
    if (p->bpm && p->hr)
        return serve_error(out, 400, "give either bpm or hr, not both"), 0;
    if (p->age && !*have)
        return serve_error(out, 400, "age needs bpm or hr"), 0;
    if (p->age && !cli_parse_long(p->age, 1, 120, &age))
        return serve_error(out, 400, "age '%s': expected whole years 1..120", p->age), 0;
    ho.age = (int)age;
    if (p->hr)
        return hr_series(p->hr, &ho, h, out);
    if (!p->bpm)
        return 1;
    double v;
    fer_error err;
    if (!cli_parse_double(p->bpm, -HUGE_VAL, HUGE_VAL, &v))
        return serve_error(out, 400, "bpm '%s': not a number", p->bpm), 0;
    if (fer_heart_from_bpm(v, &ho, h, &err) != FER_OK)
        return serve_error(out, 400, "bpm %s: %s", p->bpm, err.msg), 0;
    return 1;
}

static void decode_error(serve_answer *out, fer_status s, const char *msg)
{
    static const char mem[] = "<memory>: "; /* the decoder's name for a buffer */
    if (!strncmp(msg, mem, sizeof mem - 1))
        msg += sizeof mem - 1;
    if (s == FER_ERANGE)
        serve_error(out, 413, "image too large: %s", msg);
    else if (s == FER_ENOMEM)
        serve_error(out, 503, "out of memory decoding the image");
    else
        serve_error(out, 422, "not an image that can be decoded: %s", msg);
}

void serve_analyze(fer_analyzer *a, const char *model_path, size_t max_pixels,
                   const serve_heart_params *p, const void *body, size_t len, serve_answer *out)
{
    fer_heart heart;
    int have;
    if (!heart_params(p, &heart, &have, out))
        return;
    if (len == 0) {
        serve_error(out, 400, "empty body: send the image, or a multipart form with an 'image' file");
        return;
    }
    fer_image img = {0};
    fer_error err = {0};
    fer_status s = fer_image_load_mem(body, len, max_pixels, &img, &err);
    if (s) {
        decode_error(out, s, err.msg);
        return;
    }
    fer_faces f = {0};
    s = fer_analyze(a, &img, have ? &heart : NULL, &f, &err);
    fer_image_free(&img);
    if (s)
        serve_error(out, s == FER_ENOMEM ? 503 : 500, "analysis failed: %s", err.msg);
    else
        answer_json(out, 200, cli_json_analysis(fer_analyzer_emotion_model(a), model_path, "upload",
                                                &f, have ? &heart : NULL, f.state_face, &f.state));
    fer_faces_free(&f);
}

/* ------------------------------------------------------------ recommend */

typedef struct rec_request {
    fer_state state;
    fer_heart heart;
    int have_heart;
    fer_strategy strategy;
    fer_rank_opts ro; /* ro.genre points into the request's JSON */
} rec_request;

static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNull(v) ? NULL : v; /* null is as good as absent */
}

/* o[key], when present, as a whole number lo..hi into *v; 0 after the error answer. */
static int whole_field(const cJSON *o, const char *key, double lo, double hi, double *v,
                       serve_answer *out)
{
    const cJSON *j = field(o, key);
    if (!j)
        return 1;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < lo ||
        j->valuedouble > hi)
        return serve_error(out, 400, "\"%s\" must be a whole number %.0f..%.0f", key, lo, hi), 0;
    *v = j->valuedouble;
    return 1;
}

/* "bpm" (scored again with "age"), else fer-predict's "heart" object, else none. */
static int rec_heart(const cJSON *o, rec_request *r, serve_answer *out)
{
    double age = 0;
    if (!whole_field(o, "age", 1, 120, &age, out))
        return 0;
    fer_hr_opts ho = {.age = (int)age};
    const cJSON *b = field(o, "bpm"), *h = field(o, "heart");
    char why[640];
    fer_error err;
    if (b) {
        if (!cJSON_IsNumber(b))
            return serve_error(out, 400, "\"bpm\" must be a number"), 0;
        if (fer_heart_from_bpm(b->valuedouble, &ho, &r->heart, &err) != FER_OK)
            return serve_error(out, 400, "bpm %g: %s", b->valuedouble, err.msg), 0;
    } else if (h) {
        if (!cJSON_IsObject(h))
            return serve_error(out, 400, "\"heart\" must be an object (as fer-predict prints it) or null"), 0;
        if (!cli_heart_from_json(h, &ho, age > 0, &r->heart, why, sizeof why))
            return serve_error(out, 400, "%s", why), 0;
    } else {
        return age > 0 ? (serve_error(out, 400, "\"age\" needs \"bpm\" or \"heart\""), 0) : 1;
    }
    r->have_heart = 1;
    return 1;
}

/* "probabilities": {"happy": 0.6, ...} (FER2013 names; absent ones are 0), fused. */
static int rec_probabilities(const cJSON *pr, const fer_heart *h, fer_state *s, serve_answer *out)
{
    float p[FER_N_EMOTIONS] = {0};
    if (!cJSON_IsObject(pr))
        return serve_error(out, 400, "\"probabilities\" must be an object of emotion names and numbers"), 0;
    for (const cJSON *k = pr->child; k; k = k->next) {
        int e = fer_emotion_index(k->string);
        if (e < 0)
            return serve_error(out, 400, "probabilities: '%s' is not an emotion name", k->string), 0;
        if (!cJSON_IsNumber(k) || !(k->valuedouble >= 0 && k->valuedouble <= 1))
            return serve_error(out, 400, "probabilities.%s must be a number 0..1", k->string), 0;
        p[e] = (float)k->valuedouble;
    }
    fer_error err;
    if (fer_fuse(p, h, NULL, s, &err) != FER_OK)
        return serve_error(out, 400, "probabilities: %s", err.msg), 0;
    return 1;
}

static int rec_emotion(const cJSON *em, const cJSON *in, const fer_heart *h, fer_state *s,
                       serve_answer *out)
{
    int e = cJSON_IsString(em) ? fer_emotion_index(em->valuestring) : -1;
    double p = DEFAULT_INTENSITY_PCT / 100.0;
    if (e < 0)
        return serve_error(out, 400, "\"emotion\" must be angry, disgust, fear, happy, sad, surprise or neutral"), 0;
    if (in && (!cJSON_IsNumber(in) || !(in->valuedouble >= 0 && in->valuedouble <= 1)))
        return serve_error(out, 400, "\"intensity\" must be a number 0..1"), 0;
    if (in)
        p = in->valuedouble;
    fer_error err;
    if (cli_state_from_emotion(e, p, h, s, &err) != FER_OK)
        return serve_error(out, 400, "%s", err.msg), 0;
    return 1;
}

/* Exactly one of "state", "emotion" (+ "intensity") and "probabilities". */
static int rec_state(const cJSON *o, rec_request *r, serve_answer *out)
{
    const cJSON *st = field(o, "state"), *em = field(o, "emotion"), *pr = field(o, "probabilities");
    const fer_heart *h = r->have_heart ? &r->heart : NULL;
    int given = !!st + !!em + !!pr;
    if (given == 0)
        return serve_error(out, 400, cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "state"))
                                         ? "\"state\" is null (no face was found): give \"emotion\" instead"
                                         : "no state: give \"state\" (as fer-predict prints it), "
                                           "\"emotion\" or \"probabilities\""), 0;
    if (given > 1)
        return serve_error(out, 400, "give only one of \"state\", \"emotion\" and \"probabilities\""), 0;
    if (field(o, "intensity") && !em)
        return serve_error(out, 400, "\"intensity\" needs \"emotion\""), 0;
    if (em)
        return rec_emotion(em, field(o, "intensity"), h, &r->state, out);
    if (pr)
        return rec_probabilities(pr, h, &r->state, out);
    char why[640];
    if (!cJSON_IsObject(st))
        return serve_error(out, 400, "\"state\" must be an object (as fer-predict prints it)"), 0;
    if (!cli_json_read_state(st, &r->state, why, sizeof why))
        return serve_error(out, 400, "%s", why), 0;
    return 1;
}

/* "strategy", "limit", "seed", "genre". */
static int rec_options(const cJSON *o, rec_request *r, serve_answer *out)
{
    const cJSON *s = field(o, "strategy"), *g = field(o, "genre");
    double limit = DEFAULT_LIMIT, seed = 0;
    if (s && (!cJSON_IsString(s) ||
              (strcasecmp(s->valuestring, "match") && strcasecmp(s->valuestring, "uplift"))))
        return serve_error(out, 400, "\"strategy\" must be \"match\" or \"uplift\""), 0;
    r->strategy = s && !strcasecmp(s->valuestring, "uplift") ? FER_STRATEGY_UPLIFT : FER_STRATEGY_MATCH;
    if (!whole_field(o, "limit", 1, MAX_LIMIT, &limit, out) ||
        !whole_field(o, "seed", 0, 9007199254740991.0, &seed, out)) /* 2^53 - 1 */
        return 0;
    if (g && (!cJSON_IsString(g) || !*g->valuestring || strlen(g->valuestring) > MAX_GENRE))
        return serve_error(out, 400, "\"genre\" must be a genre name of 1..%d bytes", MAX_GENRE), 0;
    fer_rank_opts_default(&r->ro);
    r->ro.limit = (size_t)limit;
    r->ro.seed = (uint64_t)seed;
    r->ro.genre = g ? g->valuestring : NULL;
    return 1;
}

/* The HTTP status for a music source's failure: a genre the catalogue lacks
 * is the request's fault, Spotify's the upstream's. */
static int music_status(const serve_music *m, fer_status st)
{
    if (st == FER_ENOMEM)
        return 503;
    if (m->spotify && m->spotify_only)
        return 502;
    return st == FER_EINVAL ? 422 : 500;
}

static void rank(const serve_music *m, const rec_request *r, serve_answer *out)
{
    fer_music_target t;
    fer_error err;
    fer_playlist p = {0};
    char fell[600];
    const fer_heart *h = r->have_heart ? &r->heart : NULL;
    if (fer_music_target_for(&r->state, h, r->strategy, &t, &err) != FER_OK) {
        serve_error(out, 400, "%s", err.msg);
        return;
    }
    fer_status st = cli_music_recommend(m->spotify, m->spotify_only, m->offline, &t, &r->ro, &p,
                                        fell, sizeof fell, &err);
    if (*fell) /* what failed, never a secret (the library's messages hold none) */
        fprintf(stderr, "fer-serve: %s; falling back to the offline catalogue\n", fell);
    if (st != FER_OK)
        serve_error(out, music_status(m, st), "%s", err.msg);
    else if (p.n == 0)
        serve_error(out, 422, "no tracks found%s%s%s", r->ro.genre ? " in genre '" : "",
                    r->ro.genre ? r->ro.genre : "", r->ro.genre ? "'" : "");
    else
        answer_json(out, 200, cli_json_playlist(&r->state, h, r->strategy, &t, &p));
    fer_playlist_free(&p);
}

/* cJSON's parser writes a global error position: one parse at a time. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

/* The body as one JSON object and nothing after it; NULL after the error answer. */
static cJSON *parse_object(const char *body, size_t len, serve_answer *out)
{
    const char *end = NULL;
    pthread_mutex_lock(&parse_lock);
    cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    pthread_mutex_unlock(&parse_lock);
    size_t at = end ? (size_t)(end - body) : 0;
    while (o && at < len && strchr(" \t\r\n", body[at]))
        at++;
    if (!o || at < len || !cJSON_IsObject(o)) {
        if (!o || at < len)
            serve_error(out, 400, "the body is not one JSON object: %s at byte %zu",
                        o ? "unexpected data" : "malformed JSON", at);
        else
            serve_error(out, 400, "the body must be a JSON object, not another JSON value");
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void serve_recommend(const serve_music *m, const char *body, size_t len, serve_answer *out)
{
    cJSON *o = parse_object(body, len, out);
    if (!o)
        return;
    rec_request r = {0};
    char why[128];
    if (!cli_json_schema_ok(o, why, sizeof why))
        serve_error(out, 400, "%s", why);
    else if (rec_heart(o, &r, out) && rec_state(o, &r, out) && rec_options(o, &r, out))
        rank(m, &r, out);
    cJSON_Delete(o);
}
