/* A small Spotify Web API client: client-credentials token, recommendations
 * with a search fallback, bounded retries. libcurl does the HTTP, cJSON the
 * parsing; every field of a response is type-checked before use, and
 * neither the client secret nor the token ever reaches a message. */
#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/core.h"
#include "music/genres.h"
#include "music/source.h"

#define DEFAULT_API_URL "https://api.spotify.com"
#define DEFAULT_ACCOUNTS_URL "https://accounts.spotify.com"
#define MAX_ATTEMPTS 10 /* hard cap whatever the options say */
/* Search pages: 10 items is the most development-mode apps may ask for
 * since February 2026 (a larger limit is an error there). */
#define SEARCH_PAGE 10
#define SEARCH_MAX 50
/* Tracks taken from one response: Spotify's own largest page is 100; a
 * longer list is cut, so it costs no more than that. */
#define MAX_RESPONSE_TRACKS 100
/* Spotify's text quoted in a message, at most. */
#define QUOTE_MAX 120
/* The largest backoff and wait budget (a day): their sums stay exact. */
#define MAX_WAIT_MS 86400000L

typedef struct request request;
typedef struct response response;

/* The HTTP exchange and the wait before a retry: libcurl and nanosleep,
 * unless tests/fuzz/fuzz_spotify_retry.c (which includes this file) puts a
 * scripted server and a clock of its own here. Internal, not in fer.h. */
typedef struct spotify_io {
    CURLcode (*perform)(fer_spotify *s, const request *q, response *r);
    void (*sleep_ms)(fer_spotify *s, long ms);
    void *ctx;
} spotify_io;

struct fer_spotify {
    char *client_id, *client_secret;
    char *basic; /* base64 of id:secret (what Basic auth sends), kept out of messages */
    char *api_url, *accounts_url; /* without a trailing slash */
    int loopback;                 /* both URLs are http:// to this machine */
    CURL *curl;
    char token[1024];
    double token_expiry; /* monotonic seconds */
    fer_spotify_opts opts;
    spotify_io io;
};

struct response {
    long code;
    char *body;
    size_t len, max;
    int too_big;
    double retry_after; /* seconds, -1 when absent */
};

/* A track as Spotify lists it, and a response's tracks (the Spotify source
 * turns them into songs; tests/fuzz reads them directly). */
typedef struct spotify_track {
    char id[64];            /* Spotify track id */
    char *title, *artist;   /* malloc'd UTF-8 (first artist) */
    int popularity;         /* 0..100, -1 when not reported */
    long catalog_index;     /* the track in `features`, or -1 */
    double score, distance; /* as fer_music_score; distance NAN without features */
} spotify_track;

typedef struct spotify_result {
    spotify_track *tracks;
    size_t n;
    const char *path; /* "recommendations" or "search": which endpoint answered */
} spotify_result;

static CURLcode curl_perform(fer_spotify *s, const request *q, response *r);
static void sleep_ms(fer_spotify *s, long ms);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sleeps ms (>= 0), resumed after a signal. */
static void sleep_ms(fer_spotify *s, long ms)
{
    (void)s;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------ creation */

void fer_spotify_opts_default(fer_spotify_opts *o)
{
    o->connect_timeout_ms = 5000;
    o->timeout_ms = 15000;
    o->max_retries = 3;
    o->backoff_ms = 500;
    o->max_wait_ms = 30000;
    o->max_body = (size_t)4 << 20;
}

fer_status fer_spotify_set_opts(fer_spotify *s, const fer_spotify_opts *o, fer_error *err)
{
    if (!s || !o)
        return fer_fail(err, FER_EINVAL, "fer_spotify_set_opts: NULL argument");
    if (o->connect_timeout_ms < 1 || o->timeout_ms < 1 || o->max_retries < 0 ||
        o->backoff_ms < 0 || o->backoff_ms > MAX_WAIT_MS || o->max_wait_ms < 0 ||
        o->max_wait_ms > MAX_WAIT_MS || o->max_body < 1024)
        return fer_fail(err, FER_EINVAL, "Spotify options: timeouts must be >= 1 ms, retries "
                                         ">= 0, backoff and wait 0..%ld ms, max_body >= 1024",
                        MAX_WAIT_MS);
    s->opts = *o;
    return FER_OK;
}

/* 127.0.0.0/8 in the dotted form libcurl gives a numeric host. */
static int is_ipv4_loopback(const char *host)
{
    unsigned a, b, c, d;
    char end;
    return sscanf(host, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &end) == 4 && a == 127 &&
           b < 256 && c < 256 && d < 256 && strspn(host, "0123456789.") == strlen(host);
}

/* https:// to any host; http:// only to this machine (localhost,
 * 127.0.0.0/8, [::1]: a test server). libcurl parses the URL, so the host
 * checked is the one it will connect to ("http://127.0.0.1:80@192.0.2.1"
 * is 192.0.2.1); a user name, password, query or fragment is refused. */
static int url_allowed(const char *url, int *loopback)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *part = NULL;
    int ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host &&
             curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_NO_USER &&
             curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_NO_PASSWORD &&
             curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_NO_QUERY &&
             curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_NO_FRAGMENT;
    *loopback = ok && !strcmp(scheme, "http");
    ok = ok && (!strcmp(scheme, "https") ||
                (*loopback && (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]") ||
                               is_ipv4_loopback(host))));
    curl_free(part); /* set only when a get succeeded, which already failed ok */
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

