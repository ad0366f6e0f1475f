/* The one command-line parser of the tools: GNU-style long options, given
 * in full (no abbreviations, so a script keeps working when options are
 * added), as `--name value` or `--name=value`; `-h`/`--help` and
 * `--version` everywhere; `--` ends the options; `-` is an operand (stdin). */
#ifndef FER_OPT_H
#define FER_OPT_H

#include <stdio.h>

enum cli_arg { CLI_FLAG, CLI_VALUE, CLI_OPTIONAL }; /* OPTIONAL: only as --name=value */

typedef struct cli_opt {
    const char *name; /* with the dashes: "--weights" */
    enum cli_arg arg;
} cli_opt;

typedef struct cli_spec {
    const char *prog;
    void (*usage)(FILE *out); /* the --help text */
    const cli_opt *opts;      /* terminated by {NULL} */
    int n_operands;           /* most operands taken (0: none) */
} cli_spec;

/* What cli_parse returns: go on, exit 0 (help or version printed), exit 2. */
enum { CLI_GO = 0, CLI_DONE = -1, CLI_USAGE = 2 };

/* Calls set(ctx, k, value) for each option, k its index in s->opts (value
 * NULL for a flag or an OPTIONAL option without one; never "" for a VALUE
 * option), and set(ctx, -1, arg) for each operand. set returns 0 after
 * printing its own error. All errors are one line: "prog: ... (see --help)". */
int cli_parse(const cli_spec *s, int argc, char **argv, int (*set)(void *ctx, int k, const char *v),
              void *ctx);

/* "prog: --name 'value': expected WHAT"; returns 0, for set callbacks. */
int cli_bad_value(const char *prog, const char *name, const char *value, const char *what);
/* value as an integer lo..hi (a number in lo..hi) into *out: 1, or 0 after
 * the option error ("expected an integer lo..hi"). */
int cli_opt_long(const char *prog, const char *name, const char *value, long lo, long hi,
                 long *out);
int cli_opt_double(const char *prog, const char *name, const char *value, double lo, double hi,
                   double *out);

#endif
