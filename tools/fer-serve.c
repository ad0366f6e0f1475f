/* fer-serve: the face pipeline and the recommender over HTTP, and the web
 * page that uses them (docs/tools.md, "fer-serve"). The models, the cascade
 * and the catalogue are loaded once at start and shared by the worker
 * threads; each worker has its own analyzer working memory (fer_analyzer_share),
 * and its own Spotify client when Spotify is used. SIGTERM or SIGINT: no new
 * connections, the requests in progress are answered, exit 0. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "music.h"
#include "opt.h"
#include "serve_http.h"

static const char *prog = "fer-serve";

enum { EXIT_OK = 0, EXIT_START = 1, EXIT_USAGE = 2 };

#define CLI_WEB_INDEX "web/index.html"

typedef struct options {
    const char *host, *weights, *verifier, *cascade, *catalog, *web;
    long port, threads, queue, timeout, max_connections, max_pixels;
    int source; /* CLI_SOURCE_* */
    size_t max_body;
    double min_score;
    fer_tta tta;
} options;

static void usage_text(FILE *out)
{
    fprintf(out,
            "usage: fer-serve [options]\n"
            "Serves the face pipeline and the recommender over HTTP, and the web page:\n"
            "  GET  /                 the page (webcam, heart-rate strap, playlist)\n"
            "  POST /v1/analyze       an image (or a multipart form with an 'image' file;\n"
            "                         ?bpm=, ?age=, ?hr=70,72,75): fer-predict's JSON\n"
            "  POST /v1/recommend     JSON with a state, an emotion or probabilities:\n"
            "                         fer-recommend's JSON\n"
            "  GET  /v1/health        status\n"
            "  --host ADDR          address to listen on (default 127.0.0.1)\n"
            "  --port N             port (default 8080; 0: any free one, printed on stderr)\n"
            "  --threads N          workers, sharing the models (default: all CPUs\n"
            "                       or $FER_THREADS)\n"
            "  --queue N            requests that may wait for a worker; more get 503 (16)\n"
            "  --max-body BYTES     largest upload, e.g. 16M, 512K (default 16M)\n"
            "  --max-pixels N       largest decoded image (default 25000000)\n"
            "  --timeout S          seconds a connection may idle, a request may take to\n"
            "                       arrive, and wait for a worker (default 10)\n"
            "  --max-connections N  open connections at most (default 256)\n"
            CLI_WEIGHTS_HELP
            "  --verifier W         face verifier (default: the shipped %s)\n"
            "  --cascade XML        OpenCV Haar cascade (default %s)\n"
            "  --min-score S        faces the verifier scores below S (0..1) are dropped (0.9)\n"
            CLI_TTA_HELP
            "  --catalog FILE       the songs (default: the shipped %s)\n"
            "  --source S           offline or spotify (default: spotify when SPOTIFY_CLIENT_ID\n"
            "                       and SPOTIFY_CLIENT_SECRET are set, else offline); Spotify\n"
            "                       failing falls back to the catalogue unless asked for\n"
            "  --web DIR            the page's folder (default: the shipped web/)\n"
            "Every error is answered {\"error\": \"...\"} with a 4xx or 5xx status; one access\n"
            "log line per request on stderr.\n"
            "Exit status: 0 stopped by SIGTERM or SIGINT after answering the requests in\n"
            "progress, 1 could not start (a file that cannot be loaded, an address in use),\n"
            "2 usage error.\n",
            CLI_WEIGHTS, CLI_VERIFIER, FER_DEFAULT_CASCADE, CLI_CATALOG);
    cli_help_common(out);
    fputs("  SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET  credentials for the Spotify Web API\n"
          "  FER_SPOTIFY_API_URL, FER_SPOTIFY_ACCOUNTS_URL  other endpoints (https, or http\n"
          "                       to this machine only; for tests)\n",
          out);
}

/* ------------------------------------------------------------ arguments */

