/* Shared command-line helpers. */
#include "cli.h"
#include "opt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    return fer_parse_integer(s, lo, hi, out);
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    return fer_parse_number(s, lo, hi, out);
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

/* The --tta names, by fer_tta value. */
static const char *const tta_names[] = {[FER_TTA_NONE] = "none", [FER_TTA_FLIP] = "flip",
                                        [FER_TTA_ZOOM] = "zoom", [FER_TTA_PAIR] = "pair"};

int cli_parse_tta(const char *prog, const char *name, const char *v, fer_tta *out)
{
    if (!v)
        return *out = FER_TTA_DEFAULT, 1;
    for (size_t t = 0; t < sizeof tta_names / sizeof *tta_names; t++)
        if (!strcmp(v, tta_names[t]))
            return *out = (fer_tta)t, 1;
    return cli_bad_value(prog, name, v, "pair, zoom, flip or none");
}

const char *cli_tta_name(fer_tta t)
{
    return (size_t)t < sizeof tta_names / sizeof *tta_names ? tta_names[t] : "none";
}

int cli_threads(const char *prog, long *threads)
{
    const char *env = getenv("FER_THREADS");
    long n;
    if (!env || cli_parse_long(env, 1, 256, &n)) {
        if (env && *threads == 0)
            *threads = n;
        return 1;
    }
    cli_error(prog, "FER_THREADS='%s': expected a thread count 1..256", env);
    return 0;
}

void cli_help_common(FILE *out)
{
    fputs("  -h, --help           this text         --version  the version\n"
          "Environment:\n"
          "  FER_DATA_DIR=DIR     look for the shipped weights/ and datasets/ only in DIR\n"
          "                       (default: the installed copy, or the source tree's)\n"
          "  FER_THREADS=N        default thread count, 1..256 (default: every CPU)\n",
          out);
}

void cli_start(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int got = open("/dev/null", O_RDONLY); /* the lowest free descriptor: fd */
            if (got > fd)
                close(got);
        }
}

int cli_stdout_ok(const char *prog)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 1;
    cli_error(prog, "standard output: %s", errno ? strerror(errno) : "write error");
    return 0;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!strcmp(a, b))
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cli_output_ok(const char *prog, const char *out, const char *const *inputs, int n_inputs)
{
    if (!strcmp(out, "-"))
        return 1;
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] && strcmp(inputs[i], "-") && same_file(out, inputs[i])) {
            cli_error(prog, "%s: refusing to overwrite an input", out);
            return 0;
        }
    struct stat dev; /* a FIFO or device is written in place (fer_file_write_atomic) */
    if (stat(out, &dev) == 0 && (S_ISFIFO(dev.st_mode) || S_ISCHR(dev.st_mode))) {
        if (access(out, W_OK) == 0)
            return 1;
        cli_error(prog, "%s: cannot write there: %s", out, strerror(errno));
        return 0;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = 0; /* keep "/" for files at the root */
    if (access(slash ? dir : ".", W_OK) != 0) {
        cli_error(prog, "%s: cannot write there: %s", out, strerror(errno));
        return 0;
    }
    struct stat st;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_error(prog, "%s: is a directory", out);
        return 0;
    }
    return 1;
}

int cli_read_stdin(const char *prog, size_t max, char **buf, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    while (b && n <= max) {
        size_t got = fread(b + n, 1, cap - n, stdin);
        if (got == 0)
            break; /* end of input, or an error */
        n += got;
        if (n == cap) {
            char *nb = realloc(b, 2 * cap + 1);
            if (!nb)
                free(b);
            b = nb;
            cap *= 2;
        }
    }
    *buf = NULL;
    *len = 0;
    const char *why = !b ? "out of memory" : ferror(stdin) ? strerror(errno) : NULL;
    if (why || n > max) {
        if (why)
            cli_error(prog, "standard input: %s", why);
        else
            cli_error(prog, "standard input: more than %zu bytes", max);
        free(b);
        return 0;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 1;
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

#if !defined(FER_SOURCE_DIR) || !defined(FER_BUILD_BIN)
#error "the Makefile gives the source tree (FER_SOURCE_DIR) and its tools' folder (FER_BUILD_BIN)"
#endif

/* 1 when this program is the build tree's own copy (in FER_BUILD_BIN), not
 * an installed one. */
static int in_build_tree(void)
{
    char self[PATH_MAX], bin[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || !realpath(FER_BUILD_BIN, bin))
        return 0;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    return slash && (*slash = 0, strcmp(self, bin) == 0);
}

const char *cli_data_path(const char *rel, char *buf, size_t cap)
{
    const char *env = getenv("FER_DATA_DIR"); /* an explicit choice: no fallback elsewhere */
    const char *dir = env && *env ? env : in_build_tree() ? FER_SOURCE_DIR : NULL;
    return fer_data_path(dir, rel, buf, cap, NULL) == FER_OK ? buf : NULL;
}

int cli_is_dir(const char *path)
{
    struct stat st;
    return strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_data_file(const char *prog, const char *given, const char *rel, const char *what,
                          char *buf, size_t cap)
{
    if (given)
        return given;
    const char *path = cli_data_path(rel, buf, cap);
    if (!path)
        cli_error(prog, "no %s found: %s does not exist (pass --%s FILE)", what, buf, what);
    return path;
}

const char *cli_weights_file(const char *prog, const char *given, char *buf, size_t cap)
{
    static const struct {
        const char *name, *file;
    } shipped[] = {{"fer-vgg", CLI_WEIGHTS_VGG}, {"paper", CLI_WEIGHTS_7},
                   {"fer-vgg-5class", CLI_WEIGHTS_VGG5}, {"paper-5class", CLI_WEIGHTS_5}};
    if (given && access(given, F_OK) != 0) {
        for (size_t i = 0; i < sizeof shipped / sizeof *shipped; i++)
            if (!strcmp(given, shipped[i].name))
                return cli_data_file(prog, NULL, shipped[i].file, "weights", buf, cap);
        cli_error(prog, "--weights %s: no such file, nor a shipped model (fer-vgg, paper, "
                        "fer-vgg-5class, paper-5class)",
                  given);
        return NULL;
    }
    return cli_data_file(prog, given, CLI_WEIGHTS, "weights", buf, cap);
}
