/* What the command-line tools share: errors, number parsing, progress bars. */
#ifndef FER_CLI_H
#define FER_CLI_H

#include <stdio.h>

#include "fer.h"

/* "prog: message" on stderr. */
void cli_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Option values in libfer's one number grammar (fer_parse_integer,
 * fer_parse_number): the whole string a decimal number within [lo, hi]. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);
/* A --bpm value: a decimal number, scored by fer_heart_from_bpm with o into
 * out, so every tool refuses the same impossible rates. Prints the error and
 * returns 0. */
int cli_parse_bpm(const char *prog, const char *s, const fer_hr_opts *o, fer_heart *out);
/* A --tta value (every tool's): "pair", "zoom", "flip" or "none"; NULL (a bare
 * --tta) is the default, FER_TTA_DEFAULT. Prints the option error and
 * returns 0. */
int cli_parse_tta(const char *prog, const char *name, const char *v, fer_tta *out);
/* The --tta name of t ("pair", "zoom", "flip", "none"). */
const char *cli_tta_name(fer_tta t);
/* The thread count: --threads when given (*threads > 0), else FER_THREADS
 * when set, else 0 (the library's default: every CPU). 0 after an error
 * line when FER_THREADS is not a count 1..256. The library reads no
 * environment: the tools pass the count on. */
int cli_threads(const char *prog, long *threads);
double cli_now(void); /* monotonic seconds */

/* The end of every tool's --help: -h/--help, --version and the environment. */
void cli_help_common(FILE *out);

/* At the start of main: file descriptors 0-2, when closed, are opened on
 * /dev/null (stdout and stderr read-only, so that writes to them fail and
 * are reported) so that no file the tool opens takes their place. */
void cli_start(void);
/* At the end of main: 1 if everything written to stdout reached it, else 0
 * after "prog: standard output: <why>". */
int cli_stdout_ok(const char *prog);
/* An output path checked before any work: its folder is writable, it is not
 * a folder, and it is none of the inputs (same file by device and inode, or
 * the same name). "-" (stdout) passes. 0 after the error line. */
int cli_output_ok(const char *prog, const char *out, const char *const *inputs, int n_inputs);
/* All of stdin, at most max bytes (NUL-terminated); 0 after the error line. */
int cli_read_stdin(const char *prog, size_t max, char **buf, size_t *len);

/* A Keras-like progress bar on stderr, redrawn at most 10 times a second
 * when stderr is a terminal; otherwise one line every 30 s and a final one. */
typedef struct cli_progress {
    const char *label;
    long total;
    double start, last_draw;
    int tty;
} cli_progress;

void cli_progress_start(cli_progress *p, const char *label, long total);
/* `extra` is appended after the ETA, e.g. "loss 1.23 acc 0.45". */
void cli_progress_update(cli_progress *p, long done, const char *extra);
void cli_progress_finish(cli_progress *p, long done, const char *extra);

/* Locates a shipped data file such as "weights/fer-7class.safetensors" or
 * "datasets/catalog.csv" (fer_data_path): only under $FER_DATA_DIR when that
 * is set; else, for a tool run from the build tree, in the source tree it was
 * built from; else, for an installed tool, in PREFIX/share/libfer. Returns
 * buf, or NULL if it does not exist (buf then holds the path to name in the
 * error message). */
const char *cli_data_path(const char *rel, char *buf, size_t cap);
/* 1 if path names a directory ("-", stdin, never does). */
int cli_is_dir(const char *path);
/* `given` when the user named a file, else the shipped one (cli_data_path);
 * NULL after "no WHAT found: ... (pass --WHAT FILE)". */
const char *cli_data_file(const char *prog, const char *given, const char *rel, const char *what,
                          char *buf, size_t cap);
/* The emotion model of --weights W: W when it is a file, else the shipped
 * model of that name ("fer-vgg": the default, "paper": the reference CNN,
 * "fer-vgg-5class", "paper-5class"); without W the default, CLI_WEIGHTS. NULL after an error
 * line (neither a file nor a name, or the shipped file missing). */
const char *cli_weights_file(const char *prog, const char *given, char *buf, size_t cap);

#define CLI_WEIGHTS_7 "weights/fer-7class.safetensors"
#define CLI_WEIGHTS_5 "weights/fer-5class.safetensors"
#define CLI_WEIGHTS_VGG5 "weights/fer-vgg-5class.safetensors"
#define CLI_WEIGHTS_VGG "weights/fer-vgg.safetensors"
#define CLI_WEIGHTS CLI_WEIGHTS_VGG /* the default emotion model */
/* The --tta lines of each tool's help. */
#define CLI_TTA_HELP                                                                             \
    "  --tta=pair|zoom|flip|none test-time augmentation of the emotion model: the mean\n"    \
    "                       over two copies of the face zoomed about its centre and their\n"      \
    "                       mirror images (pair, the default), those and the face and its\n"      \
    "                       mirror (zoom, 1.5x pair's CNN cost), the face and its mirror\n"       \
    "                       (flip, half) or the face alone (none)\n"
/* The --weights line of each tool's help (a %s: CLI_WEIGHTS). */
#define CLI_WEIGHTS_HELP                                                                         \
    "  --weights W          emotion model file, or a shipped one by name: fer-vgg (the\n"         \
    "                       default, %s), paper (the\n"                                 \
    "                       reference CNN), fer-vgg-5class or paper-5class (the\n"       \
    "                       paper's five classes)\n"
#define CLI_VERIFIER "weights/face-verifier.safetensors"
#define CLI_CATALOG "datasets/catalog.csv"

#endif
