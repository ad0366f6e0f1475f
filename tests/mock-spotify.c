/* mock-spotify: a tiny single-threaded HTTP/1.1 stand-in for Spotify's
 * accounts and Web API, for tests only. Listens on 127.0.0.1 (port 0: the
 * kernel picks one, printed on stdout), serves one scenario:
 *
 *   mock-spotify SCENARIO [IDLE_SECONDS]
 *
 * ok, 401 (first token rejected by the API), 403 / 404 (recommendations
 * closed: search answers), 429 (Retry-After: 1 once), 429-long (Retry-After:
 * 120 always), 403-nopop (403, and search results without popularity),
 * 500 (always), 500-once, garbage (not JSON), badtrack (JSON of
 * the wrong shape), slow (API answers after 3 s), empty (no tracks), badauth
 * (token refused), big (a 5 MB body), 429-1e300 and 429-1e17 (Retry-After:
 * 1e300 or 100000000000000000 always), echo (the API's error message and
 * echo-token (the token refusal) quote the request's credentials among
 * terminal escapes and newlines), many (60000 recommendations in under
 * 4 MiB, repeats among the first 30, the last one malformed).
 *
 * GET /stats returns {"token":N,"api":N} (requests seen so far). It exits
 * when stdin closes or after IDLE_SECONDS (default 20) without a request,
 * so a test can never leave it running. Expected credentials: test-id /
 * test-secret. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Search: the largest page Spotify allows development-mode apps, and the
 * number of results there are. */
enum { MAX_REQUEST = 64 * 1024, SEARCH_LIMIT = 10, SEARCH_TOTAL = 25 };

typedef struct server {
    const char *scenario;
    int token_calls, api_calls;
} server;

typedef struct http_request {
    char method[8], path[2048];
    char auth[512];
    char body[1024];
} http_request;

static int is(const server *s, const char *name) { return strcmp(s->scenario, name) == 0; }

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int code, const char *extra_headers, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     code, strlen(body), extra_headers ? extra_headers : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

/* ---------------------------------------------------------------- parsing */

static const char *header_end(const char *buf, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (!memcmp(buf + i, "\r\n\r\n", 4))
            return buf + i + 4;
    return NULL;
}

static void header_value(const char *head, const char *name, char *out, size_t cap)
{
    out[0] = 0;
    size_t n = strlen(name);
    for (const char *p = head; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            p += n + 1;
            while (*p == ' ')
                p++;
            size_t k = strcspn(p, "\r\n");
            if (k >= cap)
                k = cap - 1;
            memcpy(out, p, k);
            out[k] = 0;
            return;
        }
    }
}

static int read_request(int fd, http_request *rq)
{
    static char buf[MAX_REQUEST + 1];
    size_t n = 0;
    const char *body = NULL;
    while (!body && n < MAX_REQUEST) {
        ssize_t r = recv(fd, buf + n, MAX_REQUEST - n, 0);
        if (r <= 0)
            return 0;
        n += (size_t)r;
        buf[n] = 0;
        body = header_end(buf, n);
    }
    if (!body || sscanf(buf, "%7s %2047s", rq->method, rq->path) != 2)
        return 0;
    char len[32];
    header_value(buf, "Content-Length", len, sizeof len);
    size_t want = (size_t)atol(len), have = n - (size_t)(body - buf);
    while (have < want && n < MAX_REQUEST) {
        ssize_t r = recv(fd, buf + n, MAX_REQUEST - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        have += (size_t)r;
    }
    buf[n] = 0;
    snprintf(rq->body, sizeof rq->body, "%s", body);
    header_value(buf, "Authorization", rq->auth, sizeof rq->auth);
    return 1;
}

/* The integer value of name=... in the query string, or def. */
static long query_long(const char *path, const char *name, long def)
{
    const char *q = strchr(path, '?');
    size_t n = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p + 1, '&'))
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=')
            return atol(p + 2 + n);
    return def;
}

static int query_has(const char *path, const char *name)
{
    char a[64], b[64];
    snprintf(a, sizeof a, "?%s=", name);
    snprintf(b, sizeof b, "&%s=", name);
    return strstr(path, a) || strstr(path, b);
}

/* ---------------------------------------------------------------- bodies */

