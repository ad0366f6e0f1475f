/* fer-eval: accuracy, per-class precision/recall/F1 and the confusion matrix
 * of a trained model on a FER2013 CSV (or an image-folder data set), as a
 * text table, JSON, and an SVG heat map. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "opt.h"
#include "plot.h"

static const char *prog = "fer-eval";

enum { MAX_CLASSES = 64, MAX_MODELS = 8, USAGE_ALL = -1, USAGE_AUTO = -2 };

typedef struct options {
    const char *weights[MAX_MODELS], *data, *confusion_svg, *probs, *save;
    int n_weights;
    int usage; /* FER_USAGE_*, USAGE_ALL or USAGE_AUTO */
    int json, skip_bad;
    fer_tta tta;
    long threads, batch;
} options;

static void usage_text(FILE *out)
{
    fprintf(out,
            "usage: fer-eval [--weights W]... --data FILE|-|DIR [--usage U] [--json] [--tta[=T]]\n"
            "                [--confusion out.svg] [--probs out.csv] [--threads N] [--batch N]\n"
            "                [--save-ensemble out.safetensors] [--skip-bad]\n"
            "Evaluates a model on a FER2013 CSV (emotion,pixels[,Usage]; '-' reads stdin) or\n"
            "on DIR/<class>/<image> folders, and prints accuracy, per-class precision,\n"
            "recall and F1 and the confusion matrix (rows: true class, columns: predicted).\n"
            "  --weights W        model file, or a shipped one by name: fer-vgg (the default,\n"
            "                     %s), paper (the reference CNN),\n"
            "                     fer-vgg-5class or paper-5class (the paper's five classes);\n"
            "                     given 2..8 times, an ensemble (fer_model_ensemble): the\n"
            "                     models' logits averaged (they must have the same classes)\n"
            "  --usage U          PublicTest, PrivateTest, Training or all (default:\n"
            "                     PublicTest when the data has a Usage column, else all)\n"
            "  --json             print {\"accuracy\",\"n\",\"per_class\",\"confusion\",\"classes\"}\n"
            "  --tta[=pair|zoom|flip|none]  test-time augmentation, as fer-predict and the\n"
            "                     other tools (default pair: two copies of each image zoomed\n"
            "                     about its centre and their mirrors; zoom: those, the image\n"
            "                     and its mirror; flip: the image and its mirror)\n"
            "  --confusion F.svg  also draw the confusion matrix as an SVG heat map\n"
            "  --probs F.csv      also write each image's probabilities (row,hash,<classes>;\n"
            "                     fer-train --soft-targets trains against them)\n"
            "  --save-ensemble F  also write the ensemble as one model file, which every\n"
            "                     tool's --weights takes\n"
            "  --threads N        inference threads (default: all CPUs or $FER_THREADS)\n"
            "  --batch N          images per forward pass (default 128)\n"
            "  --skip-bad         skip malformed CSV rows (counted) instead of failing\n"
            "Exit status: 0 evaluated, 1 a file could not be read or written, 2 usage error.\n",
            CLI_WEIGHTS);
    cli_help_common(out);
}

/* ------------------------------------------------------------ arguments */

static int parse_usage_name(const char *s, int *out)
{
    static const char *const names[] = {"Training", "PublicTest", "PrivateTest"};
    for (int i = 0; i < 3; i++)
        if (strcasecmp(s, names[i]) == 0)
            return *out = i, 1;
    if (strcasecmp(s, "all") == 0)
        return *out = USAGE_ALL, 1;
    return 0;
}

enum { O_WEIGHTS, O_DATA, O_USAGE, O_CONFUSION, O_THREADS, O_BATCH, O_JSON, O_TTA, O_SKIP_BAD,
       O_PROBS, O_SAVE };

static const cli_opt option_list[] = {
    {"--weights", CLI_VALUE}, {"--data", CLI_VALUE}, {"--usage", CLI_VALUE},
    {"--confusion", CLI_VALUE}, {"--threads", CLI_VALUE}, {"--batch", CLI_VALUE},
    {"--json", CLI_FLAG},     {"--tta", CLI_OPTIONAL},   {"--skip-bad", CLI_FLAG},
    {"--probs", CLI_VALUE},   {"--save-ensemble", CLI_VALUE}, {NULL, CLI_FLAG}};

