/* fer-serve's HTTP side (serve_http.h). libmicrohttpd's one polling thread
 * runs on_request for every step of a request: begin (headers in: route,
 * method, content type and length checked, an early answer when they are
 * wrong), receive (each piece of the body), finish (all of it in). A
 * request that needs computing is then suspended and queued; the worker
 * that takes it writes its answer and resumes it, and the polling thread
 * sends that answer. A slow client costs a socket, never a worker. */
#include "serve_http.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve_api.h"
#include "serve_queue.h"

enum { MAX_JSON_BODY = 1 << 20, MAX_STATIC_FILE = 8 << 20, FORM_BUFFER = 16 << 10,
       LISTEN_BACKLOG = 128 };

struct serve_server {
    const serve_config *cfg;
    struct MHD_Daemon *daemon;
    serve_queue *queue;
    int port;
    atomic_int in_flight; /* requests begun and not yet completed */
    atomic_int draining;
};

enum route_id { R_FILE, R_HEALTH, R_ANALYZE, R_RECOMMEND };

static const struct route {
    const char *path;
    enum route_id id;
    const char *allow; /* its methods, for 405's Allow header */
} routes[] = {
    {"/v1/health", R_HEALTH, "GET, HEAD"},
    {"/v1/analyze", R_ANALYZE, "POST"},
    {"/v1/recommend", R_RECOMMEND, "POST"},
};

/* The parameters of POST /v1/analyze, from the query or the form. */
enum { P_BPM, P_AGE, P_HR, N_PARAMS };
static const struct { const char *name; size_t max; } param_spec[N_PARAMS] = {
    {"bpm", 32}, {"age", 8}, {"hr", 4096}};

typedef struct request {
    serve_server *srv;
    struct MHD_Connection *conn;
    double start, deadline;
    enum route_id route;
    char client[64], method[16], path[128]; /* printable, for the log */
    char *body; /* the upload, or a form's image; NUL-terminated */
    size_t len, cap, max;
    struct MHD_PostProcessor *form;
    int have_image;
    char *param[N_PARAMS]; /* NUL-terminated; NULL when absent */
    size_t param_len[N_PARAMS];
    int fail_status; /* the first problem found (0: none), answered once the request is in */
    char fail_msg[256];
    const char *allow; /* the Allow header of a 405 */
    int too_slow;
    serve_answer answer; /* the worker's, once done */
    int done;
    int status; /* what was sent, for the log (0: nothing) */
    size_t bytes;
} request;

/* ------------------------------------------------------------ text */

/* src with bytes outside printable ASCII as '?', cut to fit cap. */
static void printable(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = src[i] > 0x20 && src[i] < 0x7F ? src[i] : '?';
    dst[i] = 0;
}

/* The media type of a Content-Type value (before any ';', any case) is type,
 * or starts with it when type ends with '/' ("image/"). */
static int media_is(const char *ct, const char *type)
{
    size_t n = strlen(type), end = strcspn(ct, "; \t");
    return type[n - 1] == '/' ? end > n && !strncasecmp(ct, type, n)
                              : end == n && !strncasecmp(ct, type, n);
}

static void client_address(struct MHD_Connection *c, char *buf, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(buf, cap, "-");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)cap);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)cap);
}

/* ------------------------------------------------------------ answers */