static char *dup_url(const char *url)
{
    char *u = strdup(url);
    if (u)
        for (size_t n = strlen(u); n > 0 && u[n - 1] == '/'; n--)
            u[n - 1] = 0;
    return u;
}

/* base64 of "a:b": the credentials HTTP Basic authentication sends. */
static char *basic_credentials(const char *a, const char *b)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(a) + 1 + strlen(b), k = 0;
    char *plain = malloc(n + 1), *out = malloc((n + 2) / 3 * 4 + 1);
    if (!plain || !out) {
        free(plain);
        free(out);
        return NULL;
    }
    snprintf(plain, n + 1, "%s:%s", a, b);
    const unsigned char *p = (const unsigned char *)plain;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[k++] = abc[v >> 18 & 63];
        out[k++] = abc[v >> 12 & 63];
        out[k++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? abc[v & 63] : '=';
    }
    out[k] = 0;
    memset(plain, 0, n);
    free(plain);
    return out;
}

static const char *pick_url(const char *arg, const char *def) { return arg && *arg ? arg : def; }

fer_status fer_spotify_new(const char *client_id, const char *client_secret, const char *api_url,
                           const char *accounts_url, fer_spotify **out, fer_error *err)
{
    if (!out)
        return fer_fail(err, FER_EINVAL, "fer_spotify_new: NULL out");
    *out = NULL;
    if (!client_id || !*client_id || !client_secret || !*client_secret)
        return fer_fail(err, FER_EINVAL, "Spotify client id and secret are required "
                                         "(SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET)");
    const char *api = pick_url(api_url, DEFAULT_API_URL);
    const char *acc = pick_url(accounts_url, DEFAULT_ACCOUNTS_URL);
    int lb_api, lb_acc;
    if (!url_allowed(api, &lb_api))
        return fer_fail(err, FER_EINVAL, "Spotify API URL '%.200s': must be https://HOST[/PATH] "
                        "(http:// only for localhost, 127.0.0.0/8 or [::1])", api);
    if (!url_allowed(acc, &lb_acc))
        return fer_fail(err, FER_EINVAL, "Spotify accounts URL '%.200s': must be "
                        "https://HOST[/PATH] (http:// only for localhost, 127.0.0.0/8 or [::1])",
                        acc);
    fer_spotify *s = calloc(1, sizeof *s);
    if (!s)
        return fer_fail(err, FER_ENOMEM, "fer_spotify_new: out of memory");
    s->client_id = strdup(client_id);
    s->client_secret = strdup(client_secret);
    s->basic = basic_credentials(client_id, client_secret);
    s->api_url = dup_url(api);
    s->accounts_url = dup_url(acc);
    s->loopback = lb_api && lb_acc;
    s->curl = curl_easy_init();
    fer_spotify_opts_default(&s->opts);
    s->io = (spotify_io){curl_perform, sleep_ms, NULL};
    if (!s->client_id || !s->client_secret || !s->basic || !s->api_url || !s->accounts_url ||
        !s->curl) {
        fer_spotify_free(s);
        return fer_fail(err, FER_ENOMEM, "fer_spotify_new: out of memory or libcurl failed");
    }
    *out = s;
    return FER_OK;
}

void fer_spotify_free(fer_spotify *s)
{
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    if (s->client_secret) /* don't leave the secret in freed memory */
        memset(s->client_secret, 0, strlen(s->client_secret));
    if (s->basic)
        memset(s->basic, 0, strlen(s->basic));
    memset(s->token, 0, sizeof s->token);
    free(s->client_id);
    free(s->client_secret);
    free(s->basic);
    free(s->api_url);
    free(s->accounts_url);
    free(s);
}