static int set_option(void *ctx, int k, const char *v)
{
    options *o = ctx;
    const char *name = option_list[k].name;
    switch (k) {
    case O_WEIGHTS:
        if (o->n_weights == MAX_MODELS)
            return cli_bad_value(prog, name, v, "at most 8 models");
        o->weights[o->n_weights++] = v;
        return 1;
    case O_DATA: o->data = v; return 1;
    case O_USAGE:
        return parse_usage_name(v, &o->usage) ||
               cli_bad_value(prog, name, v, "PublicTest, PrivateTest, Training or all");
    case O_CONFUSION: o->confusion_svg = v; return 1;
    case O_THREADS:
        return cli_parse_long(v, 1, 1024, &o->threads) || cli_bad_value(prog, name, v, "an integer 1..1024");
    case O_BATCH:
        return cli_parse_long(v, 1, 4096, &o->batch) || cli_bad_value(prog, name, v, "an integer 1..4096");
    case O_JSON: o->json = 1; return 1;
    case O_TTA: return cli_parse_tta(prog, name, v, &o->tta);
    case O_SKIP_BAD: o->skip_bad = 1; return 1;
    case O_PROBS: o->probs = v; return 1;
    case O_SAVE: o->save = v; return 1;
    }
    return 0;
}

/* CLI_GO, CLI_DONE (--help, --version) or the usage exit status. The
 * --confusion, --probs and --save-ensemble paths are checked before the
 * evaluation, so that a typo does not waste a long run (the write itself can
 * still fail later). */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.usage = USAGE_AUTO, .threads = 0, .batch = 128, .tta = FER_TTA_DEFAULT};
    cli_spec spec = {prog, usage_text, option_list, 0};
    int rc = cli_parse(&spec, argc, argv, set_option, o);
    if (rc != CLI_GO)
        return rc;
    if (!o->data)
        return cli_error(prog, "--data FILE|-|DIR is required (see --help)"), CLI_USAGE;
    if (o->save && o->n_weights < 2)
        return cli_error(prog, "--save-ensemble needs two or more --weights"), CLI_USAGE;
    const char *inputs[1 + MAX_MODELS] = {o->data};
    for (int i = 0; i < o->n_weights; i++)
        inputs[1 + i] = o->weights[i];
    const char *outputs[] = {o->confusion_svg, o->probs, o->save};
    for (size_t i = 0; i < sizeof outputs / sizeof *outputs; i++)
        if (outputs[i] && !cli_output_ok(prog, outputs[i], inputs, 1 + o->n_weights))
            return 1; /* a file error, not a usage one */
    return CLI_GO;
}

/* ------------------------------------------------------------ model and data */

static int load_model(const options *o, const char *weights, fer_model **m)
{
    char buf[4096];
    const char *path = cli_weights_file(prog, weights, buf, sizeof buf);
    if (!path)
        return 0;
    fer_error err = {0};
    if (fer_model_load(path, m, &err) != FER_OK ||
        (o->threads && fer_model_set_threads(*m, (int)o->threads, &err) != FER_OK)) {
        cli_error(prog, "%s", err.msg);
        return 0;
    }
    int c, h, w, k = fer_model_n_classes(*m);
    fer_model_input_shape(*m, &c, &h, &w);
    if (c != 1 || h != 48 || w != 48 || k < 2 || k > MAX_CLASSES) {
        cli_error(prog, "%s: model takes %dx%dx%d input with %d classes; fer-eval needs 1x48x48 "
                  "grey input and 2..%d classes", path, c, h, w, k, MAX_CLASSES);
        return 0;
    }
    return 1;
}

/* The model of the --weights files (the default model without one): two or
 * more (names: joined by '+') make an ensemble (fer_model_ensemble checks
 * their classes). */
static int load_models(const options *o, const char *names, fer_model **out)
{
    fer_model *m[MAX_MODELS] = {0};
    int n = o->n_weights ? o->n_weights : 1, ok = 1;
    for (int i = 0; ok && i < n; i++)
        ok = load_model(o, o->n_weights ? o->weights[i] : NULL, &m[i]);
    fer_error err = {0};
    if (ok && n == 1) {
        *out = m[0];
        return 1;
    }
    if (ok && (fer_model_ensemble((const fer_model *const *)m, n, out, &err) != FER_OK ||
               (o->threads && fer_model_set_threads(*out, (int)o->threads, &err) != FER_OK)))
        cli_error(prog, "%s: %s", names, err.msg), ok = 0;
    for (int i = 0; i < n; i++)
        fer_model_free(m[i]);
    return ok;
}