static void add_headers(const request *r, struct MHD_Response *resp, int status, const char *type,
                        const char *allow)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            !strncmp(type, "application/json", 16) ? "no-store" : "no-cache");
    if (!strncmp(type, "text/html", 9))
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; "
                                "media-src 'self' blob: mediastream:; frame-ancestors 'none'; "
                                "base-uri 'none'; form-action 'none'");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (atomic_load(&r->srv->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Queues data (release frees it, also on failure; NULL: static). */
static enum MHD_Result send_data(request *r, int status, const char *type, char *data, size_t len,
                                 MHD_ContentReaderFreeCallback release, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, data, release);
    if (!resp) {
        if (release)
            release(data);
        return MHD_NO;
    }
    add_headers(r, resp, status, type, allow);
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->bytes = len;
    return ok;
}

static void release_json(void *p) { cJSON_free(p); }

/* Sends a's JSON (taking it), or a fixed 503 when building it ran out of memory. */
static enum MHD_Result send_answer(request *r, serve_answer *a, const char *allow)
{
    static char oom[] = "{\"schema\":1,\"error\":\"out of memory\"}";
    char *json = a->json;
    a->json = NULL;
    if (!json)
        return send_data(r, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", oom, sizeof oom - 1,
                         NULL, NULL);
    return send_data(r, a->status, "application/json", json, a->len, release_json, allow);
}

static enum MHD_Result send_error(request *r, int status, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum MHD_Result send_error(request *r, int status, const char *allow, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    serve_answer a;
    serve_error(&a, status, "%s", msg);
    return send_answer(r, &a, allow);
}

/* Records the first problem found while reading a request; returns 0. */
static int fail(request *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(request *r, int status, const char *fmt, ...)
{
    if (r->fail_status)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fail_msg, sizeof r->fail_msg, fmt, ap);
    va_end(ap);
    r->fail_status = status;
    return 0;
}

/* ------------------------------------------------------------ static files */

static const struct { const char *ext, *type; } media_types[] = {
    {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},               {".png", "image/png"},
    {".ico", "image/x-icon"},                {".txt", "text/plain; charset=utf-8"}};

static const char *media_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof media_types / sizeof *media_types; i++)
        if (!strcmp(dot, media_types[i].ext))
            return media_types[i].type;
    return NULL;
}

/* A path below the web folder: segments of letters, digits, '.', '_', '-',
 * none empty or starting with '.' (no "..", no hidden files). */
static int safe_path(const char *rel)
{
    if (!*rel || strlen(rel) > 200)
        return 0;
    for (const char *seg = rel; *seg; seg += *seg == '/') {
        size_t n = strspn(seg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
        if (n == 0 || seg[0] == '.' || (seg[n] && seg[n] != '/'))
            return 0;
        seg += n;
    }
    return 1;
}

static enum MHD_Result send_file(request *r, const char *url)
{
    const char *rel = !strcmp(url, "/") ? "index.html" : url + 1;
    const char *type = url[0] == '/' && safe_path(rel) ? media_type(rel) : NULL;
    char path[4096];
    struct stat st;
    if (!type || snprintf(path, sizeof path, "%s/%s", r->srv->cfg->web_root, rel) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return send_error(r, MHD_HTTP_NOT_FOUND, NULL, "no such file: %s", r->path);
    char *data;
    size_t len;
    if (fer_file_read(path, MAX_STATIC_FILE, &data, &len, NULL) != FER_OK)
        return send_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s cannot be read", r->path);
    return send_data(r, MHD_HTTP_OK, type, data, len, free, NULL);
}

/* ------------------------------------------------------------ reading */

static int append(request *r, const char *data, size_t n)
{
    if (n > r->max - r->len)
        return fail(r, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than %zu bytes (--max-body)", r->max);
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64 << 10;
        cap = cap < r->len + n + 1 ? r->len + n + 1 : cap > r->max + 1 ? r->max + 1 : cap;
        char *b = realloc(r->body, cap);
        if (!b)
            return fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory reading the body");
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = 0;
    return 1;
}

/* Piece [off, off + n) of parameter key's value. */
static int add_param(request *r, const char *key, const char *data, uint64_t off, size_t n)
{
    int k = 0;
    while (k < N_PARAMS && strcmp(key, param_spec[k].name))
        k++;
    if (k == N_PARAMS) {
        char name[41];
        printable(name, sizeof name, key);
        return fail(r, MHD_HTTP_BAD_REQUEST, "unknown parameter '%s' (bpm, age, hr)", name);
    }
    if (off == 0 && r->param[k])
        return fail(r, MHD_HTTP_BAD_REQUEST, "%s given twice", key);
    if (!r->param[k] && !(r->param[k] = calloc(param_spec[k].max + 1, 1)))
        return fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory reading %s", key);
    if (n > param_spec[k].max - r->param_len[k])
        return fail(r, MHD_HTTP_BAD_REQUEST, "%s: longer than %zu bytes", key, param_spec[k].max);
    memcpy(r->param[k] + r->param_len[k], data, n);
    r->param_len[k] += n;
    return 1;
}

static enum MHD_Result on_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    return add_param(cls, key, value ? value : "", 0, value ? strlen(value) : 0) ? MHD_YES : MHD_NO;
}

static enum MHD_Result on_form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data, uint64_t off,
                                     size_t size)
{
    request *r = cls;
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    if (strcmp(key, "image"))
        return add_param(r, key, data, off, size) ? MHD_YES : MHD_NO;
    if (off == 0 && r->have_image)
        return fail(r, MHD_HTTP_BAD_REQUEST, "the form has two 'image' fields"), MHD_NO;
    r->have_image = 1;
    return append(r, data, size) ? MHD_YES : MHD_NO;
}

/* The parameters are text, and not empty. */
static int params_ok(request *r)
{
    for (int k = 0; k < N_PARAMS; k++)
        if (r->param[k] && (r->param_len[k] == 0 || strlen(r->param[k]) != r->param_len[k]))
            return fail(r, MHD_HTTP_BAD_REQUEST, "%s: empty or not text", param_spec[k].name);
    return 1;
}

/* ------------------------------------------------------------ the steps */

static enum MHD_Result send_health(request *r)
{
    const serve_config *cfg = r->srv->cfg;
    serve_answer a;
    serve_health(cfg->model_path, cfg->catalog, cfg->workers, serve_queue_waiting(r->srv->queue), &a);
    return send_answer(r, &a, NULL);
}

/* 1 when a body follows the headers. */
static int has_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strtoull(cl, NULL, 10) > 0) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static enum MHD_Result send_fail(request *r)
{
    return send_error(r, r->fail_status, r->allow, "%s", r->fail_msg);
}