/* ------------------------------------------------------------ HTTP */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    response *r = arg;
    size_t n = size * nmemb;
    if (r->len + n > r->max) {
        r->too_big = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    char *b = realloc(r->body, r->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, data, n);
    r->body = b;
    r->len += n;
    r->body[r->len] = 0;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    response *r = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char v[32];
        size_t k = n - (sizeof name - 1);
        if (k >= sizeof v)
            k = sizeof v - 1;
        memcpy(v, data + sizeof name - 1, k);
        v[k] = 0;
        char *end;
        double secs = strtod(v, &end);
        while (*end == ' ' || *end == '\r' || *end == '\n')
            end++;
        r->retry_after = end != v && *end == 0 && secs >= 0 && isfinite(secs) ? secs : -1;
    }
    return n;
}

struct request {
    const char *what; /* "POST /api/token", for messages */
    const char *url;
    const char *post; /* form body, NULL for GET */
    int basic_auth;   /* client id/secret as Basic credentials */
    const char *bearer;
};

/* Empties r for the next try (of at most max_body bytes). */
static void reset_response(response *r, size_t max_body)
{
    free(r->body);
    *r = (response){.max = max_body, .retry_after = -1};
}

static CURLcode curl_perform(fer_spotify *s, const request *q, response *r)
{
    CURL *c = s->curl;
    curl_easy_reset(c);
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    char auth[1100];
    if (q->bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", q->bearer);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, s->loopback ? "http,https" : "https");
    if (s->loopback) /* elsewhere the environment's proxy settings apply */
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "libfer/" FER_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (q->basic_auth) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, s->client_id);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->client_secret);
    }
    if (q->post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->post);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_slist_free_all(h);
    memset(auth, 0, sizeof auth);
    curl_easy_reset(c); /* drops the credentials from the handle */
    return rc;
}

static int transient(CURLcode rc)
{
    return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
           rc == CURLE_PARTIAL_FILE;
}

/* The wait before the next try, in ms: Retry-After (1 s without one) for
 * a 429, else the backoff doubled per retry. In double: a Retry-After of
 * 1e300 is only a wait over the budget, never an overflow. */
static double retry_wait_ms(const fer_spotify *s, const response *r, int is_429, int retries)
{
    if (is_429)
        return 1000.0 * (r->retry_after >= 0 ? r->retry_after : 1);
    return ldexp((double)s->opts.backoff_ms, retries < 20 ? retries : 20);
}

/* Performs q, retrying 429 (after Retry-After), 5xx and transient network
 * errors within the retry count and the wait budget. On FER_OK r->code holds
 * the final HTTP status (which may still be an error status to handle). */
static fer_status request_retrying(fer_spotify *s, const request *q, response *r, fer_error *err)
{
    long waited = 0;
    int retries = 0;
    for (int attempt = 0;; attempt++) {
        reset_response(r, s->opts.max_body);
        CURLcode rc = s->io.perform(s, q, r);
        if (r->too_big)
            return fer_fail(err, FER_ERANGE, "%s: response larger than %zu bytes", q->what,
                            s->opts.max_body);
        int is_429 = rc == CURLE_OK && r->code == 429;
        int retryable = is_429 || (rc == CURLE_OK && r->code >= 500) || transient(rc);
        if (rc != CURLE_OK && !transient(rc))
            return fer_fail(err, FER_ENET, "%s: %s", q->what, curl_easy_strerror(rc));
        if (!retryable)
            return FER_OK;
        double wait = retry_wait_ms(s, r, is_429, retries);
        int out_of_retries = is_429 ? attempt + 1 >= MAX_ATTEMPTS
                                    : retries >= s->opts.max_retries;
        if (out_of_retries || wait > (double)(s->opts.max_wait_ms - waited)) {
            if (rc != CURLE_OK)
                return fer_fail(err, FER_ENET, "%s: %s (gave up after %d retries)", q->what,
                                curl_easy_strerror(rc), retries);
            if (is_429 && out_of_retries)
                return fer_fail(err, FER_ENET, "%s: HTTP 429 rate limited on %d attempts",
                                q->what, attempt + 1);
            if (is_429)
                return fer_fail(err, FER_ENET, "%s: HTTP 429 rate limited (Retry-After %.3g s "
                                "would exceed the %ld ms wait budget)", q->what,
                                r->retry_after, s->opts.max_wait_ms);
            return fer_fail(err, FER_ENET, "%s: HTTP %ld (gave up after %d retries)", q->what,
                            r->code, retries);
        }
        if (!is_429)
            retries++;
        s->io.sleep_ms(s, (long)wait); /* within the budget: fits a long */
        waited += (long)wait;
    }
}

