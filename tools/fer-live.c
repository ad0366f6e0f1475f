/* fer-live: a video file, a camera or a stream on stdin in; the smoothed
 * emotional state, the heart rate and a playlist that follows them out
 * (docs/tools.md, "fer-live"; docs/live.md). Video decoding is tools/video.c
 * (FFmpeg); the live loop, the tracking and the heart-rate stream are
 * libfer's (fer_live, fer_hr_stream). SIGINT: the current second is
 * finished, everything flushed, exit 0. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "faces_json.h"
#include "json.h"
#include "music.h"
#include "opt.h"
#include "video.h"

static const char *prog = "fer-live";

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

typedef struct options {
    const char *source, *m3u, *hr_stream, *bpm_text, *catalog, *genre, *annotate;
    int json, realtime, age;
    double resting_bpm, hr_timeout, min_score, tilt;
    fer_tta tta;
    long threads, limit, max_frames;
    fer_strategy strategy;
    fer_live_opts live;
    const char *weights, *verifier, *cascade;
} options;

static void usage_text(FILE *out)
{
    fprintf(out,
            "usage: fer-live [options] SOURCE\n"
            "Follows the face in a video file (any container and codec FFmpeg reads), a\n"
            "camera (/dev/video0) or a stream on stdin (-, e.g. y4m or MJPEG): the face is\n"
            "tracked between full detections, its emotion smoothed over time and fused with\n"
            "the heart rate into a state (docs/live.md), and a playlist follows each change.\n"
            "  --json               JSON Lines: an object a second of media time, and one\n"
            "                       at each playlist change\n"
            "  --m3u FILE           rewrite this M3U playlist (atomically) at each change\n"
            "  --annotate-video OUT the video with boxes, scores and the state drawn (.mp4,\n"
            "                       .mkv or .avi)\n"
            "  --realtime           a file at its own pace (default: as fast as possible)\n"
            "  --max-frames N       stop after N frames\n"
            "  --bpm N              a fixed heart rate, beats per minute\n"
            "  --hr-stream FILE     heart rate lines as they arrive (a file, FIFO, - or a\n"
            "                       serial device): bpm, seconds,bpm, RR ms or BLE 0x2A37 hex\n"
            "  --hr-timeout S       no heart-rate line for S seconds: the face alone (5)\n"
            "  --age N              years, for the resting range (default adult: 60-100 bpm)\n"
            "  --resting-bpm N      personal resting heart rate (overrides --age)\n"
            "  --smooth S           time constant of the smoothing, seconds (0.5)\n"
            "  --hold S             a new emotion must last S seconds to replace the state (0.7)\n"
            "  --detect-every N     full detection every N frames, tracking between (10)\n"
            "  --tilt D             also search faces turned by +-D degrees (default 0)\n"
            CLI_TTA_HELP
            "  --min-score S        faces the verifier scores below S (0..1) are dropped (0.9)\n"
            CLI_WEIGHTS_HELP
            "  --verifier W         face verifier (default: the shipped %s)\n"
            "  --cascade XML        OpenCV Haar cascade (default %s)\n"
            "  --catalog FILE       the songs (default: the shipped %s)\n"
            "  --strategy S         match (music that fits the mood, default) or uplift\n"
            "  --genre G[,G...]     only these genres\n"
            "  --limit N            songs in the playlist, 1..100 (default 10)\n"
            "  --threads N          inference threads (default 1)\n"
            "Exit status: 0 the end of the source (or SIGINT), 1 the source, a model or an\n"
            "output failed, 2 usage error.\n",
            CLI_WEIGHTS, CLI_VERIFIER, FER_DEFAULT_CASCADE, CLI_CATALOG);
    cli_help_common(out);
}

/* ------------------------------------------------------------ arguments */

enum { O_JSON, O_M3U, O_ANNOTATE, O_REALTIME, O_MAX_FRAMES, O_BPM, O_HR_STREAM, O_HR_TIMEOUT,
       O_AGE, O_RESTING, O_SMOOTH, O_HOLD, O_DETECT_EVERY, O_TILT, O_MINSCORE, O_WEIGHTS,
       O_VERIFIER, O_CASCADE, O_CATALOG, O_STRATEGY, O_GENRE, O_LIMIT, O_THREADS, O_TTA };