/* A problem the headers show: answered at once when a body follows (it is
 * then not read, and the connection is closed), else when the request is
 * in (the connection stays open). */
static enum MHD_Result refuse(request *r)
{
    return has_body(r->conn) ? send_fail(r) : MHD_YES;
}

/* The checks a POST can fail before its body is read. */
static enum MHD_Result begin_upload(request *r)
{
    struct MHD_Connection *c = r->conn;
    const serve_config *cfg = r->srv->cfg;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char got[64];
    printable(got, sizeof got, ct ? ct : "none");
    r->max = r->route == R_ANALYZE || cfg->max_body < MAX_JSON_BODY ? cfg->max_body : MAX_JSON_BODY;
    int form = ct && media_is(ct, "multipart/form-data");
    if (r->route == R_RECOMMEND && !(ct && media_is(ct, "application/json")))
        fail(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
             "POST /v1/recommend takes Content-Type application/json, not %s", got);
    else if (r->route == R_ANALYZE && !form &&
             !(ct && (media_is(ct, "image/") || media_is(ct, "application/octet-stream"))))
        fail(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
             "POST /v1/analyze takes an image (Content-Type image/... or application/octet-stream) "
             "or a multipart/form-data form with an 'image' file, not %s", got);
    else if (cl && strtoull(cl, NULL, 10) > r->max)
        fail(r, MHD_HTTP_CONTENT_TOO_LARGE,
             "a body of %.20s bytes is larger than the %zu allowed (--max-body)", cl, r->max);
    else if (r->route == R_RECOMMEND && MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
        fail(r, MHD_HTTP_BAD_REQUEST,
             "POST /v1/recommend takes no query parameters: put them in the JSON body");
    else if (r->route == R_ANALYZE)
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_query_arg, r);
    if (!r->fail_status && form && !(r->form = MHD_create_post_processor(c, FORM_BUFFER, on_form_field, r)))
        fail(r, MHD_HTTP_BAD_REQUEST, "multipart/form-data without a boundary");
    return r->fail_status ? refuse(r) : MHD_YES;
}

static const struct route *find_route(const char *url)
{
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (!strcmp(url, routes[i].path))
            return &routes[i];
    return NULL;
}

