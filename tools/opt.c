/* The tools' option parser (opt.h). */
#include "opt.h"

#include <string.h>

#include "cli.h"

/* The option arg names (--name or --name=...), or -1. */
static int find(const cli_opt *opts, const char *arg, size_t len)
{
    for (int k = 0; opts[k].name; k++)
        if (strlen(opts[k].name) == len && !strncmp(opts[k].name, arg, len))
            return k;
    return -1;
}

static int option(const cli_spec *s, int argc, char **argv, int *i,
                  int (*set)(void *ctx, int k, const char *v), void *ctx)
{
    const char *a = argv[*i], *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    int k = find(s->opts, a, len);
    if (k < 0) {
        cli_error(s->prog, "unknown option '%.*s' (see --help)", (int)len, a);
        return 0;
    }
    const char *name = s->opts[k].name, *v = eq ? eq + 1 : NULL;
    switch (s->opts[k].arg) {
    case CLI_FLAG:
        if (v) {
            cli_error(s->prog, "%s takes no value (see --help)", name);
            return 0;
        }
        break;
    case CLI_VALUE:
        if (!v && *i + 1 < argc)
            v = argv[++*i];
        if (!v) {
            cli_error(s->prog, "%s needs a value (see --help)", name);
            return 0;
        }
        /* fall through */
    case CLI_OPTIONAL:
        if (v && !*v) {
            cli_error(s->prog, "%s: empty value (see --help)", name);
            return 0;
        }
        break;
    }
    return set(ctx, k, v);
}

int cli_parse(const cli_spec *s, int argc, char **argv, int (*set)(void *ctx, int k, const char *v),
              void *ctx)
{
    int operands = 0, only_operands = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_operands || a[0] != '-' || !strcmp(a, "-")) {
            if (operands++ == s->n_operands) {
                cli_error(s->prog, "unexpected argument '%s' (see --help)", a);
                return CLI_USAGE;
            }
            if (!set(ctx, -1, a))
                return CLI_USAGE;
        } else if (!strcmp(a, "--")) {
            only_operands = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s->usage(stdout);
            return CLI_DONE;
        } else if (!strcmp(a, "--version")) {
            printf("%s (libfer) %s\n", s->prog, FER_VERSION);
            return CLI_DONE;
        } else if (a[1] != '-') {
            cli_error(s->prog, "unknown option '%s' (options are long: --name; see --help)", a);
            return CLI_USAGE;
        } else if (!option(s, argc, argv, &i, set, ctx)) {
            return CLI_USAGE;
        }
    }
    return CLI_GO;
}

int cli_bad_value(const char *prog, const char *name, const char *value, const char *what)
{
    cli_error(prog, "%s '%s': expected %s", name, value, what);
    return 0;
}

int cli_opt_long(const char *prog, const char *name, const char *value, long lo, long hi,
                 long *out)
{
    char what[64];
    snprintf(what, sizeof what, "an integer %ld..%ld", lo, hi);
    return cli_parse_long(value, lo, hi, out) || cli_bad_value(prog, name, value, what);
}

int cli_opt_double(const char *prog, const char *name, const char *value, double lo, double hi,
                   double *out)
{
    char what[64];
    snprintf(what, sizeof what, "a number in %g..%g", lo, hi);
    return cli_parse_double(value, lo, hi, out) || cli_bad_value(prog, name, value, what);
}