enum { O_HOST, O_PORT, O_THREADS, O_QUEUE, O_MAX_BODY, O_MAX_PIXELS, O_TIMEOUT, O_MAX_CONN,
       O_WEIGHTS, O_VERIFIER, O_CASCADE, O_MINSCORE, O_CATALOG, O_WEB, O_SOURCE, O_TTA };

static const cli_opt option_list[] = {
    {"--host", CLI_VALUE},      {"--port", CLI_VALUE},       {"--threads", CLI_VALUE},
    {"--queue", CLI_VALUE},     {"--max-body", CLI_VALUE},   {"--max-pixels", CLI_VALUE},
    {"--timeout", CLI_VALUE},   {"--max-connections", CLI_VALUE}, {"--weights", CLI_VALUE},
    {"--verifier", CLI_VALUE},  {"--cascade", CLI_VALUE},    {"--min-score", CLI_VALUE},
    {"--catalog", CLI_VALUE},   {"--web", CLI_VALUE},        {"--source", CLI_VALUE},
    {"--tta", CLI_OPTIONAL},    {NULL, CLI_FLAG}};

/* "16M", "512K", "1G" (binary units) or plain bytes, 1 KiB..1 GiB. */
static int parse_bytes(const char *s, size_t *out)
{
    static const char units[] = "KMG";
    size_t n = strlen(s);
    const char *u = n > 1 ? strchr(units, s[n - 1]) : NULL;
    char num[32];
    long v;
    if (n >= sizeof num)
        return 0;
    memcpy(num, s, n + 1);
    if (u)
        num[n - 1] = 0;
    if (!cli_parse_long(num, 1, 1L << 30, &v))
        return 0;
    size_t bytes = (size_t)v << (u ? 10 * (u - units + 1) : 0);
    if (bytes < 1024 || bytes > (size_t)1 << 30)
        return 0;
    *out = bytes;
    return 1;
}

static int set_option(void *ctx, int k, const char *v)
{
    options *o = ctx;
    const char *name = option_list[k].name;
    switch (k) {
    case O_HOST: o->host = v; return 1;
    case O_PORT: return cli_opt_long(prog, name, v, 0, 65535, &o->port);
    case O_THREADS: return cli_opt_long(prog, name, v, 1, 256, &o->threads);
    case O_QUEUE: return cli_opt_long(prog, name, v, 1, 100000, &o->queue);
    case O_MAX_PIXELS: return cli_opt_long(prog, name, v, 1000, 1000000000, &o->max_pixels);
    case O_TIMEOUT: return cli_opt_long(prog, name, v, 1, 3600, &o->timeout);
    case O_MAX_CONN: return cli_opt_long(prog, name, v, 1, 65536, &o->max_connections);
    case O_MAX_BODY:
        return parse_bytes(v, &o->max_body) ||
               cli_bad_value(prog, name, v, "a size 1K..1G (bytes, or with K, M, G)");
    case O_MINSCORE:
        return cli_parse_double(v, 0, 1, &o->min_score) || cli_bad_value(prog, name, v, "a score 0..1");
    case O_TTA: return cli_parse_tta(prog, name, v, &o->tta);
    case O_WEIGHTS: o->weights = v; return 1;
    case O_VERIFIER: o->verifier = v; return 1;
    case O_CASCADE: o->cascade = v; return 1;
    case O_CATALOG: o->catalog = v; return 1;
    case O_WEB: o->web = v; return 1;
    case O_SOURCE:
        return cli_parse_source(v, &o->source) || cli_bad_value(prog, name, v, "offline or spotify");
    }
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    fer_analyzer_opts ad; /* the library's defaults for what the options leave alone */
    fer_analyzer_opts_default(&ad);
    *o = (options){.host = "127.0.0.1", .port = 8080, .threads = 0,
                   .queue = 16, .timeout = 10, .max_connections = 256, .max_pixels = 25000000,
                   .max_body = 16 << 20, .min_score = ad.min_score, .tta = ad.tta};
    cli_spec spec = {prog, usage_text, option_list, 0};
    return cli_parse(&spec, argc, argv, set_option, o);
}