/* ------------------------------------------------------------ token */

/* 6 for "Basic ", 7 for "Bearer " (any case) at p: a credential follows. */
static size_t auth_scheme_at(const char *p)
{
    return !strncasecmp(p, "Basic ", 6) ? 6 : !strncasecmp(p, "Bearer ", 7) ? 7 : 0;
}

/* The length of a credential of ours (secret, Basic credentials, token)
 * starting at p, or 0. */
static size_t secret_at(const fer_spotify *s, const char *p)
{
    const char *hide[3] = {s->client_secret, s->basic, s->token};
    for (int i = 0; i < 3; i++) {
        size_t n = hide[i] ? strlen(hide[i]) : 0;
        if (n && !strncmp(p, hide[i], n))
            return n;
    }
    return 0;
}

/* Appends n bytes of p to out (k bytes so far), cut at QUOTE_MAX. */
static size_t quote_put(char *out, size_t k, const char *p, size_t n)
{
    if (n > QUOTE_MAX - k)
        n = QUOTE_MAX - k;
    memcpy(out + k, p, n);
    return k + n;
}

/* Server text for a message (out holds QUOTE_MAX + 1 bytes): cut to
 * QUOTE_MAX bytes, every byte that is not printable ASCII (escapes,
 * newlines, UTF-8) as '?', and whatever the server echoes of the request's
 * credentials as "***": the secret, the Basic credentials, the token, and
 * the word after "Basic " or "Bearer ". */
static void quote_server(const fer_spotify *s, const char *in, char *out)
{
    size_t k = 0;
    for (const char *p = in; *p && k < QUOTE_MAX;) {
        size_t scheme = auth_scheme_at(p), n;
        if (scheme) { /* "Bearer xyz": the scheme is shown, the word is not */
            k = quote_put(out, k, p, scheme);
            p += scheme;
            n = strcspn(p, " \t\r\n\"',;");
        } else {
            n = secret_at(s, p);
        }
        if (n) {
            k = quote_put(out, k, "***", 3);
            p += n;
        } else if (!scheme) {
            unsigned char c = (unsigned char)*p++;
            out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
    }
    out[k] = 0;
}

static const char *json_error_word(const cJSON *j)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(e))
        return e->valuestring;
    e = cJSON_GetObjectItemCaseSensitive(e, "message");
    return cJSON_IsString(e) ? e->valuestring : "";
}

static fer_status parse_token(fer_spotify *s, const response *r, fer_error *err)
{
    cJSON *j = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return fer_fail(err, FER_EFORMAT, "POST /api/token: response is not a JSON object");
    }
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "token_type");
    fer_status st = FER_OK;
    if (!cJSON_IsString(tok) || !*tok->valuestring || strlen(tok->valuestring) >= sizeof s->token ||
        strpbrk(tok->valuestring, "\r\n"))
        st = fer_fail(err, FER_EFORMAT, "POST /api/token: 'access_token' missing or malformed");
    else if (!cJSON_IsNumber(exp) || !(exp->valuedouble > 0 && exp->valuedouble < 1e7))
        st = fer_fail(err, FER_EFORMAT, "POST /api/token: 'expires_in' missing or not a positive number");
    else if (type && (!cJSON_IsString(type) || strcasecmp(type->valuestring, "bearer")))
        st = fer_fail(err, FER_EFORMAT, "POST /api/token: 'token_type' is not Bearer");
    if (st == FER_OK) {
        snprintf(s->token, sizeof s->token, "%s", tok->valuestring);
        /* Renew a little early so a token never expires in flight. */
        double margin = exp->valuedouble > 120 ? 60 : exp->valuedouble / 2;
        s->token_expiry = now_s() + exp->valuedouble - margin;
    }
    cJSON_Delete(j);
    return st;
}

