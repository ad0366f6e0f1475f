/* fer-serve's HTTP side on libmicrohttpd (docs/tools.md, "fer-serve"): one
 * thread reads requests and writes answers, the workers (serve_queue.h, one
 * analyzer each) compute them; routes, limits, the web page's static files
 * and the access log. */
#ifndef FER_SERVE_HTTP_H
#define FER_SERVE_HTTP_H

#include <stddef.h>

#include "fer.h"

/* What one worker computes with, its own: neither an analyzer nor a Spotify
 * client may be used by two threads at once. */
typedef struct serve_worker {
    fer_analyzer *analyzer;
    fer_music_source *spotify; /* NULL: the offline catalogue only */
} serve_worker;

typedef struct serve_config {
    const char *host;          /* numeric address or name to bind */
    int port;                  /* 0: any free port (serve_port tells which) */
    int workers;               /* threads, one worker[i] each */
    serve_worker *worker;
    const char *model_path;    /* the emotion model, for the JSON's "model" */
    const fer_catalog *catalog;
    fer_music_source *offline; /* over catalog, shared (it only reads it) */
    int spotify_only;          /* --source spotify: a Spotify failure is not covered by offline */
    const char *web_root;      /* the folder GET / serves */
    size_t queue;              /* requests that may wait for a worker */
    size_t max_body;           /* bytes of an upload */
    size_t max_pixels;         /* of a decoded image */
    unsigned timeout;          /* seconds: idle connection, whole request upload, queue wait */
    unsigned max_connections;
} serve_config;

typedef struct serve_server serve_server;

/* Binds and starts answering; 0 with the reason in why ("cannot listen on
 * 127.0.0.1:8080: Address already in use"). cfg and what it points to must
 * outlive the server. */
int serve_start(const serve_config *cfg, serve_server **out, char *why, size_t cap);
int serve_port(const serve_server *s);
/* Stops accepting, lets the requests in progress finish (for at most twice
 * the timeout), answers new ones on open connections 503, then stops and
 * frees s. */
void serve_stop(serve_server *s);

#endif