/* Loads the data; *from_dir tells whether labels are already model classes. */
static int load_data(const options *o, const fer_model *m, fer_dataset *ds, int *from_dir)
{
    fer_error err = {0};
    fer_status st;
    *from_dir = cli_is_dir(o->data);
    if (*from_dir) {
        int k = fer_model_n_classes(m);
        const char *names[MAX_CLASSES];
        for (int i = 0; i < k; i++)
            names[i] = fer_model_class_name(m, i);
        st = fer_dataset_load_dir(o->data, k, names, ds, &err);
    } else {
        st = fer_dataset_load_csv(o->data, o->skip_bad, ds, &err);
    }
    if (st != FER_OK) {
        cli_error(prog, "%s", err.msg);
        return 0;
    }
    if (ds->n_bad)
        cli_error(prog, "warning: skipped %zu bad rows; the first: %s", ds->n_bad, ds->first_bad);
    return 1;
}

/* map[fer2013 label] = model class index or -1 (a 5-class model drops 2). */
static int label_map(const fer_model *m, int map[FER_N_EMOTIONS])
{
    int mapped = 0;
    for (int e = 0; e < FER_N_EMOTIONS; e++)
        map[e] = -1;
    for (int j = 0; j < fer_model_n_classes(m); j++) {
        int e = fer_emotion_index(fer_model_class_name(m, j));
        if (e >= 0 && map[e] < 0) {
            map[e] = j;
            mapped++;
        }
    }
    return mapped;
}

typedef struct selection {
    size_t *rows; /* indices into the data set */
    int *truth;   /* model class of each selected row */
    size_t n;
} selection;

static const char *usage_name(int u)
{
    static const char *const names[] = {"Training", "PublicTest", "PrivateTest", "none"};
    return u == USAGE_ALL ? "all" : names[u];
}

static int has_usage_column(const fer_dataset *ds)
{
    return ds->n > 0 && ds->usage[0] != FER_USAGE_NONE;
}