static fer_status fetch_token(fer_spotify *s, int force, fer_error *err)
{
    if (!force && s->token[0] && now_s() < s->token_expiry)
        return FER_OK;
    s->token[0] = 0;
    char url[1100];
    snprintf(url, sizeof url, "%s/api/token", s->accounts_url);
    request q = {"POST /api/token", url, "grant_type=client_credentials", 1, NULL};
    response r = {0};
    fer_status st = request_retrying(s, &q, &r, err);
    if (st == FER_OK && r.code != 200) {
        cJSON *j = cJSON_ParseWithLength(r.body ? r.body : "", r.len);
        char why[QUOTE_MAX + 1];
        quote_server(s, j ? json_error_word(j) : "", why);
        int refused = r.code == 400 || r.code == 401;
        st = fer_fail(err, FER_ENET, "POST /api/token: HTTP %ld%s%s%s%s", r.code,
                      *why ? " (" : "", why, *why ? ")" : "",
                      refused ? ": check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET" : "");
        cJSON_Delete(j);
    } else if (st == FER_OK) {
        st = parse_token(s, &r, err);
    }
    free(r.body);
    return st;
}

/* GET on the API with the token, renewed once if the API says 401. */
static fer_status api_get(fer_spotify *s, const char *what, const char *url, response *r,
                          fer_error *err)
{
    fer_status st = fetch_token(s, 0, err);
    for (int renewed = 0; st == FER_OK; renewed++) {
        request q = {what, url, NULL, 0, s->token};
        st = request_retrying(s, &q, r, err);
        if (st != FER_OK || r->code != 401 || renewed)
            break;
        st = fetch_token(s, 1, err);
    }
    return st;
}

/* ------------------------------------------------------------ tracks */

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= sizeof ((spotify_track *)0)->id)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return 0;
    return 1;
}

/* One track object: id, name, artists[0].name, popularity (optional). */
static fer_status parse_track(const cJSON *it, size_t i, const char *what, spotify_track *t,
                              fer_error *err)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
    const cJSON *artists = cJSON_GetObjectItemCaseSensitive(it, "artists");
    const cJSON *pop = cJSON_GetObjectItemCaseSensitive(it, "popularity");
    const cJSON *a0 = cJSON_IsArray(artists) ? cJSON_GetArrayItem(artists, 0) : NULL;
    const cJSON *an = cJSON_IsObject(a0) ? cJSON_GetObjectItemCaseSensitive(a0, "name") : NULL;
    if (!cJSON_IsString(id) || !valid_id(id->valuestring))
        return fer_fail(err, FER_EFORMAT, "%s: track %zu: 'id' missing or not a Spotify id", what, i);
    if (!cJSON_IsString(name))
        return fer_fail(err, FER_EFORMAT, "%s: track %zu: 'name' missing or not a string", what, i);
    if (!cJSON_IsString(an))
        return fer_fail(err, FER_EFORMAT, "%s: track %zu: 'artists[0].name' missing", what, i);
    if (pop && !cJSON_IsNull(pop) && !(cJSON_IsNumber(pop) && pop->valuedouble >= 0 && pop->valuedouble <= 100))
        return fer_fail(err, FER_EFORMAT, "%s: track %zu: 'popularity' not a number in 0..100", what, i);
    snprintf(t->id, sizeof t->id, "%s", id->valuestring);
    t->title = strdup(name->valuestring);
    t->artist = strdup(an->valuestring);
    t->popularity = cJSON_IsNumber(pop) ? (int)pop->valuedouble : -1;
    t->catalog_index = -1;
    t->distance = NAN;
    if (!t->title || !t->artist)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", what);
    return FER_OK;
}

typedef struct id_ref {
    const char *id;
    size_t at;
} id_ref;