/* The route and method of a request whose headers are in. */
static enum MHD_Result begin(serve_server *s, struct MHD_Connection *c, const char *url,
                             const char *method, void **ctx)
{
    request *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO; /* closes the connection */
    *ctx = r;
    atomic_fetch_add(&s->in_flight, 1);
    r->srv = s;
    r->conn = c;
    r->start = cli_now();
    r->deadline = r->start + s->cfg->timeout;
    client_address(c, r->client, sizeof r->client);
    printable(r->method, sizeof r->method, method);
    printable(r->path, sizeof r->path, url);
    if (atomic_load(&s->draining))
        return fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down"), refuse(r);
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    const struct route *rt = find_route(url);
    r->route = rt ? rt->id : R_FILE;
    r->allow = rt ? rt->allow : "GET, HEAD";
    if (!rt && !strncmp(url, "/v1/", 4))
        fail(r, MHD_HTTP_NOT_FOUND,
             "no such endpoint: %s (GET /v1/health, POST /v1/analyze, POST /v1/recommend)", r->path);
    else if (r->route == R_FILE || r->route == R_HEALTH ? !get : !post)
        fail(r, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: use %s", r->method, r->path, r->allow);
    else if (post)
        return begin_upload(r);
    else if (has_body(c))
        fail(r, MHD_HTTP_BAD_REQUEST, "%s %s takes no body", r->method, r->path);
    return r->fail_status ? refuse(r) : MHD_YES;
}

static enum MHD_Result receive(request *r, const char *data, size_t *size)
{
    if (cli_now() > r->deadline) {
        r->too_slow = 1; /* nothing can be sent while the body is arriving: close */
        return MHD_NO;
    }
    if (!r->fail_status) {
        if (!r->form)
            append(r, data, *size);
        else if (MHD_post_process(r->form, data, *size) != MHD_YES)
            fail(r, MHD_HTTP_BAD_REQUEST, "malformed multipart/form-data body");
    }
    *size = 0;
    return MHD_YES;
}

/* Runs on a worker: the answer, then the connection goes back to the polling thread. */
static void run_job(void *worker, void *job)
{
    request *r = job;
    const serve_worker *w = worker;
    const serve_config *cfg = r->srv->cfg;
    if (cli_now() > r->deadline) {
        serve_error(&r->answer, MHD_HTTP_SERVICE_UNAVAILABLE,
                    "busy: no worker was free within %u s (--timeout); try again", cfg->timeout);
    } else if (r->route == R_ANALYZE) {
        serve_heart_params p = {r->param[P_BPM], r->param[P_AGE], r->param[P_HR]};
        serve_analyze(w->analyzer, cfg->model_path, cfg->max_pixels, &p, r->body, r->len, &r->answer);
    } else {
        serve_music m = {w->spotify, cfg->spotify_only, cfg->offline};
        serve_recommend(&m, r->body ? r->body : "", r->len, &r->answer);
    }
    r->done = 1;
    MHD_resume_connection(r->conn);
}

/* Suspended until a worker has the answer; answered 503 at once when the queue is full. */
static enum MHD_Result enqueue(request *r)
{
    serve_server *s = r->srv;
    MHD_suspend_connection(r->conn);
    if (serve_queue_push(s->queue, r))
        return MHD_YES;
    if (atomic_load(&s->draining))
        serve_error(&r->answer, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down");
    else
        serve_error(&r->answer, MHD_HTTP_SERVICE_UNAVAILABLE,
                    "busy: %d workers at work and %zu requests waiting (--queue); try again",
                    s->cfg->workers, s->cfg->queue);
    r->done = 1;
    MHD_resume_connection(r->conn); /* on_request comes back and sends it */
    return MHD_YES;
}

static enum MHD_Result finish(request *r, const char *url)
{
    if (r->done)
        return send_answer(r, &r->answer, NULL);
    if (r->form) {
        int ok = MHD_destroy_post_processor(r->form) == MHD_YES;
        r->form = NULL;
        if (!ok)
            fail(r, MHD_HTTP_BAD_REQUEST, "malformed or truncated multipart/form-data body");
        else if (!r->have_image)
            fail(r, MHD_HTTP_BAD_REQUEST, "the form has no 'image' file field");
    }
    if (!r->fail_status)
        params_ok(r);
    if (r->fail_status)
        return send_fail(r);
    if (r->route == R_FILE)
        return send_file(r, url);
    return r->route == R_HEALTH ? send_health(r) : enqueue(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    (void)version;
    if (!*ctx)
        return begin(cls, c, url, method, ctx);
    return *size ? receive(*ctx, data, size) : finish(*ctx, url);
}

/* ------------------------------------------------------------ the log */

static const char *ending(const request *r, enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK: return "";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return " (idle for --timeout: closed)";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return " (server stopped)";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return " (client closed the connection)";
    default: return r->too_slow ? " (body not in within --timeout: closed)" : " (connection error)";
    }
}

/* One line: client, method, path (no query), status, body bytes, time. */
static void log_request(const request *r, enum MHD_RequestTerminationCode toe)
{
    char status[8] = "-", line[512];
    if (r->status)
        snprintf(status, sizeof status, "%d", r->status);
    snprintf(line, sizeof line, "fer-serve: %s %s %s %s %zu B %.1f ms%s\n", r->client, r->method,
             r->path, status, r->bytes, 1e3 * (cli_now() - r->start), ending(r, toe));
    fputs(line, stderr);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
    serve_server *s = cls;
    request *r = *ctx;
    (void)c;
    if (!r)
        return;
    log_request(r, toe);
    if (r->form)
        MHD_destroy_post_processor(r->form);
    for (int k = 0; k < N_PARAMS; k++)
        free(r->param[k]);
    free(r->body);
    cJSON_free(r->answer.json);
    free(r);
    *ctx = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[400];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = 0;
    fprintf(stderr, "fer-serve: microhttpd: %s\n", msg);
}

/* ------------------------------------------------------------ start, stop */

/* The bound listening socket (its family and port), or -1 with why. */
static int listen_on(const serve_config *cfg, int *family, int *port, char *why, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai;
    char service[16];
    snprintf(service, sizeof service, "%d", cfg->port);
    int e = getaddrinfo(cfg->host, service, &hints, &ai);
    if (e) {
        snprintf(why, cap, "--host %s: %s", cfg->host, gai_strerror(e));
        return -1;
    }
    int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, LISTEN_BACKLOG)) {
        snprintf(why, cap, "cannot listen on %s port %d: %s", cfg->host, cfg->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    *family = ai->ai_family;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(*family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                      : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int start_workers(serve_server *s, char *why, size_t cap)
{
    const serve_config *cfg = s->cfg;
    void **ctx = calloc((size_t)cfg->workers, sizeof *ctx);
    for (int i = 0; ctx && i < cfg->workers; i++)
        ctx[i] = &cfg->worker[i];
    int ok = ctx && serve_queue_new(cfg->workers, ctx, cfg->queue, run_job, &s->queue);
    if (!ok)
        snprintf(why, cap, "cannot start %d workers: %s", cfg->workers, strerror(ctx ? errno : ENOMEM));
    free(ctx);
    return ok;
}

int serve_start(const serve_config *cfg, serve_server **out, char *why, size_t cap)
{
    serve_server *s = calloc(1, sizeof *s);
    int family, fd;
    *out = NULL;
    if (!s)
        return snprintf(why, cap, "out of memory"), 0;
    s->cfg = cfg;
    if ((fd = listen_on(cfg, &family, &s->port, why, cap)) < 0 || !start_workers(s, why, cap)) {
        if (fd >= 0)
            close(fd);
        free(s);
        return 0;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, (MHD_LogCallback)on_mhd_log,
        NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
        cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout,
        MHD_OPTION_NOTIFY_COMPLETED, (MHD_RequestCompletedCallback)on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(why, cap, "libmicrohttpd could not start the server");
        serve_queue_free(s->queue);
        close(fd);
        free(s);
        return 0;
    }
    *out = s;
    return 1;
}

int serve_port(const serve_server *s) { return s->port; }

void serve_stop(serve_server *s)
{
    atomic_store(&s->draining, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    double until = cli_now() + 2.0 * s->cfg->timeout;
    struct timespec tick = {0, 10 * 1000 * 1000};
    while (atomic_load(&s->in_flight) > 0 && cli_now() < until)
        nanosleep(&tick, NULL);
    serve_queue_stop(s->queue); /* what still waits is answered; no connection stays suspended */
    MHD_stop_daemon(s->daemon);
    serve_queue_free(s->queue);
    free(s);
}