/* ------------------------------------------------------------ resources */

typedef struct context {
    options opt;
    char weights[4096], verifier[4096], catalog[4096], web[4096];
    serve_worker *workers;
    int n_analyzers;
    cli_spotify *spotify; /* one a worker, when Spotify is used */
    fer_catalog *cat;
    fer_music_source *offline;
} context;

/* The file the user named, or the shipped one; 0 after the error line. */
static int data_file(const char *given, const char *rel, const char *what, const char *option,
                     char *buf, size_t cap)
{
    if (given) {
        snprintf(buf, cap, "%s", given);
        return 1;
    }
    if (cli_data_path(rel, buf, cap))
        return 1;
    cli_error(prog, "no %s found: %s does not exist (pass %s)", what, buf, option);
    return 0;
}

static int load_analyzers(context *cx)
{
    const options *o = &cx->opt;
    fer_analyzer_opts ao;
    fer_analyzer_opts_default(&ao);
    ao.emotion_model = cx->weights;
    ao.verifier_model = cx->verifier;
    ao.cascade = o->cascade;
    ao.min_score = o->min_score;
    ao.tta = o->tta;
    ao.threads = 1; /* the workers are the parallelism */
    cx->workers = calloc((size_t)o->threads, sizeof *cx->workers);
    if (!cx->workers)
        return cli_error(prog, "out of memory"), 0;
    /* loaded once; the other workers share its models and cascade */
    for (; cx->n_analyzers < o->threads; cx->n_analyzers++) {
        fer_error err = {0};
        fer_analyzer **a = &cx->workers[cx->n_analyzers].analyzer;
        fer_status s = cx->n_analyzers ? fer_analyzer_share(cx->workers[0].analyzer, a, &err)
                                       : fer_analyzer_new(&ao, a, &err);
        if (s != FER_OK)
            return cli_error(prog, "%s%s", err.msg,
                             !o->cascade && strstr(err.msg, FER_DEFAULT_CASCADE)
                                 ? " (install opencv-data, or pass --cascade XML)" : ""), 0;
    }
    return 1;
}