static int id_ref_cmp(const void *a, const void *b)
{
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* Drops every track whose id came earlier (pages may overlap), keeping
 * the order: the ids are sorted, not compared pairwise. */
static fer_status drop_repeats(spotify_result *out, const char *what, fer_error *err)
{
    size_t n = out->n, k = 0;
    if (n < 2)
        return FER_OK;
    id_ref *refs = malloc(n * (sizeof *refs + 1));
    if (!refs)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", what);
    unsigned char *repeat = (unsigned char *)(refs + n);
    for (size_t i = 0; i < n; i++)
        refs[i] = (id_ref){out->tracks[i].id, i};
    qsort(refs, n, sizeof *refs, id_ref_cmp);
    for (size_t i = 0; i < n; i++)
        repeat[refs[i].at] = i > 0 && !strcmp(refs[i].id, refs[i - 1].id);
    for (size_t i = 0; i < n; i++) {
        spotify_track *t = &out->tracks[i];
        if (repeat[i]) {
            free(t->title);
            free(t->artist);
        } else {
            out->tracks[k++] = *t;
        }
    }
    out->n = k;
    free(refs);
    return FER_OK;
}

/* Appends the first MAX_RESPONSE_TRACKS tracks of `items` to out, then
 * drops the ids seen before. */
static fer_status parse_tracks(const cJSON *items, const char *what, spotify_result *out,
                               fer_error *err)
{
    size_t n = (size_t)cJSON_GetArraySize(items);
    if (n > MAX_RESPONSE_TRACKS)
        n = MAX_RESPONSE_TRACKS;
    spotify_track *grown = realloc(out->tracks, (out->n + n + 1) * sizeof *grown);
    if (!grown)
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", what);
    out->tracks = grown;
    memset(out->tracks + out->n, 0, (n + 1) * sizeof *grown);
    size_t i = 0;
    for (const cJSON *it = items->child; it && i < n; it = it->next, i++) {
        if (cJSON_IsNull(it)) /* Spotify may return null for unavailable items */
            continue;
        if (!cJSON_IsObject(it))
            return fer_fail(err, FER_EFORMAT, "%s: track %zu is not an object", what, i);
        spotify_track *k = &out->tracks[out->n];
        fer_status st = parse_track(it, i, what, k, err);
        out->n += k->title || k->artist; /* so that a failure frees what it got */
        if (st != FER_OK)
            return st;
    }
    return drop_repeats(out, what, err);
}

/* items = the array at body.tracks (recommendations) or body.tracks.items
 * (search), appended to out; *n_items receives the array's length. */
static fer_status parse_items(const response *r, const char *what, int search,
                              spotify_result *out, size_t *n_items, fer_error *err)
{
    cJSON *j = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return fer_fail(err, FER_EFORMAT, "%s: response is not a JSON object", what);
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "tracks");
    if (search)
        items = cJSON_IsObject(items) ? cJSON_GetObjectItemCaseSensitive(items, "items") : NULL;
    *n_items = cJSON_IsArray(items) ? (size_t)cJSON_GetArraySize(items) : 0;
    fer_status st = cJSON_IsArray(items)
                        ? parse_tracks(items, what, out, err)
                        : fer_fail(err, FER_EFORMAT, "%s: '%s' missing or not an array", what,
                                   search ? "tracks.items" : "tracks");
    cJSON_Delete(j);
    return st;
}

/* The same when the item count does not matter (tests/fuzz/fuzz_spotify.c
 * calls this one directly). */
static fer_status parse_body(const response *r, const char *what, int search,
                             spotify_result *out, fer_error *err)
{
    size_t n_items;
    return parse_items(r, what, search, out, &n_items, err);
}

/* ------------------------------------------------------------ queries */

/* A mood word and seed genres for the target's circumplex quadrant. */
static void mood_words(const fer_music_target *t, const char **word, const char **seeds)
{
    if (t->valence >= 0.55 && t->energy >= 0.55)
        *word = "happy", *seeds = "pop,happy";
    else if (t->valence >= 0.55)
        *word = "chill", *seeds = "chill,acoustic";
    else if (t->valence < 0.45 && t->energy < 0.5)
        *word = "sad", *seeds = "sad,piano";
    else if (t->valence < 0.45)
        *word = "intense", *seeds = "rock,alternative";
    else
        *word = "mellow", *seeds = "indie,pop";
}

/* Catalogue genre -> Spotify seed genre: "R&B" -> "r-n-b", "A Capella" -> "a-capella". */
static void seed_genre(const char *genre, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *p = genre; *p && k + 4 < cap; p++) {
        if (*p == '&') {
            memcpy(out + k, "-n-", 3);
            k += 3;
        } else {
            out[k++] = *p == ' ' ? '-' : (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        }
    }
    out[k] = 0;
}

static fer_status get_recommendations(fer_spotify *s, const fer_music_target *t,
                                      const char *genre, size_t limit, response *r,
                                      fer_error *err)
{
    const char *word, *seeds;
    mood_words(t, &word, &seeds);
    char g[128];
    if (genre)
        seed_genre(genre, g, sizeof g);
    char *esc = curl_easy_escape(s->curl, genre ? g : seeds, 0);
    if (!esc)
        return fer_fail(err, FER_ENOMEM, "out of memory");
    char url[2048];
    snprintf(url, sizeof url,
             "%s/v1/recommendations?limit=%zu&seed_genres=%s&target_valence=%.3f"
             "&target_energy=%.3f&target_tempo=%.1f&target_danceability=%.3f"
             "&target_acousticness=%.3f",
             s->api_url, limit, esc, t->valence, t->energy, t->tempo, t->danceability,
             t->acousticness);
    curl_free(esc);
    return api_get(s, "GET /v1/recommendations", url, r, err);
}