/* The rows of the requested usage whose class the model knows. */
static int select_rows(const options *o, const fer_dataset *ds, const fer_model *m, int from_dir,
                       int *usage, selection *sel)
{
    int map[FER_N_EMOTIONS];
    if (!from_dir && label_map(m, map) == 0) {
        cli_error(prog, "none of the model's classes is a FER2013 emotion name");
        return 0;
    }
    if (*usage == USAGE_AUTO)
        *usage = has_usage_column(ds) ? FER_USAGE_PUBLIC_TEST : USAGE_ALL;
    sel->rows = malloc((ds->n ? ds->n : 1) * sizeof *sel->rows);
    sel->truth = malloc((ds->n ? ds->n : 1) * sizeof *sel->truth);
    sel->n = 0;
    if (!sel->rows || !sel->truth)
        return cli_error(prog, "out of memory"), 0;
    for (size_t i = 0; i < ds->n; i++) {
        int t = from_dir ? ds->labels[i] : map[ds->labels[i]];
        if (t < 0 || (*usage != USAGE_ALL && ds->usage[i] != *usage))
            continue;
        sel->rows[sel->n] = i;
        sel->truth[sel->n++] = t;
    }
    if (sel->n == 0) {
        cli_error(prog, "%s: 0 rows with Usage %s of the model's classes%s", o->data,
                  usage_name(*usage),
                  !has_usage_column(ds) && *usage != USAGE_ALL ? " (no Usage column: use --usage all)"
                                                               : "");
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ evaluation */

typedef struct eval {
    int k;
    long *confusion; /* k*k: [true][predicted] */
    size_t n, correct;
} eval;

/* The batch's crops, then its probabilities (fer_model_predict_crops). */
static fer_status predict_batch(fer_model *m, const fer_dataset *ds, const selection *sel,
                                size_t from, int nb, fer_tta tta, uint8_t *crops, float *probs,
                                fer_error *err)
{
    size_t px = (size_t)ds->h * (size_t)ds->w;
    for (int i = 0; i < nb; i++)
        memcpy(crops + (size_t)i * px, ds->pixels + sel->rows[from + (size_t)i] * px, px);
    return fer_model_predict_crops(m, crops, nb, tta, probs, err);
}

static int argmax(const float *p, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (p[j] > p[best])
            best = j;
    return best;
}

/* keep, when not NULL, receives the probabilities (sel->n x classes). */
static int run_eval(fer_model *m, const fer_dataset *ds, const selection *sel, const options *o,
                    eval *ev, float *keep)
{
    int k = fer_model_n_classes(m), nb_max = (int)o->batch;
    size_t px = (size_t)ds->h * (size_t)ds->w;
    uint8_t *crops = malloc((size_t)nb_max * px);
    float *probs = malloc((size_t)nb_max * (size_t)k * sizeof *probs);
    *ev = (eval){.k = k, .confusion = calloc((size_t)k * (size_t)k, sizeof(long))};
    fer_error err = {0};
    int ok = crops && probs && ev->confusion;
    if (!ok)
        cli_error(prog, "out of memory");
    cli_progress p;
    cli_progress_start(&p, "eval", (long)sel->n);
    char extra[64] = "";
    for (size_t from = 0; ok && from < sel->n; from += (size_t)nb_max) {
        int nb = sel->n - from < (size_t)nb_max ? (int)(sel->n - from) : nb_max;
        if (predict_batch(m, ds, sel, from, nb, o->tta, crops, probs, &err) != FER_OK) {
            cli_error(prog, "%s", err.msg);
            ok = 0;
            break;
        }
        if (keep)
            memcpy(keep + from * (size_t)k, probs, (size_t)nb * (size_t)k * sizeof *probs);
        for (int i = 0; i < nb; i++) {
            int t = sel->truth[from + (size_t)i], pr = argmax(probs + (size_t)i * (size_t)k, k);
            ev->confusion[t * k + pr]++;
            ev->correct += t == pr;
        }
        ev->n += (size_t)nb;
        snprintf(extra, sizeof extra, "acc %.4f", (double)ev->correct / (double)ev->n);
        cli_progress_update(&p, (long)ev->n, extra);
    }
    if (ok)
        cli_progress_finish(&p, (long)ev->n, extra);
    free(crops);
    free(probs);
    return ok;
}

/* ------------------------------------------------------------ metrics */

typedef struct class_metrics {
    double precision, recall, f1;
    long support, predicted;
} class_metrics;

/* Undefined ratios (no prediction / no example of a class) count as 0. */
static class_metrics metrics_of(const eval *ev, int c)
{
    class_metrics r = {0};
    for (int j = 0; j < ev->k; j++) {
        r.support += ev->confusion[c * ev->k + j];
        r.predicted += ev->confusion[j * ev->k + c];
    }
    long tp = ev->confusion[c * ev->k + c];
    r.precision = r.predicted ? (double)tp / (double)r.predicted : 0;
    r.recall = r.support ? (double)tp / (double)r.support : 0;
    double s = r.precision + r.recall;
    r.f1 = s > 0 ? 2 * r.precision * r.recall / s : 0;
    return r;
}

static double accuracy(const eval *ev) { return ev->n ? (double)ev->correct / (double)ev->n : 0; }

static void print_text(const eval *ev, const fer_model *m, const options *o, int usage)
{
    printf("accuracy %.4f (%zu of %zu correct) on %s, Usage %s, %s TTA", accuracy(ev), ev->correct,
           ev->n, strcmp(o->data, "-") ? o->data : "<stdin>", usage_name(usage),
           cli_tta_name(o->tta));
    if (o->n_weights > 1)
        printf(", ensemble of %d models", o->n_weights);
    printf("\n\n");
    printf("%-12s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
    double mp = 0, mr = 0, mf = 0;
    for (int c = 0; c < ev->k; c++) {
        class_metrics r = metrics_of(ev, c);
        printf("%-12s %9.4f %9.4f %9.4f %8ld\n", fer_model_class_name(m, c), r.precision, r.recall,
               r.f1, r.support);
        mp += r.precision / ev->k;
        mr += r.recall / ev->k;
        mf += r.f1 / ev->k;
    }
    printf("%-12s %9.4f %9.4f %9.4f %8zu\n\n", "macro avg", mp, mr, mf, ev->n);
    printf("confusion matrix (rows: true class, columns: predicted)\n%-12s", "");
    for (int c = 0; c < ev->k; c++)
        printf(" %8.8s", fer_model_class_name(m, c));
    printf("\n");
    for (int t = 0; t < ev->k; t++) {
        printf("%-12s", fer_model_class_name(m, t));
        for (int c = 0; c < ev->k; c++)
            printf(" %8ld", ev->confusion[t * ev->k + c]);
        printf("\n");
    }
}

/* Rounded to 6 decimals so the JSON is short and stable. */
static double r6(double v) { return (double)llround(v * 1e6) / 1e6; }

static int print_json(const eval *ev, const fer_model *m, const char *model_path)
{
    cJSON *root = cli_json_object(model_path), *classes = cJSON_CreateArray(),
          *per = cJSON_CreateObject(), *conf = cJSON_CreateArray();
    cJSON_AddNumberToObject(root, "accuracy", r6(accuracy(ev)));
    cJSON_AddNumberToObject(root, "n", (double)ev->n);
    cJSON_AddItemToObject(root, "per_class", per);
    cJSON_AddItemToObject(root, "confusion", conf);
    cJSON_AddItemToObject(root, "classes", classes);
    for (int c = 0; c < ev->k; c++) {
        class_metrics r = metrics_of(ev, c);
        cJSON_AddItemToArray(classes, cJSON_CreateString(fer_model_class_name(m, c)));
        cJSON *o = cJSON_CreateObject(), *row = cJSON_CreateArray();
        cJSON_AddNumberToObject(o, "precision", r6(r.precision));
        cJSON_AddNumberToObject(o, "recall", r6(r.recall));
        cJSON_AddNumberToObject(o, "f1", r6(r.f1));
        cJSON_AddItemToObject(per, fer_model_class_name(m, c), o);
        for (int j = 0; j < ev->k; j++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)ev->confusion[c * ev->k + j]));
        cJSON_AddItemToArray(conf, row);
    }
    return cli_json_print(prog, root);
}

/* ------------------------------------------------------------ SVG heat map */

static int write_svg(const eval *ev, const fer_model *m, const char *path, int usage, fer_tta tta)
{
    const char *names[MAX_CLASSES];
    for (int c = 0; c < ev->k; c++)
        names[c] = fer_model_class_name(m, c);
    char title[160];
    snprintf(title, sizeof title, "Confusion matrix: accuracy %.2f%%\n(n = %zu, Usage %s, %s TTA)",
             100 * accuracy(ev), ev->n, usage_name(usage), cli_tta_name(tta));
    fer_error err = {0};
    if (plot_confusion_svg(path, title, ev->k, names, ev->confusion, &err) == FER_OK)
        return 1;
    cli_error(prog, "%s", err.msg);
    return 0;
}

/* ------------------------------------------------------------ --probs */

static int alloc_probs(const options *o, const selection *sel, const fer_model *m, float **keep)
{
    size_t len = (sel->n ? sel->n : 1) * (size_t)fer_model_n_classes(m);
    if (o->probs && !(*keep = malloc(len * sizeof **keep)))
        return cli_error(prog, "out of memory for %zu images' probabilities", sel->n), 0;
    return 1;
}

static int write_probs(const options *o, const fer_dataset *ds, const selection *sel,
                       const float *keep, const fer_model *m)
{
    fer_error err;
    if (fer_probs_write(o->probs, ds, sel->rows, sel->n, keep, m, &err) == FER_OK)
        return 1;
    cli_error(prog, "%s", err.msg);
    return 0;
}

/* ------------------------------------------------------------ main */

/* --save-ensemble: the model evaluated, its members' names in "fer.extra". */
static int save_ensemble(const fer_model *m, const options *o, const char *names)
{
    cJSON *extra = cJSON_CreateObject();
    char *text = extra && cJSON_AddStringToObject(extra, "ensemble_of", names)
                     ? cJSON_PrintUnformatted(extra)
                     : NULL;
    cJSON_Delete(extra);
    fer_error err = {0};
    int ok = text && fer_model_save(m, NULL, text, o->save, &err) == FER_OK;
    if (!ok)
        cli_error(prog, "%s", text ? err.msg : "out of memory");
    free(text);
    return ok;
}

int main(int argc, char **argv)
{
    options o;
    cli_start();
    int rc = parse_args(argc, argv, &o);
    if (rc != CLI_GO)
        return cli_stdout_ok(prog) ? (rc == CLI_DONE ? 0 : rc) : 1;
    if (!cli_threads(prog, &o.threads))
        return 2;
    fer_model *m = NULL;
    fer_dataset ds = {0};
    selection sel = {0};
    eval ev = {0};
    int from_dir = 0, usage = o.usage;
    float *keep = NULL;
    char names[4096] = ""; /* the JSON's "model": the files joined by '+' */
    for (int i = 0; i < o.n_weights; i++) {
        const char *slash = strrchr(o.weights[i], '/');
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "+" : "",
                 slash ? slash + 1 : o.weights[i]);
    }
    int ok = load_models(&o, names, &m) && load_data(&o, m, &ds, &from_dir) &&
             select_rows(&o, &ds, m, from_dir, &usage, &sel) && alloc_probs(&o, &sel, m, &keep) &&
             run_eval(m, &ds, &sel, &o, &ev, keep) &&
             (!o.confusion_svg || write_svg(&ev, m, o.confusion_svg, usage, o.tta)) &&
             (!o.probs || write_probs(&o, &ds, &sel, keep, m)) &&
             (!o.save || save_ensemble(m, &o, names));
    free(keep);
    if (ok && o.json)
        ok = print_json(&ev, m, o.n_weights ? names : CLI_WEIGHTS);
    else if (ok)
        print_text(&ev, m, &o, usage);
    free(ev.confusion);
    free(sel.rows);
    free(sel.truth);
    fer_dataset_free(&ds);
    fer_model_free(m);
    return cli_stdout_ok(prog) && ok ? 0 : 1;
}