static void base64(const char *in, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[k++] = t[v >> 18 & 63];
        out[k++] = t[v >> 12 & 63];
        out[k++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[k] = 0;
}

/* Track objects first..first+n-1, ids P000...0I (22 characters). */
static char *tracks_json(char prefix, long first, long n, int with_popularity)
{
    size_t cap = 256 + (size_t)n * 256;
    char *s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap, "[");
    for (long i = first; i < first + n; i++)
    {
        char pop[32] = "";
        if (with_popularity)
            snprintf(pop, sizeof pop, "\"popularity\":%ld,", (i * 7) % 101);
        k += (size_t)snprintf(s + k, cap - k,
                              "%s{\"id\":\"%c%021ld\",\"name\":\"Song \\\"%ld\\\" \\u00e9\","
                              "%s\"artists\":[{\"name\":\"Artist %ld\"}],"
                              "\"album\":{\"name\":\"x\"}}",
                              i > first ? "," : "", prefix, i, i, pop, i);
    }
    snprintf(s + k, cap - k, "]");
    return s;
}

static void serve_token(server *s, int fd, const http_request *rq)
{
    char basic[128], want[160];
    base64("test-id:test-secret", basic);
    snprintf(want, sizeof want, "Basic %s", basic);
    s->token_calls++;
    if (is(s, "echo-token")) {
        respond(fd, 400, NULL, "{\"error\":\"\\u001b]0;owned\\u0007you sent basic:"
                               "dGVzdC1pZDp0ZXN0LXNlY3JldA== (test-secret)\\nX-Injected: 1\"}");
        return;
    }
    if (is(s, "badauth") || strcmp(rq->auth, want) != 0 ||
        !strstr(rq->body, "grant_type=client_credentials")) {
        respond(fd, 401, NULL, "{\"error\":\"invalid_client\",\"error_description\":\"Invalid client\"}");
        return;
    }
    char body[160];
    snprintf(body, sizeof body,
             "{\"access_token\":\"tok%d\",\"token_type\":\"Bearer\",\"expires_in\":3600}",
             s->token_calls);
    respond(fd, 200, NULL, body);
}

/* Scenario behaviour shared by both API endpoints; returns 1 if it answered. */
static int api_trouble(server *s, int fd, const http_request *rq)
{
    if (strncmp(rq->auth, "Bearer tok", 10) != 0 || (is(s, "401") && !strcmp(rq->auth, "Bearer tok1"))) {
        respond(fd, 401, NULL, "{\"error\":{\"status\":401,\"message\":\"The access token expired\"}}");
        return 1;
    }
    if ((is(s, "429") && s->api_calls == 1) || !strncmp(s->scenario, "429-", 4)) {
        char retry[64];
        snprintf(retry, sizeof retry, "Retry-After: %s\r\n",
                 is(s, "429") ? "1" : is(s, "429-long") ? "120" : is(s, "429-1e300") ? "1e300"
                                                                   : "100000000000000000");
        respond(fd, 429, retry,
                "{\"error\":{\"status\":429,\"message\":\"API rate limit exceeded\"}}");
        return 1;
    }
    if (is(s, "echo")) {
        respond(fd, 400, NULL, "{\"error\":{\"status\":400,\"message\":\"\\u001b[2J\\u001b[31m"
                               "bad header Authorization: Bearer tok1\\r\\nsecret test-secret, "
                               "basic dGVzdC1pZDp0ZXN0LXNlY3JldA==\"}}");
        return 1;
    }
    if (is(s, "500") || (is(s, "500-once") && s->api_calls == 1)) {
        respond(fd, 500, NULL, "{\"error\":{\"status\":500,\"message\":\"Server error\"}}");
        return 1;
    }
    if (is(s, "slow"))
        sleep(3);
    if (is(s, "garbage")) {
        respond(fd, 200, NULL, "<html>Service Unavailable</html>");
        return 1;
    }
    if (is(s, "badtrack")) {
        respond(fd, 200, NULL, "{\"tracks\":[{\"id\":42,\"name\":[]}],"
                               "\"items\":{\"tracks\":{\"items\":5}}}");
        return 1;
    }
    if (is(s, "big")) {
        size_t n = 5u << 20;
        char *b = malloc(n + 1);
        memset(b, ' ', n);
        b[0] = '{';
        b[n - 1] = '}';
        b[n] = 0;
        respond(fd, 200, NULL, b);
        free(b);
        return 1;
    }
    return 0;
}

/* 60000 short tracks (4.0 MB): ids m..0 to m..9 three times over,
 * then m..30 onwards, the last one malformed. A client that reads them all
 * pays for it, and fails. */