static fer_status get_search(fer_spotify *s, const fer_music_target *t, const char *genre,
                             size_t offset, response *r, fer_error *err)
{
    const char *word, *seeds;
    mood_words(t, &word, &seeds);
    char q[256];
    size_t first = genre ? strcspn(genre, ",") : 0; /* a search has one genre filter */
    if (genre)
        snprintf(q, sizeof q, "%s genre:\"%.*s\"", word, (int)(first < 100 ? first : 100), genre);
    else
        snprintf(q, sizeof q, "%s", word);
    char *esc = curl_easy_escape(s->curl, q, 0);
    if (!esc)
        return fer_fail(err, FER_ENOMEM, "out of memory");
    char url[2048];
    snprintf(url, sizeof url, "%s/v1/search?type=track&limit=%d&offset=%zu&q=%s", s->api_url,
             SEARCH_PAGE, offset, esc);
    curl_free(esc);
    return api_get(s, "GET /v1/search", url, r, err);
}

/* FER_OK for HTTP 200, else an error with Spotify's own message if it sent one. */
static fer_status check_status(const fer_spotify *s, const response *r, const char *what,
                               fer_error *err)
{
    if (r->code == 200)
        return FER_OK;
    cJSON *j = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
    char why[QUOTE_MAX + 1];
    quote_server(s, j ? json_error_word(j) : "", why);
    fer_status st = fer_fail(err, FER_ENET, "%s: HTTP %ld%s%s%s", what, r->code,
                             *why ? " (" : "", why, *why ? ")" : "");
    cJSON_Delete(j);
    return st;
}

/* Pages of search results until there are 3x limit candidates (at most
 * SEARCH_MAX) for the catalogue to re-rank, or the results run out. */
static fer_status search_pages(fer_spotify *s, const fer_music_target *t, const char *genre,
                               size_t limit, spotify_result *out, fer_error *err)
{
    size_t want = limit * 3 < SEARCH_MAX ? limit * 3 : SEARCH_MAX;
    for (size_t offset = 0; out->n < want && offset < SEARCH_MAX; offset += SEARCH_PAGE) {
        response r = {0};
        size_t n_items = 0;
        fer_status st = get_search(s, t, genre, offset, &r, err);
        if (st == FER_OK)
            st = check_status(s, &r, "GET /v1/search", err);
        if (st == FER_OK)
            st = parse_items(&r, "GET /v1/search", 1, out, &n_items, err);
        free(r.body);
        if (st != FER_OK)
            return st;
        if (n_items < SEARCH_PAGE)
            break;
    }
    return FER_OK;
}

/* Known tracks first by fit to the target, then the rest by popularity. */
static int ranks_before(const spotify_track *x, const spotify_track *y)
{
    int kx = x->catalog_index >= 0, ky = y->catalog_index >= 0;
    return kx != ky ? kx : x->score > y->score;
}

/* A stable insertion sort (at most SEARCH_MAX + 1 pages of tracks): ties,
 * such as tracks without a popularity, keep Spotify's relevance order. */
static void rank_tracks(spotify_track *t, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        spotify_track k = t[i];
        size_t j = i;
        for (; j > 0 && ranks_before(&k, &t[j - 1]); j--)
            t[j] = t[j - 1];
        t[j] = k;
    }
}

static void annotate(spotify_result *out, const fer_music_target *t, const fer_catalog *c,
                     double popularity_weight, int rank)
{
    for (size_t i = 0; i < out->n; i++) {
        spotify_track *k = &out->tracks[i];
        k->catalog_index = c ? fer_catalog_find(c, k->id) : -1;
        if (k->catalog_index >= 0)
            k->score = fer_music_score(t, fer_catalog_track(c, (size_t)k->catalog_index),
                                       popularity_weight, &k->distance);
        else
            k->score = k->popularity >= 0 ? k->popularity / 100.0 : 0;
    }
    if (rank)
        rank_tracks(out->tracks, out->n);
}

static void spotify_result_free(spotify_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->tracks[i].title);
        free(r->tracks[i].artist);
    }
    free(r->tracks);
    r->tracks = NULL;
    r->n = 0;
}

/* Recommendations, or the search when they are closed (fer.h,
 * fer_music_source_spotify), ranked; at most limit tracks. */
