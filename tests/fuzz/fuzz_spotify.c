/* Fuzz target: the Spotify Web API response handling (libfer/music/spotify.c):
 * the header and body callbacks given to libcurl, the token response, and
 * the recommendations and search bodies. They are static and reached only
 * through libcurl, so this file includes spotify.c itself to call them on a
 * buffer; the library's spotify.o is then not linked (every symbol it
 * defines is defined here already). */
#include "../../libfer/music/spotify.c"

#include "fuzz.h"

static void parse_as_tracks(const response *r, int search)
{
    spotify_result out = {0};
    fer_error err;
    parse_body(r, search ? "GET /v1/search" : "GET /v1/recommendations", search, &out, &err);
    spotify_result_free(&out);
}

static void parse_as_token(const response *r)
{
    fer_spotify s;
    memset(&s, 0, sizeof s);
    fer_error err;
    parse_token(&s, r, &err);
}

/* The libcurl callbacks: every line as a response header (Retry-After), and
 * the bytes as a body arriving in 7-byte pieces under a 4 KiB cap. */
static void as_callbacks(const uint8_t *data, size_t size)
{
    response r = {200, NULL, 0, 4096, 0, -1};
    char *copy = fuzz_cstring(data, size);
    if (!copy)
        return;
    for (size_t at = 0, end; at < size; at = end) {
        for (end = at; end < size && copy[end] != '\n'; end++)
            ;
        end += end < size; /* the line keeps its newline, as libcurl passes it */
        on_header(copy + at, 1, end - at, &r);
    }
    for (size_t at = 0; at < size; at += 7) {
        size_t n = size - at < 7 ? size - at : 7;
        if (on_body(copy + at, 1, n, &r) != n)
            break;
    }
    free(r.body);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_callbacks(data, size);
    /* The body as libcurl's callback leaves it: bytes plus a NUL. */
    char *body = fuzz_cstring(data, size);
    if (!body)
        return 0;
    response r = {200, body, size, size + 1, 0, -1};
    parse_as_tracks(&r, 0);
    parse_as_tracks(&r, 1);
    parse_as_token(&r);
    free(body);
    return 0;
}
