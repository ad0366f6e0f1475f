/* Fuzz target: the Spotify client's request loop (libfer/music/spotify.c) behind a
 * scripted server: the token, retries on 429, 5xx and network errors after
 * Retry-After or a backoff, the token renewal on 401, the search fallback
 * and the messages built from what the server said. Like fuzz_spotify.c it
 * includes spotify.c, here to reach its transport seam (spotify_io): no
 * network is used and nothing sleeps, the waits are only checked.
 *
 * The input is the server's side: an optional first line
 * "opts BACKOFF_MS MAX_WAIT_MS MAX_RETRIES", then one record per request,
 * records separated by a line "%%". A record is a status line (an HTTP
 * status such as "429", or "!28" for libcurl error 28), header lines up to
 * an empty line, then the body. When the records run out the server is
 * gone (a libcurl error that is not retried). */
#include "../../libfer/music/spotify.c"

#include "fuzz.h"

#define SECRET "Zq9-fuzz-secret-Xw"

typedef struct script {
    const char *p, *end; /* the records not served yet */
    int calls;
} script;

/* The next line of [p, end) (without its newline) into [*line, *line_end);
 * returns where the line after it starts. */
static const char *next_line(const char *p, const char *end, const char **line_end)
{
    const char *q = p;
    while (q < end && *q != '\n')
        q++;
    *line_end = q;
    return q < end ? q + 1 : q;
}

/* The end of the record starting at p: its "\n%%" separator line, or end. */
static const char *record_end(const char *p, const char *end)
{
    for (const char *q = p; q + 3 <= end; q++)
        if (q[0] == '\n' && q[1] == '%' && q[2] == '%' && (q + 3 == end || q[3] == '\n'))
            return q;
    return end;
}

static CURLcode scripted_perform(fer_spotify *s, const request *q, response *r)
{
    script *sc = s->io.ctx;
    (void)q;
    if (sc->p >= sc->end || ++sc->calls > 64)
        return CURLE_COULDNT_RESOLVE_HOST;
    const char *end = record_end(sc->p, sc->end), *line_end;
    const char *p = next_line(sc->p, end, &line_end);
    char status[16] = "";
    size_t n = (size_t)(line_end - sc->p) < sizeof status - 1 ? (size_t)(line_end - sc->p)
                                                               : sizeof status - 1;
    memcpy(status, sc->p, n);
    sc->p = end + (end < sc->end ? 4 : 0); /* past "\n%%\n" */
    if (sc->p > sc->end)
        sc->p = sc->end;
    if (status[0] == '!')
        return (CURLcode)(atoi(status + 1) & 127);
    r->code = atol(status);
    while (p < end) { /* headers, as libcurl hands them over: with their newline */
        const char *h = p;
        p = next_line(p, end, &line_end);
        if (line_end == h)
            break;
        char line[512];
        size_t k = (size_t)(p - h) < sizeof line ? (size_t)(p - h) : sizeof line;
        memcpy(line, h, k);
        on_header(line, 1, k, r);
    }
    if (p < end && on_body((char *)p, 1, (size_t)(end - p), r) != (size_t)(end - p))
        return CURLE_WRITE_ERROR;
    return CURLE_OK;
}

/* Waits are not slept; each must be one the budget allows. */
static void scripted_sleep(fer_spotify *s, long ms)
{
    if (ms < 0 || ms > s->opts.max_wait_ms)
        abort();
}

/* "opts B W R" on the first line sets the retry options (when valid). */
static const char *read_opts(fer_spotify *s, const char *p, const char *end)
{
    const char *line_end;
    if (end - p < 5 || strncmp(p, "opts ", 5))
        return p;
    const char *next = next_line(p, end, &line_end);
    char line[96] = "";
    size_t n = (size_t)(line_end - p) < sizeof line - 1 ? (size_t)(line_end - p) : sizeof line - 1;
    memcpy(line, p, n);
    fer_spotify_opts o = s->opts;
    if (sscanf(line, "opts %ld %ld %d", &o.backoff_ms, &o.max_wait_ms, &o.max_retries) == 3)
        fer_spotify_set_opts(s, &o, NULL);
    return next;
}

/* What no message may hold: a control byte, the secret, the Basic credentials. */
static void check_message(const fer_spotify *s, const char *msg)
{
    for (const char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            abort();
    if (strstr(msg, SECRET) || strstr(msg, s->basic))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fer_spotify *s;
    if (fer_spotify_new("fuzz-id", SECRET, "http://127.0.0.1:9", "http://127.0.0.1:9", &s, NULL))
        return 0;
    script sc = {(const char *)data, (const char *)data + size, 0};
    sc.p = read_opts(s, sc.p, sc.end);
    s->io = (spotify_io){scripted_perform, scripted_sleep, &sc};
    fer_music_target t = {0.7, 0.7, 120, 0.6, 0.2, 0.15, 0.15, 15};
    spotify_result out;
    fer_error err = {0};
    if (spotify_recommend(s, &t, size % 2 ? "R&B" : NULL, 5, NULL, 0.15, &out, &err) == FER_OK) {
        if (out.n > 5)
            abort();
        spotify_result_free(&out);
    } else {
        check_message(s, err.msg);
    }
    fer_spotify_free(s);
    return 0;
}
