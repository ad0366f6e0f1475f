/* Shared command-line helpers. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    /* Plain decimal only: strtod would also take hex ("0x50"), inf and nan. */
    if (s[strspn(s, "0123456789.eE+-")])
        return 0;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_bpm(const char *prog, const char *s, const fer_hr_opts *o, fer_heart *out)
{
    fer_error err;
    double v;
    if (!cli_parse_double(s, -HUGE_VAL, HUGE_VAL, &v))
        return cli_error(prog, "--bpm '%s': not a number", s), 0;
    if (fer_heart_from_bpm(v, o, out, &err) != FER_OK)
        return cli_error(prog, "--bpm %s: %s", s, err.msg), 0;
    return 1;
}

int cli_threads_env_ok(const char *prog)
{
    const char *env = getenv("FER_THREADS");
    long n;
    if (!env || cli_parse_long(env, 1, 256, &n))
        return 1;
    cli_error(prog, "FER_THREADS='%s': expected a thread count 1..256", env);
    return 0;
}

int cli_is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == 0 || arg[n] == '=');
}

const char *cli_option_value(const char *prog, int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        cli_error(prog, "%s needs a value (see --help)", name);
        return NULL;
    }
    return argv[++*i];
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *label, long total)
{
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->start = cli_now();
    p->last_draw = 0;
    p->tty = isatty(fileno(stderr));
}

static void format_time(double s, char *buf, size_t cap)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void draw(cli_progress *p, long done, const char *extra, int final)
{
    enum { WIDTH = 30 };
    double el = cli_now() - p->start;
    double frac = (double)done / (double)p->total;
    if (frac > 1)
        frac = 1;
    int fill = (int)(frac * WIDTH);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : '.');
    bar[WIDTH] = 0;
    char t[32];
    if (final)
        format_time(el, t, sizeof t);
    else
        format_time(done > 0 ? el * (double)(p->total - done) / (double)done : 0, t, sizeof t);
    fprintf(stderr, "%s%s %ld/%ld [%s] %s %s%s%s", p->tty ? "\r\033[K" : "", p->label, done,
            p->total, bar, final ? "took" : "ETA", t, extra && *extra ? " - " : "",
            extra ? extra : "");
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

void cli_progress_update(cli_progress *p, long done, const char *extra)
{
    /* A terminal gets a redrawn bar; a log file a line every 30 s, so that
     * long work is visibly alive without flooding it. */
    double now = cli_now(), every = p->tty ? 0.1 : 30;
    if (p->last_draw == 0 && !p->tty)
        p->last_draw = p->start;
    if (now - p->last_draw < every)
        return;
    p->last_draw = now;
    draw(p, done, extra, 0);
    if (!p->tty)
        fputc('\n', stderr);
}

void cli_progress_finish(cli_progress *p, long done, const char *extra) { draw(p, done, extra, 1); }

#ifndef FER_SOURCE_DIR
#define FER_SOURCE_DIR "."
#endif
#ifndef FER_SHARE_DIR
#define FER_SHARE_DIR "/usr/local/share/libfer"
#endif

const char *cli_data_path(const char *rel, char *buf, size_t cap)
{
    const char *env = getenv("FER_DATA_DIR");
    if (env && *env) { /* an explicit choice: no silent fallback elsewhere */
        snprintf(buf, cap, "%s/%s", env, rel);
        return access(buf, R_OK) == 0 ? buf : NULL;
    }
    const char *roots[] = {FER_SOURCE_DIR, FER_SHARE_DIR};
    for (int i = 0; i < 2; i++) {
        snprintf(buf, cap, "%s/%s", roots[i], rel);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    snprintf(buf, cap, "%s/%s", FER_SOURCE_DIR, rel);
    return NULL;
}