static const cli_opt option_list[] = {
    {"--json", CLI_FLAG},          {"--m3u", CLI_VALUE},          {"--annotate-video", CLI_VALUE},
    {"--realtime", CLI_FLAG},      {"--max-frames", CLI_VALUE},   {"--bpm", CLI_VALUE},
    {"--hr-stream", CLI_VALUE},    {"--hr-timeout", CLI_VALUE},   {"--age", CLI_VALUE},
    {"--resting-bpm", CLI_VALUE},  {"--smooth", CLI_VALUE},       {"--hold", CLI_VALUE},
    {"--detect-every", CLI_VALUE}, {"--tilt", CLI_VALUE},         {"--min-score", CLI_VALUE},
    {"--weights", CLI_VALUE},      {"--verifier", CLI_VALUE},     {"--cascade", CLI_VALUE},
    {"--catalog", CLI_VALUE},      {"--strategy", CLI_VALUE},     {"--genre", CLI_VALUE},
    {"--limit", CLI_VALUE},        {"--threads", CLI_VALUE},      {"--tta", CLI_OPTIONAL},
    {NULL, CLI_FLAG}};

static int set_option(void *ctx, int k, const char *v)
{
    options *o = ctx;
    const char *name = k >= 0 ? option_list[k].name : NULL;
    long l;
    switch (k) {
    case -1: o->source = v; return 1;
    case O_JSON: o->json = 1; return 1;
    case O_M3U: o->m3u = v; return 1;
    case O_ANNOTATE: o->annotate = v; return 1;
    case O_REALTIME: o->realtime = 1; return 1;
    case O_MAX_FRAMES: return cli_opt_long(prog, name, v, 1, 1000000000, &o->max_frames);
    case O_BPM: o->bpm_text = v; return 1;
    case O_HR_STREAM: o->hr_stream = v; return 1;
    case O_HR_TIMEOUT: return cli_opt_double(prog, name, v, 0.1, 3600, &o->hr_timeout);
    case O_AGE:
        if (cli_parse_long(v, 1, 120, &l))
            return o->age = (int)l, 1;
        return cli_bad_value(prog, name, v, "whole years 1..120");
    case O_RESTING: return cli_opt_double(prog, name, v, 30, 200, &o->resting_bpm);
    case O_SMOOTH: return cli_opt_double(prog, name, v, 0, 60, &o->live.smooth);
    case O_HOLD: return cli_opt_double(prog, name, v, 0, 60, &o->live.hold);
    case O_DETECT_EVERY:
        if (!cli_opt_long(prog, name, v, 1, 100000, &l))
            return 0;
        return o->live.detect_every = (int)l, 1;
    case O_TILT: return cli_opt_double(prog, name, v, 0, 90, &o->tilt);
    case O_TTA: return cli_parse_tta(prog, name, v, &o->tta);
    case O_MINSCORE: return cli_opt_double(prog, name, v, 0, 1, &o->min_score);
    case O_WEIGHTS: o->weights = v; return 1;
    case O_VERIFIER: o->verifier = v; return 1;
    case O_CASCADE: o->cascade = v; return 1;
    case O_CATALOG: o->catalog = v; return 1;
    case O_GENRE: o->genre = v; return 1;
    case O_STRATEGY:
        if (!strcmp(v, "match") || !strcmp(v, "uplift"))
            return o->strategy = v[0] == 'u' ? FER_STRATEGY_UPLIFT : FER_STRATEGY_MATCH, 1;
        return cli_bad_value(prog, name, v, "match or uplift");
    case O_LIMIT: return cli_opt_long(prog, name, v, 1, 100, &o->limit);
    case O_THREADS: return cli_opt_long(prog, name, v, 1, 1024, &o->threads);
    }
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    fer_analyzer_opts ad; /* the library's defaults for what the options leave alone */
    fer_analyzer_opts_default(&ad);
    *o = (options){.hr_timeout = 5, .min_score = ad.min_score, .limit = 10, .threads = 0,
                   .tta = ad.tta};
    fer_live_opts_default(&o->live);
    cli_spec spec = {prog, usage_text, option_list, 1};
    int rc = cli_parse(&spec, argc, argv, set_option, o);
    if (rc != CLI_GO)
        return rc;
    if (!o->source)
        return cli_error(prog, "no video source given (a file, /dev/videoN or -; see --help)"),
               EXIT_USAGE;
    if (o->bpm_text && o->hr_stream)
        return cli_error(prog, "give either --bpm or --hr-stream, not both"), EXIT_USAGE;
    if (o->hr_stream && !strcmp(o->hr_stream, "-") && !strcmp(o->source, "-"))
        return cli_error(prog, "standard input ('-') can be read only once"), EXIT_USAGE;
    if (o->m3u && !strcmp(o->m3u, "-"))
        return cli_error(prog, "--m3u needs a file (the status goes to standard output)"),
               EXIT_USAGE;
    const char *inputs[] = {o->source, o->hr_stream, o->m3u};
    if (o->m3u && !cli_output_ok(prog, o->m3u, inputs, 2))
        return EXIT_FAILED;
    if (o->annotate && !strcmp(o->annotate, "-"))
        return cli_error(prog, "--annotate-video needs a file"), EXIT_USAGE;
    if (o->annotate && !cli_output_ok(prog, o->annotate, inputs, 3))
        return EXIT_FAILED;
    if (o->annotate && o->m3u && !strcmp(o->annotate, o->m3u))
        return cli_error(prog, "%s: given as both --m3u and --annotate-video", o->m3u), EXIT_USAGE;
    return CLI_GO;
}