static fer_status spotify_recommend(fer_spotify *s, const fer_music_target *t, const char *genre,
                                    size_t limit, const fer_catalog *features,
                                    double popularity_weight, spotify_result *out,
                                    fer_error *err)
{
    memset(out, 0, sizeof *out);
    if (limit < 1 || limit > 50)
        return fer_fail(err, FER_ERANGE, "Spotify limit %zu is outside 1..50", limit);
    if (genre && !*genre)
        genre = NULL;
    response r = {0};
    out->path = "recommendations";
    fer_status st = get_recommendations(s, t, genre, limit, &r, err);
    if (st == FER_OK && (r.code == 403 || r.code == 404)) {
        out->path = "search"; /* endpoint closed to this app: fall back */
        st = search_pages(s, t, genre, limit, out, err);
    } else {
        if (st == FER_OK)
            st = check_status(s, &r, "GET /v1/recommendations", err);
        if (st == FER_OK)
            st = parse_body(&r, "GET /v1/recommendations", 0, out, err);
    }
    free(r.body);
    if (st != FER_OK) {
        spotify_result_free(out);
        return st;
    }
    annotate(out, t, features, popularity_weight, out->path[0] == 's');
    if (out->n > limit) {
        for (size_t i = limit; i < out->n; i++) {
            free(out->tracks[i].title);
            free(out->tracks[i].artist);
        }
        out->n = limit;
    }
    return FER_OK;
}

/* ------------------------------------------------------------ the source */

typedef struct spotify_source {
    fer_spotify *client;
    const fer_catalog *features;
} spotify_source;

/* "rock, jazz" -> "rock; jazz": what a track unknown to the catalogue is
 * said to be (the seeds, or the search's filter, it was found with). */
static void asked_genres(const char *list, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    const char *p;
    size_t n;
    for (const char *rest = list ? list : ""; fer_list_next(&rest, ',', &p, &n);)
        if (len + n + 3 < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%s%.*s", len ? "; " : "", (int)n, p);
}

/* The song for Spotify's track k: the catalogue's audio features and genres
 * when it knows the track, Spotify's id, title, artist and popularity. */
static fer_status add_song(fer_playlist *p, const spotify_track *k, const fer_catalog *c,
                           const char *genres, const fer_music_target *t, fer_error *err)
{
    fer_track tr;
    if (k->catalog_index >= 0) {
        tr = *fer_catalog_track(c, (size_t)k->catalog_index);
    } else {
        memset(&tr, 0, sizeof tr);
        tr.genre = genres;
        tr.mode = tr.key = -1;
        tr.acousticness = tr.danceability = tr.energy = tr.instrumentalness = tr.liveness =
            tr.loudness = tr.speechiness = tr.tempo = tr.valence = NAN;
    }
    tr.id = k->id;
    tr.title = k->title;
    tr.artist = k->artist;
    tr.popularity = k->popularity;
    return fer_playlist_add(p, &tr, k->score, k->catalog_index >= 0 ? k->distance : NAN, t, err);
}

static fer_status spotify_source_recommend(void *impl, const fer_music_target *t,
                                           const fer_rank_opts *o, fer_playlist *out,
                                           fer_error *err)
{
    const spotify_source *src = impl;
    spotify_result r;
    fer_status st = spotify_recommend(src->client, t, o->genre, o->limit, src->features,
                                      o->popularity_weight, &r, err);
    if (st != FER_OK)
        return st;
    char genres[512];
    asked_genres(o->genre, genres, sizeof genres);
    st = fer_playlist_reserve(out, r.n, err);
    for (size_t i = 0; st == FER_OK && i < r.n; i++)
        st = add_song(out, &r.tracks[i], src->features, genres, t, err);
    out->source = r.path[0] == 'r' ? "spotify-recommendations" : "spotify-search";
    spotify_result_free(&r);
    return st;
}

static const music_source_ops spotify_ops = {"spotify", spotify_source_recommend, free};

fer_status fer_music_source_spotify(fer_spotify *s, const fer_catalog *features,
                                    fer_music_source **out, fer_error *err)
{
    if (!out)
        return fer_fail(err, FER_EINVAL, "fer_music_source_spotify: NULL out");
    *out = NULL;
    if (!s)
        return fer_fail(err, FER_EINVAL, "fer_music_source_spotify: NULL client");
    spotify_source *src = malloc(sizeof *src);
    if (!src)
        return fer_fail(err, FER_ENOMEM, "out of memory for a Spotify music source");
    *src = (spotify_source){s, features};
    return fer_music_source_new(&spotify_ops, src, out, err);
}