static int load_catalog(context *cx)
{
    size_t bad;
    fer_error err = {0};
    if (fer_catalog_load(cx->catalog, &cx->cat, &bad, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), 0;
    if (bad)
        fprintf(stderr, "%s: warning: %zu bad rows skipped; first: %s\n", prog, bad,
                fer_catalog_first_bad(cx->cat));
    if (fer_music_source_catalog(cx->cat, &cx->offline, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), 0;
    return 1;
}

/* A Spotify client a worker, as fer-recommend makes its one (cli_spotify_open;
 * no request is made yet), each request bounded by --timeout. A client that
 * cannot be made is an error with --source spotify; else the catalogue
 * answers alone. */
static int open_spotify(context *cx)
{
    const options *o = &cx->opt;
    if (!cli_spotify_wanted(o->source))
        return 1;
    cx->spotify = calloc((size_t)o->threads, sizeof *cx->spotify);
    if (!cx->spotify)
        return cli_error(prog, "out of memory"), 0;
    for (long i = 0; i < o->threads; i++) {
        fer_error err = {0};
        if (cli_spotify_open(cx->cat, o->timeout * 1000, &cx->spotify[i], &err) != FER_OK) {
            cli_error(prog, "Spotify: %s", err.msg);
            if (o->source == CLI_SOURCE_SPOTIFY)
                return 0;
            fprintf(stderr, "%s: answering from the offline catalogue only\n", prog);
            for (long k = 0; k < i; k++) {
                cli_spotify_close(&cx->spotify[k]);
                cx->workers[k].spotify = NULL;
            }
            free(cx->spotify);
            cx->spotify = NULL;
            return 1;
        }
        cx->workers[i].spotify = cx->spotify[i].source;
    }
    return 1;
}

/* The folder of the page: --web DIR, or that of the shipped web/index.html. */
static int find_web(context *cx)
{
    char index[4096];
    if (cx->opt.web)
        snprintf(index, sizeof index, "%s/index.html", cx->opt.web);
    if (cx->opt.web ? access(index, R_OK) != 0 : !cli_data_path(CLI_WEB_INDEX, index, sizeof index))
        return cli_error(prog, "no web page: %s does not exist (pass --web DIR)", index), 0;
    snprintf(cx->web, sizeof cx->web, "%.*s", (int)(strrchr(index, '/') - index), index);
    return 1;
}

static int load(context *cx)
{
    const options *o = &cx->opt;
    char wbuf[sizeof cx->weights];
    const char *weights = cli_weights_file(prog, o->weights, wbuf, sizeof wbuf);
    if (!weights)
        return 0;
    snprintf(cx->weights, sizeof cx->weights, "%s", weights);
    return data_file(o->verifier, CLI_VERIFIER, "verifier", "--verifier FILE", cx->verifier, sizeof cx->verifier) &&
           data_file(o->catalog, CLI_CATALOG, "catalogue", "--catalog FILE", cx->catalog, sizeof cx->catalog) &&
           find_web(cx) && load_catalog(cx) && load_analyzers(cx) && open_spotify(cx);
}

static void unload(context *cx)
{
    for (int i = 0; cx->spotify && i < cx->opt.threads; i++)
        cli_spotify_close(&cx->spotify[i]);
    free(cx->spotify);
    for (int i = cx->n_analyzers - 1; i >= 0; i--) /* worker 0's models last: the others share them */
        fer_analyzer_free(cx->workers[i].analyzer);
    free(cx->workers);
    fer_music_source_free(cx->offline);
    fer_catalog_free(cx->cat);
}

/* ------------------------------------------------------------ serving */

/* Serves until SIGTERM or SIGINT (blocked in every thread, taken here). */
static int serve(context *cx, const sigset_t *stop)
{
    const options *o = &cx->opt;
    serve_config cfg = {o->host, (int)o->port, (int)o->threads, cx->workers, cx->weights,
                        cx->cat, cx->offline, o->source == CLI_SOURCE_SPOTIFY, cx->web,
                        (size_t)o->queue, o->max_body, (size_t)o->max_pixels,
                        (unsigned)o->timeout, (unsigned)o->max_connections};
    serve_server *srv;
    char why[512];
    if (!serve_start(&cfg, &srv, why, sizeof why))
        return cli_error(prog, "%s", why), EXIT_START;
    int v6 = strchr(o->host, ':') != NULL;
    fprintf(stderr, "%s: listening on http://%s%s%s:%d/ (%ld workers, %zu tracks%s)\n", prog,
            v6 ? "[" : "", o->host, v6 ? "]" : "", serve_port(srv), o->threads,
            fer_catalog_size(cx->cat), cx->spotify ? ", songs from Spotify" : "");
    int sig = 0;
    sigwait(stop, &sig);
    fprintf(stderr, "%s: %s: finishing the requests in progress\n", prog,
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    serve_stop(srv);
    fprintf(stderr, "%s: stopped\n", prog);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    context cx = {0};
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any thread starts: all inherit it */
    signal(SIGPIPE, SIG_IGN);
    cli_start();
    int rc = parse_args(argc, argv, &cx.opt);
    if (rc == CLI_GO && !cli_threads(prog, &cx.opt.threads))
        rc = EXIT_USAGE;
    if (cx.opt.threads == 0) /* neither --threads nor FER_THREADS: a worker per CPU */
        cx.opt.threads = fer_threads_default();
    if (rc == CLI_GO)
        rc = load(&cx) ? serve(&cx, &stop) : EXIT_START;
    unload(&cx);
    if (rc == CLI_DONE)
        rc = EXIT_OK;
    return cli_stdout_ok(prog) ? rc : EXIT_START;
}