/* ------------------------------------------------------------ resources */

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig, interrupted = 1; }

typedef struct context {
    options opt;
    fer_analyzer *an;
    const fer_model *model;
    char model_path[4096];
    fer_live *live;
    fer_catalog *cat;
    fer_hr_stream *hr;
    int hr_fd, hr_regular, hr_eof, hr_warned;
    fer_hr_opts ho;
    fer_heart heart, fixed;
    int has_heart, has_fixed;
    video *vid;
    video_writer *vw;
    uint8_t *canvas;
    double wall0;
    fer_music_source *offline; /* over cat */
    cli_spotify spotify;       /* when SPOTIFY_CLIENT_ID and _SECRET are set */
    fer_playlist list;         /* the playlist in force */
    int fell_back;
    int tty;
    size_t frames_total;
} context;

static int load(context *cx)
{
    options *o = &cx->opt;
    char wbuf[4096], vbuf[4096], cbuf[4096];
    fer_error err = {0};
    cx->ho = (fer_hr_opts){.age = o->age, .resting_bpm = o->resting_bpm};
    if (o->bpm_text) {
        if (!cli_parse_bpm(prog, o->bpm_text, &cx->ho, &cx->fixed))
            return EXIT_USAGE;
        cx->has_fixed = 1;
    }
    fer_analyzer_opts ao;
    fer_analyzer_opts_default(&ao);
    ao.emotion_model = cli_weights_file(prog, o->weights, wbuf, sizeof wbuf);
    ao.verifier_model = cli_data_file(prog, o->verifier, CLI_VERIFIER, "verifier", vbuf, sizeof vbuf);
    const char *catalog = cli_data_file(prog, o->catalog, CLI_CATALOG, "catalog", cbuf, sizeof cbuf);
    if (!ao.emotion_model || !ao.verifier_model || !catalog)
        return EXIT_FAILED;
    ao.cascade = o->cascade;
    ao.min_score = o->min_score;
    ao.tilt = o->tilt;
    ao.tta = o->tta;
    ao.threads = (int)(o->threads ? o->threads : 1);
    if (fer_analyzer_new(&ao, &cx->an, &err) != FER_OK)
        return cli_error(prog, "%s%s", err.msg,
                         !o->cascade && strstr(err.msg, FER_DEFAULT_CASCADE)
                             ? " (install opencv-data, or pass --cascade XML)" : ""),
               EXIT_FAILED;
    cx->model = fer_analyzer_emotion_model(cx->an);
    snprintf(cx->model_path, sizeof cx->model_path, "%s", ao.emotion_model);
    fer_live_opts lo = o->live;
    lo.fusion = ao.fusion;
    if (fer_live_new(cx->an, &lo, &cx->live, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), EXIT_USAGE;
    size_t n_bad;
    if (fer_catalog_load(catalog, &cx->cat, &n_bad, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), EXIT_FAILED;
    if (n_bad)
        fprintf(stderr, "%s: warning: %zu bad rows skipped; first: %s\n", prog, n_bad,
                fer_catalog_first_bad(cx->cat));
    if (fer_music_source_catalog(cx->cat, &cx->offline, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), EXIT_FAILED;
    if (cli_spotify_wanted(CLI_SOURCE_AUTO) &&
        cli_spotify_open(cx->cat, 0, &cx->spotify, &err) != FER_OK)
        fprintf(stderr, "%s: Spotify: %s; playlists from the offline catalogue\n", prog, err.msg);
    if (o->hr_stream) {
        fer_hr_stream_opts so;
        fer_hr_stream_opts_default(&so);
        so.timeout = o->hr_timeout;
        so.hr = cx->ho;
        if (fer_hr_stream_new(&so, &cx->hr, &err) != FER_OK)
            return cli_error(prog, "--hr-stream: %s", err.msg), EXIT_USAGE;
        cx->hr_fd = !strcmp(o->hr_stream, "-") ? 0 : open(o->hr_stream, O_RDONLY | O_NONBLOCK);
        if (cx->hr_fd < 0)
            return cli_error(prog, "%s: %s", o->hr_stream, strerror(errno)), EXIT_FAILED;
        struct stat st;
        cx->hr_regular = fstat(cx->hr_fd, &st) == 0 && S_ISREG(st.st_mode);
        if (cx->hr_fd == 0)
            fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    } else {
        cx->hr_fd = -1;
    }
    char why[512];
    if (!video_open(o->source, o->annotate != NULL, &interrupted, &cx->vid, why, sizeof why))
        return cli_error(prog, "%s", why), EXIT_FAILED;
    return EXIT_OK;
}

/* ------------------------------------------------------------ heart */

/* Reads what the sensor has sent (never waits) and takes the heart rate at now. */
static int poll_heart(context *cx, double now)
{
    fer_error err;
    if (cx->has_fixed) {
        cx->heart = cx->fixed;
        cx->has_heart = 1;
        return 1;
    }
    if (!cx->hr)
        return 1;
    for (int round = 0; !cx->hr_eof && round < 64; round++) {
        char buf[4096];
        ssize_t n = read(cx->hr_fd, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0)
            return cli_error(prog, "%s: %s", cx->opt.hr_stream, strerror(errno)), 0;
        if (n == 0) { /* a file ends; a FIFO has no writer just now */
            if (cx->hr_regular || cx->hr_fd == 0)
                cx->hr_eof = 1, fer_hr_stream_end(cx->hr, now, &err);
            break;
        }
        fer_hr_stream_feed(cx->hr, buf, (size_t)n, now, &err);
        fer_hr_stream_stats st;
        fer_hr_stream_get_stats(cx->hr, &st);
        if (st.n_bad && !cx->hr_warned++) /* the first garbage line, once */
            cli_error(prog, "%s: skipping garbage: %s", cx->opt.hr_stream, st.first_bad);
    }
    if (fer_hr_stream_heart(cx->hr, now, &cx->heart, &cx->has_heart, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), 0;
    return 1;
}

/* ------------------------------------------------------------ output */

/* {"schema", "model", "t", "event", then the rest of o}: o's members moved over. */
static cJSON *timed(cJSON *o, double t, const char *event, const char *model_path)
{
    cJSON *j = cli_json_object(model_path);
    cli_json_number(j, "t", t);
    cJSON_AddStringToObject(j, "event", event);
    while (o->child) {
        cJSON *it = cJSON_DetachItemViaPointer(o, o->child);
        if (!strcmp(it->string, "schema") || !strcmp(it->string, "model"))
            cJSON_Delete(it);
        else
            cJSON_AddItemToObject(j, it->string, it);
    }
    cJSON_Delete(o);
    return j;
}

static int playlist(context *cx, const fer_live_update *u)
{
    const fer_heart *h = cx->has_heart ? &cx->heart : NULL;
    fer_music_target target;
    fer_rank_opts ro;
    fer_error err;
    fer_rank_opts_default(&ro);
    ro.limit = (size_t)cx->opt.limit;
    ro.genre = cx->opt.genre;
    char fell[600];
    fer_playlist_free(&cx->list);
    if (fer_music_target_for(&u->state, h, cx->opt.strategy, &target, &err) != FER_OK ||
        cli_music_recommend(cx->spotify.source, 0, cx->offline, &target, &ro, &cx->list, fell,
                            sizeof fell, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), 0;
    if (*fell && !cx->fell_back++) /* said once: Spotify may fail at every change */
        fprintf(stderr, "%s: %s; falling back to the offline catalogue\n", prog, fell);
    if (cx->opt.m3u && !cli_write_m3u(prog, cx->opt.m3u, &cx->list))
        return 0;
    if (cx->opt.json) {
        cJSON *r = cli_json_playlist(&u->state, h, cx->opt.strategy, &target, &cx->list);
        return cli_json_print(prog, timed(r, u->t, "playlist", NULL));
    }
    const fer_playlist *p = &cx->list;
    printf("%s%.1f s: %s: ", cx->tty ? "\r\033[K" : "", u->t, u->state.label);
    for (size_t i = 0; i < p->n && i < 3; i++)
        printf("%s%s - %s", i ? "; " : "", p->songs[i].track.artist, p->songs[i].track.title);
    printf("%s\n", p->n > 3 ? "; ..." : p->n ? "" : "no track");
    return 1;
}

static int status(context *cx, const fer_live_update *u, double fps)
{
    const fer_heart *h = cx->has_heart ? &cx->heart : NULL;
    if (cx->opt.json) {
        cJSON *a = cli_json_analysis(cx->model, cx->model_path, cx->opt.source, &u->faces, NULL,
                                     -1, NULL);
        cJSON *o = cJSON_CreateObject();
        cli_json_number(o, "fps", fps);
        cJSON_AddItemToObject(o, "faces", cJSON_DetachItemFromObjectCaseSensitive(a, "faces"));
        cJSON_Delete(a);
        cJSON_AddItemToObject(o, "heart", cli_json_heart(h));
        cJSON_AddItemToObject(o, "state", u->has_state ? cli_json_state(&u->state, u->face)
                                                       : cJSON_CreateNull());
        return cli_json_print(prog, timed(o, u->t, "status", cx->model_path));
    }
    printf("%s%6.1f s  %-28s", cx->tty ? "\r\033[K" : "", u->t,
           u->has_state ? u->state.label : "(no face yet)");
    if (h)
        printf("  %3.0f bpm", h->bpm);
    if (isfinite(fps))
        printf("  %5.1f fps", fps);
    if (cx->list.n)
        printf("  > %s - %s", cx->list.songs[0].track.artist, cx->list.songs[0].track.title);
    if (!cx->tty)
        putchar('\n');
    fflush(stdout);
    return 1;
}

static int annotate(context *cx, const video_frame *f, const fer_live_update *u)
{
    size_t bytes = (size_t)f->w * (size_t)f->h * 3;
    char why[512];
    fer_error err;
    if (!cx->vw) {
        double rate = video_rate(cx->vid);
        if (!video_writer_open(cx->opt.annotate, f->w, f->h, rate, &cx->vw, why, sizeof why))
            return cli_error(prog, "%s", why), 0;
        if (!(cx->canvas = malloc(bytes)))
            return cli_error(prog, "out of memory"), 0;
    }
    memcpy(cx->canvas, f->rgb, bytes);
    fer_rgb_image img = {f->w, f->h, cx->canvas};
    size_t n = u->faces.n < 16 ? u->faces.n : 16;
    fer_box boxes[16];
    char text[16][128];
    const char *labels[16];
    for (size_t i = 0; i < n; i++) {
        const fer_face *fc = &u->faces.face[i];
        boxes[i] = fc->box;
        if ((int)i == u->face && u->has_state)
            snprintf(text[i], sizeof text[i], "%s %.2f", u->state.label, fc->score);
        else
            snprintf(text[i], sizeof text[i], "%s %.2f", fer_emotion_names[fc->emotion], fc->score);
        labels[i] = text[i];
    }
    if (n && fer_image_annotate(&img, boxes, labels, n, &err) != FER_OK)
        return cli_error(prog, "%s", err.msg), 0;
    if (!video_writer_frame(cx->vw, cx->canvas, f->t, why, sizeof why))
        return cli_error(prog, "%s", why), 0;
    return 1;
}

/* ------------------------------------------------------------ the loop */

static void sleep_until(double wall)
{
    double d = wall - cli_now();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

static int run(context *cx)
{
    const options *o = &cx->opt;
    double next_status = 0, stop_at = HUGE_VAL, last_wall = cli_now();
    size_t frames_since = 0;
    char why[512];
    fer_error err;
    for (;;) {
        video_frame f;
        int r = video_next(cx->vid, &f, why, sizeof why);
        if (r < 0)
            return cli_error(prog, "%s: %s", !strcmp(o->source, "-") ? "standard input" : o->source,
                             why), 0;
        if (r == 0 || f.t >= stop_at)
            break;
        if (interrupted && stop_at == HUGE_VAL)
            stop_at = floor(f.t) + 1; /* finish this second */
        if (o->realtime && !video_is_camera(cx->vid))
            sleep_until(cx->wall0 + f.t);
        if (!poll_heart(cx, cli_now() - cx->wall0))
            return 0;
        fer_live_set_heart(cx->live, cx->has_heart ? &cx->heart : NULL);
        fer_live_update u;
        if (fer_live_frame(cx->live, f.grey, f.w, f.h, 1, 0, FER_PIXEL_RGB, f.t, &u, &err) != FER_OK)
            return cli_error(prog, "%s: %.2f s: %s", o->source, f.t, err.msg), 0;
        frames_since++;
        cx->frames_total++;
        if (u.changed && !playlist(cx, &u))
            return 0;
        if (f.t >= next_status) {
            double now = cli_now();
            double fps = now > last_wall && frames_since > 1 ? frames_since / (now - last_wall) : NAN;
            if (!status(cx, &u, fps))
                return 0;
            last_wall = now;
            frames_since = 0;
            while (next_status <= f.t)
                next_status += 1;
        }
        if (o->annotate && !annotate(cx, &f, &u))
            return 0;
        if (o->max_frames && cx->frames_total >= (size_t)o->max_frames)
            break;
    }
    if (cx->tty && !o->json)
        putchar('\n');
    if (cx->frames_total == 0)
        return cli_error(prog, "%s: no video frame in it", o->source), 0;
    return 1;
}

int main(int argc, char **argv)
{
    context cx = {.hr_fd = -1};
    cli_start();
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line when it is made, also into a pipe */
    int rc = parse_args(argc, argv, &cx.opt);
    if (rc == CLI_GO && !cli_threads(prog, &cx.opt.threads))
        rc = EXIT_USAGE;
    if (rc == CLI_GO) {
        struct sigaction sa = {0};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        cx.tty = isatty(1);
        cx.wall0 = cli_now();
        rc = load(&cx);
        if (rc == EXIT_OK)
            rc = run(&cx) ? EXIT_OK : EXIT_FAILED;
        char why[512];
        if (cx.vw && !video_writer_finish(cx.vw, rc == EXIT_OK, why, sizeof why) && rc == EXIT_OK)
            cli_error(prog, "%s", why), rc = EXIT_FAILED;
    }
    video_close(cx.vid);
    if (cx.hr_fd > 0)
        close(cx.hr_fd);
    fer_hr_stream_free(cx.hr);
    fer_live_free(cx.live);
    fer_analyzer_free(cx.an);
    fer_playlist_free(&cx.list);
    fer_music_source_free(cx.offline);
    cli_spotify_close(&cx.spotify);
    fer_catalog_free(cx.cat);
    free(cx.canvas);
    if (rc == CLI_DONE)
        rc = EXIT_OK;
    return cli_stdout_ok(prog) ? rc : EXIT_FAILED;
}