static void serve_many(int fd)
{
    enum { N = 60000 };
    size_t cap = 64 + (size_t)N * 72, k = 0; /* 67 bytes a track */
    char *b = malloc(cap);
    k += (size_t)snprintf(b, cap, "{\"tracks\":[");
    for (long i = 0; i < N - 1; i++)
        k += (size_t)snprintf(b + k, cap - k, "{\"id\":\"m%021ld\",\"name\":\"\",\"artists\":"
                              "[{\"name\":\"\"}]},", i < 30 ? i % 10 : i);
    snprintf(b + k, cap - k, "{\"id\":42}]}");
    respond(fd, 200, NULL, b);
    free(b);
}

static void serve_api(server *s, int fd, const http_request *rq)
{
    s->api_calls++;
    if (api_trouble(s, fd, rq))
        return;
    if (is(s, "many")) {
        serve_many(fd);
        return;
    }
    int recs = strncmp(rq->path, "/v1/recommendations?", 20) == 0;
    if (recs && (is(s, "403") || is(s, "404") || is(s, "403-nopop"))) {
        respond(fd, atoi(s->scenario), NULL,
                "{\"error\":{\"status\":403,\"message\":\"Forbidden\"}}");
        return;
    }
    long limit = query_long(rq->path, "limit", -1), offset = query_long(rq->path, "offset", 0);
    if (limit < 1 || limit > (recs ? 100 : SEARCH_LIMIT) || offset < 0 ||
        (recs && (!query_has(rq->path, "seed_genres") || !query_has(rq->path, "target_valence") ||
                  !query_has(rq->path, "target_energy") || !query_has(rq->path, "target_tempo"))) ||
        (!recs && (!strstr(rq->path, "type=track") || !strstr(rq->path, "q=")))) {
        respond(fd, 400, NULL, "{\"error\":{\"status\":400,\"message\":\"Bad request\"}}");
        return;
    }
    /* Search has SEARCH_TOTAL results in all, served a page at a time. */
    long n = is(s, "empty") ? 0 : recs ? limit : offset >= SEARCH_TOTAL ? 0
             : (offset + limit > SEARCH_TOTAL ? SEARCH_TOTAL - offset : limit);
    char *tracks = tracks_json(recs ? 'r' : 's', offset, n, !is(s, "403-nopop"));
    size_t cap = strlen(tracks) + 128;
    char *body = malloc(cap);
    if (recs)
        snprintf(body, cap, "{\"tracks\":%s,\"seeds\":[]}", tracks);
    else
        snprintf(body, cap, "{\"tracks\":{\"href\":\"x\",\"items\":%s,\"total\":%d}}", tracks,
                 SEARCH_TOTAL);
    respond(fd, 200, NULL, body);
    free(body);
    free(tracks);
}

static void serve(server *s, int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    http_request rq;
    memset(&rq, 0, sizeof rq);
    if (!read_request(fd, &rq))
        return;
    if (!strcmp(rq.method, "POST") && !strcmp(rq.path, "/api/token")) {
        serve_token(s, fd, &rq);
    } else if (!strcmp(rq.method, "GET") && !strcmp(rq.path, "/stats")) {
        char body[96];
        snprintf(body, sizeof body, "{\"token\":%d,\"api\":%d}", s->token_calls, s->api_calls);
        respond(fd, 200, NULL, body);
    } else if (!strcmp(rq.method, "GET") && (!strncmp(rq.path, "/v1/recommendations?", 20) ||
                                             !strncmp(rq.path, "/v1/search?", 11))) {
        serve_api(s, fd, &rq);
    } else {
        respond(fd, 404, NULL, "{\"error\":{\"status\":404,\"message\":\"Not found\"}}");
    }
}

static int listen_loopback(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("mock-spotify: listen");
        exit(1);
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mock-spotify SCENARIO [IDLE_SECONDS]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    server s = {argv[1], 0, 0};
    int idle_ms = (argc > 2 ? atoi(argv[2]) : 20) * 1000;
    int lfd = listen_loopback();
    struct pollfd p[2] = {{lfd, POLLIN, 0}, {0, POLLIN, 0}};
    for (;;) {
        int k = poll(p, 2, idle_ms);
        if (k == 0)
            return 0; /* idle too long */
        if (k < 0 && errno != EINTR)
            return 1;
        if (p[1].revents) { /* stdin closed (or written to): the test is done */
            char c;
            if (read(0, &c, 1) <= 0)
                return 0;
        }
        if (p[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                serve(&s, fd);
                close(fd);
            }
        }
    }
}
