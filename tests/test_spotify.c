/* The Spotify client against tests/mock-spotify on 127.0.0.1: success, token
 * caching and renewal, the search fallback, rate limiting, server errors,
 * bad JSON, timeouts, empty results and the URL policy. One mock per test,
 * stopped at the end (it also exits by itself when this process goes). */
#include "testutil.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

typedef struct mock {
    pid_t pid;
    int in; /* its stdin: closing it stops the mock */
    char url[64];
} mock;

static void mock_path(char *buf, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(n, 0);
    self[n] = 0;
    char *slash = strrchr(self, '/');
    *slash = 0;
    snprintf(buf, cap, "%s/mock-spotify", self);
}

static mock start_mock(const char *scenario)
{
    char path[PATH_MAX + 16];
    mock_path(path, sizeof path);
    ck_assert_msg(access(path, X_OK) == 0, "%s missing (make builds it)", path);
    int in[2], out[2];
    ck_assert(pipe(in) == 0 && pipe(out) == 0);
    mock m = {fork(), in[1], ""};
    ck_assert_int_ge(m.pid, 0);
    if (m.pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execl(path, "mock-spotify", scenario, "15", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    struct pollfd p = {out[0], POLLIN, 0};
    ck_assert_msg(poll(&p, 1, 5000) == 1, "mock-spotify did not start");
    char line[32] = {0};
    ck_assert_int_gt(read(out[0], line, sizeof line - 1), 0);
    close(out[0]);
    int port = atoi(line);
    ck_assert_int_gt(port, 0);
    snprintf(m.url, sizeof m.url, "http://127.0.0.1:%d", port);
    return m;
}

static void stop_mock(mock *m)
{
    close(m->in);
    kill(m->pid, SIGTERM);
    waitpid(m->pid, NULL, 0);
}

static fer_spotify *client(const mock *m)
{
    fer_spotify *s;
    fer_error err;
    ck_assert_msg(fer_spotify_new("test-id", "test-secret", m->url, m->url, &s, &err) == FER_OK,
                  "%s", err.msg);
    fer_spotify_opts o;
    fer_spotify_opts_default(&o);
    /* Roomy: under ASan on a loaded machine the 5 MB "big" body took over 1 s
     * to reach the cap, timed out and was retried. The timeout test sets its own. */
    o.connect_timeout_ms = 5000;
    o.timeout_ms = 5000;
    o.max_retries = 2;
    o.backoff_ms = 10;
    o.max_wait_ms = 3000;
    ck_assert_int_eq(fer_spotify_set_opts(s, &o, NULL), FER_OK);
    return s;
}

static fer_music_target target(void)
{
    fer_music_target t = {0.3, 0.3, 85, 0.5, 0.6, 0.15, 0.15, 15};
    return t;
}

/* A catalogue that knows three of the search ids, with different fits. */
static fer_catalog *features(void)
{
    char path[] = "/tmp/test_spotify_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "track_id,track_name,artist_name,genre,popularity,valence,energy,tempo\n"
               "s000000000000000000007,Far,A,Pop,50,0.9,0.9,170\n"
               "s000000000000000000003,Near,B,Pop,50,0.3,0.3,85\n"
               "s000000000000000000005,Mid,C,Pop,50,0.45,0.4,95\n");
    fclose(f);
    fer_catalog *c;
    ck_assert_int_eq(fer_catalog_load(path, &c, NULL, NULL), FER_OK);
    unlink(path);
    return c;
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    char *buf = arg;
    size_t have = strlen(buf), k = size * n;
    if (have + k < 255) {
        memcpy(buf + have, data, k);
        buf[have + k] = 0;
    }
    return k;
}

/* The mock's request counters, from its GET /stats. */
static void stats(const mock *m, int *token, int *api)
{
    char url[96], body[256] = {0};
    snprintf(url, sizeof url, "%s/stats", m->url);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    ck_assert_int_eq(sscanf(body, "{\"token\":%d,\"api\":%d}", token, api), 2);
}

/* Runs one recommendation through the Spotify music source over client s;
 * the message never carries a secret, the Basic credentials (base64 of
 * test-id:test-secret) or a token, nor a control character. */
static fer_status run(fer_spotify *s, const char *genre, size_t limit, const fer_catalog *c,
                      fer_playlist *r, fer_error *err)
{
    fer_music_target t = target();
    fer_music_source *src;
    fer_rank_opts o;
    fer_rank_opts_default(&o);
    o.genre = genre;
    o.limit = limit;
    err->msg[0] = 0;
    ck_assert_int_eq(fer_music_source_spotify(s, c, &src, err), FER_OK);
    ck_assert_str_eq(fer_music_source_name(src), "spotify");
    fer_status st = fer_music_recommend(src, &t, &o, r, err);
    fer_music_source_free(src);
    ck_assert_ptr_null(strstr(err->msg, "test-secret"));
    ck_assert_ptr_null(strstr(err->msg, "dGVzdC1pZDp0ZXN0LXNlY3JldA"));
    ck_assert_ptr_null(strstr(err->msg, "tok1"));
    for (const char *p = err->msg; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in: %s", err->msg);
    return st;
}

START_TEST(success_and_token_cache)
{
    mock m = start_mock("ok");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_msg(run(s, "R&B", 5, NULL, &r, &err) == FER_OK, "%s", err.msg);
    ck_assert_str_eq(r.source, "spotify-recommendations");
    ck_assert_uint_eq(r.n, 5);
    ck_assert_str_eq(r.songs[0].track.id, "r000000000000000000000");
    ck_assert_str_eq(r.songs[1].track.title, "Song \"1\" \xC3\xA9");
    ck_assert_str_eq(r.songs[1].track.artist, "Artist 1");
    ck_assert_int_eq(r.songs[1].track.popularity, 7);
    /* unknown to the catalogue: no audio features, the genres asked for */
    ck_assert(isnan(r.songs[1].distance) && isnan(r.songs[1].track.valence));
    ck_assert_str_eq(r.songs[1].track.genre, "R&B");
    ck_assert_str_eq(r.songs[1].url, "https://open.spotify.com/track/r000000000000000000001");
    ck_assert_str_eq(r.songs[1].why, "no audio features known; popularity 7");
    ck_assert_int_eq(r.songs[1].in_band, 0);
    fer_playlist_free(&r);
    ck_assert_int_eq(run(s, NULL, 3, NULL, &r, &err), FER_OK);
    ck_assert_uint_eq(r.n, 3);
    fer_playlist_free(&r);
    int token, api;
    stats(&m, &token, &api);
    ck_assert_int_eq(token, 1); /* cached */
    ck_assert_int_eq(api, 2);
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(renews_token_once_on_401)
{
    mock m = start_mock("401");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_msg(run(s, NULL, 4, NULL, &r, &err) == FER_OK, "%s", err.msg);
    ck_assert_uint_eq(r.n, 4);
    fer_playlist_free(&r);
    int token, api;
    stats(&m, &token, &api);
    ck_assert_int_eq(token, 2);
    ck_assert_int_eq(api, 2);
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

static void check_search_fallback(const char *scenario)
{
    mock m = start_mock(scenario);
    fer_spotify *s = client(&m);
    fer_catalog *c = features();
    fer_playlist r;
    fer_error err;
    ck_assert_msg(run(s, "Dance", 4, c, &r, &err) == FER_OK, "%s", err.msg);
    ck_assert_str_eq(r.source, "spotify-search");
    ck_assert_uint_eq(r.n, 4);
    /* The three known tracks first, nearest first; then the most popular unknown one. */
    ck_assert_str_eq(r.songs[0].track.id, "s000000000000000000003");
    ck_assert_str_eq(r.songs[1].track.id, "s000000000000000000005");
    ck_assert_str_eq(r.songs[2].track.id, "s000000000000000000007");
    ck_assert(r.songs[0].distance < r.songs[1].distance);
    ck_assert(!isnan(r.songs[2].distance)); /* known: the catalogue's features and genres */
    ck_assert(r.songs[0].track.valence == 0.3f && r.songs[0].track.tempo == 85);
    ck_assert_str_eq(r.songs[0].track.genre, "Pop");
    ck_assert_str_eq(r.songs[0].track.title, "Song \"3\" \xC3\xA9"); /* Spotify's title */
    ck_assert_int_eq(r.songs[0].in_band, 1);
    ck_assert_msg(strstr(r.songs[0].why, "valence 0.30 (+0.00) energy 0.30 (+0.00)  85 BPM (+0)"),
                  "%s", r.songs[0].why);
    ck_assert(isnan(r.songs[3].distance));
    ck_assert_str_eq(r.songs[3].track.genre, "Dance");
    /* Two pages of 10 were read (3 x 4 wanted); the mock's popularity is i * 7 % 101. */
    int best = -1;
    for (int i = 0; i < 20; i++)
        if (i != 3 && i != 5 && i != 7 && i * 7 % 101 > best)
            best = i * 7 % 101;
    ck_assert_int_eq(r.songs[3].track.popularity, best);
    fer_playlist_free(&r);
    int token, api;
    stats(&m, &token, &api);
    ck_assert_int_eq(api, 3); /* recommendations + 2 search pages */
    /* 20 wanted: pages at offsets 0, 10, 20 until the mock's 25 results run out. */
    ck_assert_msg(run(s, NULL, 20, c, &r, &err) == FER_OK, "%s", err.msg);
    ck_assert_uint_eq(r.n, 20);
    for (size_t i = 0; i < r.n; i++)
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(r.songs[i].track.id, r.songs[j].track.id);
    fer_playlist_free(&r);
    stats(&m, &token, &api);
    ck_assert_int_eq(api, 3 + 4);
    fer_catalog_free(c);
    fer_spotify_free(s);
    stop_mock(&m);
}

START_TEST(forbidden_falls_back_to_search) { check_search_fallback("403"); }
END_TEST

START_TEST(not_found_falls_back_to_search) { check_search_fallback("404"); }
END_TEST

/* Without popularity, unknown tracks keep Spotify's order after the known ones. */
START_TEST(search_without_popularity_keeps_order)
{
    mock m = start_mock("403-nopop");
    fer_spotify *s = client(&m);
    fer_catalog *c = features();
    fer_playlist r;
    fer_error err;
    ck_assert_msg(run(s, NULL, 8, c, &r, &err) == FER_OK, "%s", err.msg);
    ck_assert_str_eq(r.source, "spotify-search");
    ck_assert_uint_eq(r.n, 8);
    ck_assert_str_eq(r.songs[0].track.id, "s000000000000000000003");
    const char *rest[5] = {"s000000000000000000000", "s000000000000000000001",
                           "s000000000000000000002", "s000000000000000000004",
                           "s000000000000000000006"};
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(r.songs[3 + i].track.id, rest[i]);
        ck_assert_int_eq(r.songs[3 + i].track.popularity, -1);
    }
    fer_playlist_free(&r);
    fer_catalog_free(c);
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(rate_limit_waits_retry_after)
{
    mock m = start_mock("429");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_msg(run(s, NULL, 2, NULL, &r, &err) == FER_OK, "%s", err.msg);
    ck_assert_uint_eq(r.n, 2);
    fer_playlist_free(&r);
    int token, api;
    stats(&m, &token, &api);
    ck_assert_int_eq(api, 2);
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(rate_limit_beyond_budget_fails)
{
    mock m = start_mock("429-long");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_int_eq(run(s, NULL, 2, NULL, &r, &err), FER_ENET);
    ck_assert_ptr_nonnull(strstr(err.msg, "429"));
    ck_assert_uint_eq(r.n, 0);
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A Retry-After beyond any budget (1e300 s, 1e17 s: the old delay in ms
 * overflowed a long and the sleep loop spun on EINVAL for ever) fails at
 * once. */
START_TEST(rate_limit_huge_retry_after_fails_at_once)
{
    const char *scenarios[2] = {"429-1e300", "429-1e17"};
    for (int i = 0; i < 2; i++) {
        mock m = start_mock(scenarios[i]);
        fer_spotify *s = client(&m);
        fer_playlist r;
        fer_error err;
        double t0 = now_s();
        ck_assert_int_eq(run(s, NULL, 2, NULL, &r, &err), FER_ENET);
        ck_assert_msg(now_s() - t0 < 10, "%s took %.1f s", scenarios[i], now_s() - t0);
        ck_assert_msg(strstr(err.msg, "429") && strstr(err.msg, "wait budget"), "%s", err.msg);
        int token, api;
        stats(&m, &token, &api);
        ck_assert_int_eq(api, 1);
        fer_spotify_free(s);
        stop_mock(&m);
    }
}
END_TEST

/* Spotify's text in a message: escapes and newlines replaced, what it
 * echoes of the credentials hidden (run() checks both). */
START_TEST(server_text_sanitised)
{
    const char *scenarios[2] = {"echo", "echo-token"};
    for (int i = 0; i < 2; i++) {
        mock m = start_mock(scenarios[i]);
        fer_spotify *s = client(&m);
        fer_playlist r;
        fer_error err;
        ck_assert_int_eq(run(s, NULL, 2, NULL, &r, &err), FER_ENET);
        ck_assert_msg(strstr(err.msg, "HTTP 400 (") && strstr(err.msg, "***"), "%s", err.msg);
        fer_spotify_free(s);
        stop_mock(&m);
    }
}
END_TEST

/* 60000 tracks in one response: only the first 100 are read (the malformed
 * last one never is), repeats dropped in order. */
START_TEST(long_response_cut)
{
    mock m = start_mock("many");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_msg(run(s, NULL, 50, NULL, &r, &err) == FER_OK, "%s", err.msg);
    ck_assert_uint_eq(r.n, 50);
    char want[32];
    for (size_t i = 0; i < r.n; i++) {
        snprintf(want, sizeof want, "m%021zu", i < 10 ? i : i + 20);
        ck_assert_str_eq(r.songs[i].track.id, want);
    }
    fer_playlist_free(&r);
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(server_error_retries_then_fails)
{
    mock m = start_mock("500");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_int_eq(run(s, NULL, 2, NULL, &r, &err), FER_ENET);
    ck_assert_ptr_nonnull(strstr(err.msg, "HTTP 500"));
    int token, api;
    stats(&m, &token, &api);
    ck_assert_int_eq(api, 3); /* first try + max_retries */
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(server_error_once_recovers)
{
    mock m = start_mock("500-once");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_msg(run(s, NULL, 2, NULL, &r, &err) == FER_OK, "%s", err.msg);
    fer_playlist_free(&r);
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(garbage_json)
{
    const char *scenarios[2] = {"garbage", "badtrack"};
    for (int i = 0; i < 2; i++) {
        mock m = start_mock(scenarios[i]);
        fer_spotify *s = client(&m);
        fer_playlist r;
        fer_error err;
        ck_assert_int_eq(run(s, NULL, 2, NULL, &r, &err), FER_EFORMAT);
        ck_assert_ptr_nonnull(strstr(err.msg, "/v1/recommendations"));
        ck_assert_ptr_null(r.songs);
        fer_spotify_free(s);
        stop_mock(&m);
    }
}
END_TEST

START_TEST(slow_server_times_out)
{
    mock m = start_mock("slow");
    fer_spotify *s = client(&m);
    fer_spotify_opts o;
    fer_spotify_opts_default(&o);
    o.timeout_ms = 500;
    o.max_retries = 1;
    o.backoff_ms = 10;
    ck_assert_int_eq(fer_spotify_set_opts(s, &o, NULL), FER_OK);
    fer_playlist r;
    fer_error err;
    ck_assert_int_eq(run(s, NULL, 2, NULL, &r, &err), FER_ENET);
    ck_assert_msg(strstr(err.msg, "imeout") || strstr(err.msg, "timed out"), "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "1 retries"));
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(empty_results)
{
    mock m = start_mock("empty");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_msg(run(s, NULL, 5, NULL, &r, &err) == FER_OK, "%s", err.msg);
    ck_assert_uint_eq(r.n, 0);
    fer_playlist_free(&r);
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(bad_credentials)
{
    mock m = start_mock("badauth");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_int_eq(run(s, NULL, 5, NULL, &r, &err), FER_ENET);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid_client"));
    ck_assert_ptr_nonnull(strstr(err.msg, "SPOTIFY_CLIENT_SECRET"));
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(oversized_body_refused)
{
    mock m = start_mock("big");
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_int_eq(run(s, NULL, 5, NULL, &r, &err), FER_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than"));
    fer_spotify_free(s);
    stop_mock(&m);
}
END_TEST

START_TEST(connection_refused)
{
    mock m = {0, -1, "http://127.0.0.1:1"};
    fer_spotify *s = client(&m);
    fer_playlist r;
    fer_error err;
    ck_assert_int_eq(run(s, NULL, 5, NULL, &r, &err), FER_ENET);
    ck_assert_ptr_nonnull(strstr(err.msg, "/api/token"));
    fer_spotify_free(s);
}
END_TEST

START_TEST(url_policy_and_arguments)
{
    fer_spotify *s;
    fer_error err;
    ck_assert_int_eq(fer_spotify_new("a", "b", "http://api.example.com", NULL, &s, &err), FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "https"));
    ck_assert_int_eq(fer_spotify_new("a", "b", "ftp://127.0.0.1", NULL, &s, &err), FER_EINVAL);
    ck_assert_int_eq(fer_spotify_new("a", "", NULL, NULL, &s, &err), FER_EINVAL);
    ck_assert_int_eq(fer_spotify_new("a", "b", "http://127.0.0.1.evil.com", NULL, &s, &err),
                     FER_EINVAL);
    /* The host is what libcurl parses: here 192.0.2.1, behind a user name. */
    const char *refused[] = {"http://127.0.0.1:80@192.0.2.1", "http://localhost@evil.example",
                             "https://user:pw@api.spotify.com", "https://api.spotify.com/?q=1",
                             "https://api.spotify.com/#x", "http://0177.0.0.1.example", "https://",
                             "http://[::2]:80", "api.spotify.com"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        ck_assert_msg(fer_spotify_new("a", "b", refused[i], NULL, &s, &err) == FER_EINVAL, "%s",
                      refused[i]);
        ck_assert_msg(fer_spotify_new("a", "b", NULL, refused[i], &s, &err) == FER_EINVAL, "%s",
                      refused[i]);
    }
    const char *allowed[] = {"http://127.0.0.1:8080/base/", "http://127.5.6.7", "http://[::1]:9",
                             "HTTP://LOCALHOST:1", "https://api.spotify.com/v0"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        ck_assert_msg(fer_spotify_new("a", "b", allowed[i], allowed[i], &s, &err) == FER_OK,
                      "%s: %s", allowed[i], err.msg);
        fer_spotify_free(s);
    }
    ck_assert_int_eq(fer_spotify_new("a", "b", NULL, "http://127.0.0.1:80@192.0.2.1", &s, &err),
                     FER_EINVAL);
    ck_assert_int_eq(fer_spotify_new("a", "b", NULL, "http://accounts.example.com", &s, &err),
                     FER_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "accounts"));
    /* the library reads no environment: NULL and "" are Spotify's own URLs */
    setenv("FER_SPOTIFY_ACCOUNTS_URL", "http://accounts.example.com", 1);
    ck_assert_int_eq(fer_spotify_new("a", "b", NULL, NULL, &s, &err), FER_OK);
    unsetenv("FER_SPOTIFY_ACCOUNTS_URL");
    fer_spotify_free(s);
    ck_assert_int_eq(fer_spotify_new("a", "b", "", "", &s, &err), FER_OK);
    fer_playlist r;
    ck_assert_int_eq(run(s, NULL, 0, NULL, &r, &err), FER_ERANGE);
    ck_assert_int_eq(run(s, NULL, 51, NULL, &r, &err), FER_ERANGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "outside 1..50"));
    fer_music_source *src = (fer_music_source *)s;
    ck_assert_int_eq(fer_music_source_spotify(NULL, NULL, &src, &err), FER_EINVAL);
    ck_assert_ptr_null(src);
    fer_spotify_opts o;
    fer_spotify_opts_default(&o);
    o.timeout_ms = 0;
    ck_assert_int_eq(fer_spotify_set_opts(s, &o, &err), FER_EINVAL);
    fer_spotify_free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("spotify");
    TCase *tc = tcase_create("mock");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, success_and_token_cache);
    tcase_add_test(tc, renews_token_once_on_401);
    tcase_add_test(tc, forbidden_falls_back_to_search);
    tcase_add_test(tc, not_found_falls_back_to_search);
    tcase_add_test(tc, search_without_popularity_keeps_order);
    tcase_add_test(tc, rate_limit_waits_retry_after);
    tcase_add_test(tc, rate_limit_beyond_budget_fails);
    tcase_add_test(tc, rate_limit_huge_retry_after_fails_at_once);
    tcase_add_test(tc, server_text_sanitised);
    tcase_add_test(tc, long_response_cut);
    tcase_add_test(tc, server_error_retries_then_fails);
    tcase_add_test(tc, server_error_once_recovers);
    tcase_add_test(tc, garbage_json);
    tcase_add_test(tc, slow_server_times_out);
    tcase_add_test(tc, empty_results);
    tcase_add_test(tc, bad_credentials);
    tcase_add_test(tc, oversized_body_refused);
    tcase_add_test(tc, connection_refused);
    tcase_add_test(tc, url_policy_and_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
