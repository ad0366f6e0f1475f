/* fer-train: trains the paper CNN on FER2013 (the Kaggle CSV, from a file or
 * stdin) or on a folder of class subfolders, with a checkpoint every epoch
 * that --resume continues bit-exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "opt.h"
#include "plot.h"
#include "progress.h"

static const char *prog = "fer-train";

enum { MAX_TEACHERS = 8 };

typedef struct config {
    const char *data, *out, *ckpt, *resume, *init, *arch, *log, *plot;
    const char *teacher[MAX_TEACHERS]; /* --teacher: distillation from these models */
    int n_teachers;
    const char *soft_targets; /* --soft-targets: distillation from their probabilities */
    double distill; /* the teachers' share of the training targets */
    const char *class_names[FER_N_EMOTIONS];
    char *class_list; /* --classes as given: folder names, or FER2013 names for a CSV */
    fer_model *arch_model; /* --arch: the new model (main owns it, run() trains it) */
    int n_classes;
    int epochs, batch, threads, augment, balanced, skip_bad, patience, lr_patience, quiet;
    double lr, decay, val_split, lr_factor, min_lr, momentum, weight_decay, smoothing, warmup;
    double erase; /* --erase: random erasing's probability */
    int optimizer, schedule; /* fer_optim_kind (+ nesterov), enum schedule */
    int nesterov;
    fer_tta val_tta; /* validation through fer_model_predict_crops with this augmentation */
    uint64_t seed;
    fer_augment_opts aug;
} config;

typedef struct split {
    int *train, *val;
    int *order; /* this epoch's shuffled copy of train */
    int n_train, n_val;
    int label_of[FER_N_EMOTIONS]; /* data label -> class index, -1: unused */
} split;

enum schedule { SCHED_PLATEAU, SCHED_COSINE, SCHED_ONECYCLE, SCHED_CONSTANT };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fer-train --data FILE|-|DIR [options]\n"
            "Trains the paper CNN (or --arch) on FER2013 (Kaggle CSV emotion,pixels,Usage; - reads\n"
            "stdin) or on DIR/<class>/<images>. Training rows train, PublicTest rows validate.\n\n"
            "  --out FILE            best model by validation accuracy (default model.safetensors)\n"
            "  --checkpoint FILE     checkpoint written every epoch (default OUT.ckpt)\n"
            "  --resume FILE         continue from a checkpoint\n"
            "  --init FILE           start from these weights (fine-tuning) with a fresh optimiser\n"
            "  --arch FILE.json      train this architecture (docs/weights-format.md) from scratch;\n"
            "                        its classes are the classes trained\n"
            "  --epochs N            (default 50)      --batch N   (default 64)\n"
            "  --optimizer NAME      adam (default), sgd (momentum) or nesterov (Nesterov momentum)\n"
            "  --lr X                peak learning rate (default: adam 1e-4, sgd and nesterov 0.01)\n"
            "  --momentum X          SGD momentum (default 0.9)\n"
            "  --weight-decay X      decoupled weight decay on weights, as in AdamW (default 0)\n"
            "  --decay X             Keras time decay lr/(1+decay*t) (default 0)\n"
            "  --schedule NAME       plateau (default: see --lr-patience), cosine (to --min-lr),\n"
            "                        onecycle (up to --lr over 30%% of the steps, then down), constant\n"
            "  --warmup N            epochs of linear warm-up from 0 to the schedule (default 0)\n"
            "  --label-smoothing X   targets 1-X on the label, X/classes on all (default 0)\n"
            "  --seed N              (default 1)       --threads N (default: FER_THREADS or CPUs)\n"
            "  --classes a,b,...     train on a subset, e.g. neutral,happy,sad,angry,disgust\n"
            "                        (for a DIR: any folder names, e.g. face,nonface)\n"
            "  --class-weight balanced  weight classes by inverse frequency\n"
            "  --augment[=LIST]      all of, or the listed ones of: flip,shift,rotate,zoom,brightness\n"
            "  --erase P             random erasing: with probability P (0..1) a rectangle of\n"
            "                        2-33%% of each training image becomes noise (default 0)\n"
            "  --val-split X         validation fraction when there are no PublicTest rows (0.1)\n"
            "  --teacher FILE        distil: train against the mean of these models' probabilities\n"
            "                        (given 1..8 times; the student's classes) mixed with the labels\n"
            "  --soft-targets F.csv  distil from probabilities computed once (fer-eval --probs:\n"
            "                        teachers run on each image unaugmented, not at every step)\n"
            "  --distill X           the teachers' share of the targets, 0..1 (default 0.5)\n"
            "  --val-tta[=pair|zoom|flip|none] validation loss and accuracy, so the best\n"
            "                        model, with a test-time augmentation (bare: the tools'\n"
            "                        default, pair; flip: each image and its mirror; default none)\n"
            "  --patience N          early stop after N epochs without a better val loss (10, 0: off)\n"
            "  --lr-patience N       halve lr after N epochs without a better val loss (5, 0: off)\n"
            "  --lr-factor X         (0.5)             --min-lr X (1e-6)\n"
            "  --log FILE.csv        per-epoch metrics  --plot FILE.svg  loss/accuracy curves\n"
            "  --skip-bad            skip malformed CSV rows (counted) instead of failing\n"
            "  --quiet               no progress bar\n"
            "Every output is checked before training starts; none may be an input.\n"
            "Exit status: 0 trained, 1 a file could not be read or written (or training failed),\n"
            "2 usage error.\n");
    cli_help_common(f);
}

/* --augment alone turns every transform on; --augment=flip,shift only those. */
static int parse_augment(const char *list, fer_augment_opts *o)
{
    fer_augment_opts all;
    fer_augment_opts_default(&all);
    if (!list) {
        *o = all;
        return 1;
    }
    *o = (fer_augment_opts){0};
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 4 && !strncmp(p, "flip", n))
            o->flip = all.flip;
        else if (n == 5 && !strncmp(p, "shift", n))
            o->shift = all.shift;
        else if (n == 6 && !strncmp(p, "rotate", n))
            o->rotation = all.rotation;
        else if (n == 4 && !strncmp(p, "zoom", n))
            o->zoom = all.zoom;
        else if (n == 10 && !strncmp(p, "brightness", n))
            o->brightness = all.brightness;
        else
            return 0;
        p += n + (p[n] == ',');
    }
    return 1;
}

/* --classes: for a CSV each name must be a FER2013 emotion (and is stored as
 * its canonical name); a DIR's class folders may have any names. */
static int parse_classes(config *c, char *list, int folders)
{
    c->n_classes = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int idx = fer_emotion_index(tok);
        if (c->n_classes == FER_N_EMOTIONS) {
            cli_error(prog, "--classes: at most %d classes", FER_N_EMOTIONS);
            return 0;
        }
        if (idx < 0 && !folders) {
            cli_error(prog, "--classes: unknown class \"%s\" (FER2013 names: angry, disgust, "
                      "fear, happy, sad, surprise, neutral)", tok);
            return 0;
        }
        const char *name = folders ? tok : fer_emotion_names[idx];
        for (int i = 0; i < c->n_classes; i++)
            if (!strcasecmp(c->class_names[i], name)) {
                cli_error(prog, "--classes: \"%s\" given twice", tok);
                return 0;
            }
        c->class_names[c->n_classes++] = name;
    }
    if (c->n_classes < 2) {
        cli_error(prog, "--classes: need at least two classes");
        return 0;
    }
    return 1;
}

enum { O_DATA, O_OUT, O_CKPT, O_RESUME, O_EPOCHS, O_BATCH, O_LR, O_DECAY, O_SEED, O_THREADS,
       O_CLASSES, O_CLASS_WEIGHT, O_AUGMENT, O_VAL_SPLIT, O_INIT, O_ARCH, O_PATIENCE,
       O_LR_PATIENCE, O_LR_FACTOR, O_MIN_LR, O_LOG, O_PLOT, O_SKIP_BAD, O_QUIET, O_OPTIMIZER,
       O_MOMENTUM, O_WEIGHT_DECAY, O_SCHEDULE, O_WARMUP, O_SMOOTHING, O_VAL_TTA, O_TEACHER,
       O_DISTILL, O_SOFT_TARGETS, O_ERASE };

static const cli_opt option_list[] = {
    {"--data", CLI_VALUE},        {"--out", CLI_VALUE},         {"--checkpoint", CLI_VALUE},
    {"--resume", CLI_VALUE},      {"--epochs", CLI_VALUE},      {"--batch", CLI_VALUE},
    {"--lr", CLI_VALUE},          {"--decay", CLI_VALUE},       {"--seed", CLI_VALUE},
    {"--threads", CLI_VALUE},     {"--classes", CLI_VALUE},     {"--class-weight", CLI_VALUE},
    {"--augment", CLI_OPTIONAL},  {"--val-split", CLI_VALUE},   {"--init", CLI_VALUE},
    {"--arch", CLI_VALUE},        {"--patience", CLI_VALUE},    {"--lr-patience", CLI_VALUE},
    {"--lr-factor", CLI_VALUE},   {"--min-lr", CLI_VALUE},      {"--log", CLI_VALUE},
    {"--plot", CLI_VALUE},        {"--skip-bad", CLI_FLAG},     {"--quiet", CLI_FLAG},
    {"--optimizer", CLI_VALUE},   {"--momentum", CLI_VALUE},    {"--weight-decay", CLI_VALUE},
    {"--schedule", CLI_VALUE},    {"--warmup", CLI_VALUE},      {"--label-smoothing", CLI_VALUE},
    {"--val-tta", CLI_OPTIONAL},  {"--teacher", CLI_VALUE},     {"--distill", CLI_VALUE},
    {"--soft-targets", CLI_VALUE}, {"--erase", CLI_VALUE},
    {NULL, CLI_FLAG}};

/* An integer option in lo..hi into *out. */
static int set_int(const char *name, const char *v, long lo, long hi, int *out)
{
    long l;
    return cli_opt_long(prog, name, v, lo, hi, &l) && (*out = (int)l, 1);
}

static const char *const optimizers[] = {"adam", "sgd", "nesterov", NULL};
static const char *const schedules[] = {"plateau", "cosine", "onecycle", "constant", NULL};

/* v's index in names (NULL-terminated). */
static int set_name(const char *name, const char *v, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return 1;
        }
    char list[128] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    cli_error(prog, "%s: \"%s\" is not one of %s", name, v, list);
    return 0;
}

static int set_option(void *ctx, int k, const char *v)
{
    config *c = ctx;
    const char *name = option_list[k].name;
    int seed;
    switch (k) {
    case O_DATA: c->data = v; return 1;
    case O_OUT: c->out = v; return 1;
    case O_CKPT: c->ckpt = v; return 1;
    case O_RESUME: c->resume = v; return 1;
    case O_EPOCHS: return set_int(name, v, 1, 100000, &c->epochs);
    case O_BATCH: return set_int(name, v, 1, 4096, &c->batch);
    case O_LR: return cli_opt_double(prog, name, v, 1e-9, 1, &c->lr);
    case O_DECAY: return cli_opt_double(prog, name, v, 0, 1, &c->decay);
    case O_SEED: return set_int(name, v, 0, 0x7fffffffL, &seed) && (c->seed = (uint64_t)seed, 1);
    case O_THREADS: return set_int(name, v, 1, 256, &c->threads);
    case O_CLASSES: c->class_list = (char *)v; return 1; /* argv is writable; split in place */
    case O_CLASS_WEIGHT:
        return (c->balanced = !strcmp(v, "balanced")) || cli_bad_value(prog, name, v, "balanced");
    case O_AUGMENT:
        c->augment = 1;
        return parse_augment(v, &c->aug) ||
               cli_bad_value(prog, name, v, "a list of flip, shift, rotate, zoom, brightness");
    case O_VAL_SPLIT: return cli_opt_double(prog, name, v, 0.01, 0.9, &c->val_split);
    case O_INIT: c->init = v; return 1;
    case O_ARCH: c->arch = v; return 1;
    case O_PATIENCE: return set_int(name, v, 0, 100000, &c->patience);
    case O_LR_PATIENCE: return set_int(name, v, 0, 100000, &c->lr_patience);
    case O_LR_FACTOR: return cli_opt_double(prog, name, v, 0.01, 0.99, &c->lr_factor);
    case O_MIN_LR: return cli_opt_double(prog, name, v, 0, 1, &c->min_lr);
    case O_LOG: c->log = v; return 1;
    case O_PLOT: c->plot = v; return 1;
    case O_SKIP_BAD: c->skip_bad = 1; return 1;
    case O_QUIET: c->quiet = 1; return 1;
    case O_OPTIMIZER: return set_name(name, v, optimizers, &c->optimizer);
    case O_MOMENTUM: return cli_opt_double(prog, name, v, 0, 0.999, &c->momentum);
    case O_WEIGHT_DECAY: return cli_opt_double(prog, name, v, 0, 0.5, &c->weight_decay);
    case O_SCHEDULE: return set_name(name, v, schedules, &c->schedule);
    case O_WARMUP: return cli_opt_double(prog, name, v, 0, 1000, &c->warmup);
    case O_SMOOTHING: return cli_opt_double(prog, name, v, 0, 0.5, &c->smoothing);
    case O_VAL_TTA: return cli_parse_tta(prog, name, v, &c->val_tta);
    case O_DISTILL: return cli_opt_double(prog, name, v, 0, 1, &c->distill);
    case O_SOFT_TARGETS: c->soft_targets = v; return 1;
    case O_ERASE: return cli_opt_double(prog, name, v, 0, 1, &c->erase);
    case O_TEACHER:
        if (c->n_teachers == MAX_TEACHERS)
            return cli_bad_value(prog, name, v, "at most 8 teachers");
        c->teacher[c->n_teachers++] = v;
        return 1;
    }
    return 0;
}

/* Every output checked before any work: writable, not an input, and no two
 * outputs the same file (the checkpoint may be the file --resume reads). */
static int outputs_ok(const config *c)
{
    const char *out[] = {c->out, c->ckpt, c->log, c->plot};
    const char *in[] = {c->data, c->init, c->arch, c->resume, NULL, NULL, NULL};
    for (int i = 0; i < 4; i++) {
        if (!out[i])
            continue;
        int n = 3 + (i != 1); /* --resume is an input except to the checkpoint */
        for (int j = 0; j < i; j++)
            in[n++] = out[j];
        if (!cli_output_ok(prog, out[i], in, n))
            return 0;
    }
    return 1;
}

/* CLI_GO, CLI_DONE (--help, --version) or the usage exit status. */
static int parse_args(int argc, char **argv, config *c)
{
    static char default_ckpt[4096];
    *c = (config){.out = "model.safetensors", .epochs = 50, .batch = 64, .seed = 1,
                  .val_split = 0.1, .patience = 10, .lr_patience = 5, .lr_factor = 0.5,
                  .min_lr = 1e-6, .momentum = 0.9, .n_classes = FER_N_EMOTIONS, .distill = -1};
    for (int i = 0; i < FER_N_EMOTIONS; i++)
        c->class_names[i] = fer_emotion_names[i];
    cli_spec spec = {prog, usage, option_list, 0};
    int rc = cli_parse(&spec, argc, argv, set_option, c);
    if (rc != CLI_GO)
        return rc;
    if (!c->data)
        return cli_error(prog, "no training data: pass --data FILE.csv, - or DIR (see --help)"),
               CLI_USAGE;
    if (c->init && c->resume)
        return cli_error(prog, "--init and --resume exclude each other (a checkpoint has its own "
                               "weights)"), CLI_USAGE;
    if (c->arch && (c->init || c->resume))
        return cli_error(prog, "--arch starts a new model: it excludes --init and --resume"),
               CLI_USAGE;
    if (c->class_list && !parse_classes(c, c->class_list, cli_is_dir(c->data)))
        return CLI_USAGE;
    if (c->erase > 0) /* after --augment, whatever the order; alone it erases only */
        c->augment = 1, c->aug.erase = (float)c->erase;
    if (c->distill >= 0 && !c->n_teachers && !c->soft_targets)
        return cli_error(prog, "--distill needs --teacher FILE or --soft-targets FILE"), CLI_USAGE;
    if (c->n_teachers && c->soft_targets)
        return cli_error(prog, "--teacher and --soft-targets exclude each other"), CLI_USAGE;
    if ((c->n_teachers || c->soft_targets) && c->balanced)
        return cli_error(prog, "%s excludes --class-weight (the soft targets carry no class "
                               "weights)", c->n_teachers ? "--teacher" : "--soft-targets"),
               CLI_USAGE;
    if (c->distill < 0)
        c->distill = 0.5;
    if (!c->lr)
        c->lr = c->optimizer ? 0.01 : 1e-4;
    if (!c->ckpt) {
        snprintf(default_ckpt, sizeof default_ckpt, "%s.ckpt", c->out);
        c->ckpt = default_ckpt;
    }
    return outputs_ok(c) ? CLI_GO : 1; /* a file error, not a usage one */
}

static int load_data(const config *c, fer_dataset *ds)
{
    fer_error err = {0};
    fer_status s = cli_is_dir(c->data)
                       ? fer_dataset_load_dir(c->data, c->n_classes, c->class_names, ds, &err)
                       : fer_dataset_load_csv(c->data, c->skip_bad, ds, &err);
    if (s) {
        cli_error(prog, "%s", err.msg);
        return 0;
    }
    if (ds->n_bad)
        fprintf(stderr, "%s: skipped %zu bad rows (first: %s)\n", prog, ds->n_bad, ds->first_bad);
    return 1;
}

/* Training and validation indices, and the data-label -> class map. */
static int make_split(const config *c, const fer_dataset *ds, split *sp)
{
    int folders = cli_is_dir(c->data);
    for (int k = 0; k < FER_N_EMOTIONS; k++)
        sp->label_of[k] = folders ? (k < c->n_classes ? k : -1) : -1;
    for (int i = 0; !folders && i < c->n_classes; i++)
        sp->label_of[fer_emotion_index(c->class_names[i])] = i;
    sp->train = malloc(ds->n * sizeof *sp->train + 1);
    sp->val = malloc(ds->n * sizeof *sp->val + 1);
    sp->order = malloc(ds->n * sizeof *sp->order + 1);
    if (!sp->train || !sp->val || !sp->order) {
        cli_error(prog, "out of memory");
        return 0;
    }
    sp->n_train = sp->n_val = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->labels[i] < 0 || ds->labels[i] >= FER_N_EMOTIONS || sp->label_of[ds->labels[i]] < 0)
            continue;
        if (ds->usage[i] == FER_USAGE_TRAINING || ds->usage[i] == FER_USAGE_NONE)
            sp->train[sp->n_train++] = (int)i;
        else if (ds->usage[i] == FER_USAGE_PUBLIC_TEST)
            sp->val[sp->n_val++] = (int)i;
    }
    if (sp->n_val == 0) {
        /* No PublicTest rows: hold out a seeded random fraction of training. */
        fer_rng r;
        fer_rng_seed(&r, c->seed ^ 0x5eed5eedULL);
        fer_rng_shuffle(&r, sp->train, (size_t)sp->n_train);
        sp->n_val = (int)(sp->n_train * c->val_split);
        sp->n_train -= sp->n_val;
        memcpy(sp->val, sp->train + sp->n_train, (size_t)sp->n_val * sizeof *sp->val);
        fprintf(stderr, "%s: no PublicTest rows; validating on %d held-out rows (--val-split %g)\n",
                prog, sp->n_val, c->val_split);
    }
    if (sp->n_train == 0 || sp->n_val == 0) {
        cli_error(prog, "%s: %d training and %d validation images for the chosen classes: need both",
                  c->data, sp->n_train, sp->n_val);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ checkpoint */

/* A model file must predict exactly the classes asked for, in that order. */
static int same_classes(const config *c, const fer_model *m, const char *path)
{
    int same = fer_model_n_classes(m) == c->n_classes;
    for (int i = 0; same && i < c->n_classes; i++)
        same = !strcmp(fer_model_class_name(m, i), c->class_names[i]);
    if (!same)
        cli_error(prog, "%s: the model's classes differ from --classes", path);
    return same;
}

static fer_model *resume_from(const config *c, progress *p, fer_optim **opt)
{
    fer_model *m;
    char *extra;
    fer_error err;
    if (fer_checkpoint_load(c->resume, &m, opt, &extra, &err)) {
        cli_error(prog, "%s", err.msg);
        return NULL;
    }
    int ok = progress_parse(extra, p, c->epochs);
    free(extra);
    if (!ok)
        cli_error(prog, "%s: no valid training progress in the checkpoint (or more epochs done "
                  "than --epochs %d)", c->resume, c->epochs);
    if (!ok || !same_classes(c, m, c->resume)) {
        fer_model_free(m);
        fer_optim_free(*opt);
        *opt = NULL; /* run() frees it too */
        return NULL;
    }
    fprintf(stderr, "%s: resuming %s after epoch %d\n", prog, c->resume, p->epoch);
    return m;
}

/* ---------------------------------------------------------------- epochs */

static void class_weights(const config *c, const fer_dataset *ds, const split *sp, float *w)
{
    double count[FER_N_EMOTIONS] = {0};
    for (int i = 0; i < sp->n_train; i++)
        count[sp->label_of[ds->labels[sp->train[i]]]]++;
    for (int k = 0; k < c->n_classes; k++)
        w[k] = count[k] > 0 ? (float)(sp->n_train / (c->n_classes * count[k])) : 1.0f;
}

static void fill_batch(const config *c, const fer_dataset *ds, const split *sp, const int *idx,
                       int n, fer_rng *rng, float *x, int *y)
{
    size_t px = (size_t)ds->h * ds->w;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = ds->pixels + (size_t)idx[i] * px;
        if (c->augment)
            fer_augment(src, ds->h, ds->w, &c->aug, rng, x + i * px);
        else
            fer_preprocess(src, px, x + i * px);
        y[i] = sp->label_of[ds->labels[idx[i]]];
    }
}

/* The learning rate of step t of T (cosine, one-cycle, warm-up): a function
 * of the step alone, so a resumed run continues it. NAN: the optimiser's
 * own (plateau and constant, past any warm-up). */
static double scheduled_lr(const config *c, double t, double T, double steps_per_epoch)
{
    const double pi = 3.14159265358979323846;
    double lr = NAN, w = c->warmup * steps_per_epoch;
    if (c->schedule == SCHED_COSINE)
        lr = c->min_lr + (c->lr - c->min_lr) * 0.5 * (1 + cos(pi * t / T));
    else if (c->schedule == SCHED_ONECYCLE) {
        double up = 0.3 * T, lo = c->lr / 25, end = lo / 1e4;
        lr = t < up ? lo + (c->lr - lo) * 0.5 * (1 - cos(pi * t / up))
                    : end + (c->lr - end) * 0.5 * (1 + cos(pi * (t - up) / (T - up)));
    }
    if (t < w)
        lr = (isnan(lr) ? c->lr : lr) * (t + 1) / w;
    return lr;
}

/* What distillation trains against: teacher models run on every batch, or
 * their probabilities for each training image (read once); the batch's
 * targets and scratch. */
typedef struct distill {
    fer_model *teachers[MAX_TEACHERS];
    float *table; /* --soft-targets: images x classes, in the data set's order */
    float *soft;  /* the batch's targets, then (teachers only) scratch for their probabilities */
} distill;

/* The distillation targets of a batch: (1 - distill) x the labels (label
 * smoothed) + distill x the mean of the teachers' probabilities on the same
 * (augmented) images, or their probabilities for the images of idx read
 * from --soft-targets. probs: scratch of n x classes (teachers only). */
static fer_status soft_targets(const config *c, const distill *d, const int *idx, const float *x,
                               const int *y, int n, float *probs, float *t, fer_error *err)
{
    size_t len = (size_t)n * c->n_classes;
    float share = (float)c->distill / (float)c->n_teachers;
    float off = (float)c->smoothing / c->n_classes, on = 1 - (float)c->smoothing + off;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c->n_classes; k++)
            t[(size_t)i * c->n_classes + k] = (1 - (float)c->distill) * (k == y[i] ? on : off);
    if (d->table) {
        for (int i = 0; i < n; i++)
            for (int k = 0; k < c->n_classes; k++)
                t[(size_t)i * c->n_classes + k] +=
                    (float)c->distill * d->table[(size_t)idx[i] * c->n_classes + k];
        return FER_OK;
    }
    for (int j = 0; j < c->n_teachers; j++) {
        fer_status s = fer_model_predict(d->teachers[j], x, n, probs, err);
        if (s)
            return s;
        for (size_t q = 0; q < len; q++)
            t[q] += share * probs[q];
    }
    return FER_OK;
}

static int train_epoch(const config *c, fer_model *m, fer_optim *opt, const fer_dataset *ds,
                       split *sp, progress *p, const float *cw, const distill *d, float *x,
                       int *y, epoch_row *row)
{
    char label[64], extra[128];
    int steps = (sp->n_train + c->batch - 1) / c->batch;
    snprintf(label, sizeof label, "epoch %d/%d", p->epoch + 1, c->epochs);
    cli_progress bar;
    cli_progress_start(&bar, label, steps);
    /* Shuffle a fresh copy each epoch: the order then depends only on the
     * rng state, which the checkpoint carries, so a resumed run matches. */
    memcpy(sp->order, sp->train, (size_t)sp->n_train * sizeof *sp->order);
    fer_rng_shuffle(&p->rng, sp->order, (size_t)sp->n_train);
    double loss_sum = 0;
    long correct_sum = 0, seen = 0;
    for (int s = 0; s < steps; s++) {
        int n = sp->n_train - s * c->batch < c->batch ? sp->n_train - s * c->batch : c->batch;
        const int *idx = sp->order + s * c->batch;
        fill_batch(c, ds, sp, idx, n, &p->rng, x, y);
        float loss;
        int correct;
        fer_error err;
        double lr = scheduled_lr(c, (double)p->epoch * steps + s, (double)c->epochs * steps, steps);
        if (!isnan(lr) && fer_optim_set_lr(opt, (float)(lr > 1e-12 ? lr : 1e-12), &err)) {
            cli_error(prog, "epoch %d step %d: %s", p->epoch + 1, s + 1, err.msg);
            return 0;
        }
        float *soft = d->soft;
        float *probs = c->n_teachers ? soft + (size_t)c->batch * c->n_classes : NULL;
        if (soft ? soft_targets(c, d, idx, x, y, n, probs, soft, &err) ||
                       fer_model_train_step_soft(m, opt, &p->rng, x, soft, y, n, &loss, &correct, &err)
                 : fer_model_train_step(m, opt, &p->rng, x, y, n, cw, &loss, &correct, &err)) {
            cli_error(prog, "epoch %d step %d: %s", p->epoch + 1, s + 1, err.msg);
            return 0;
        }
        loss_sum += (double)loss * n, correct_sum += correct, seen += n;
        if (!c->quiet) {
            snprintf(extra, sizeof extra, "loss %.4f - acc %.4f - %.0f img/s", loss_sum / seen,
                     (double)correct_sum / seen, seen / (cli_now() - bar.start));
            cli_progress_update(&bar, s + 1, extra);
        }
    }
    row->seconds = cli_now() - bar.start;
    row->loss = loss_sum / seen;
    row->acc = (double)correct_sum / seen;
    row->images_per_s = seen / row->seconds;
    snprintf(extra, sizeof extra, "loss %.4f - acc %.4f - %.0f img/s", row->loss, row->acc,
             row->images_per_s);
    cli_progress_finish(&bar, steps, extra);
    return 1;
}

/* Loss and correct count of n validation images through the tools' call,
 * fer_model_predict_crops with test-time augmentation (crops: scratch for n
 * images, probs for n x classes). */
static fer_status evaluate_tta(const config *c, fer_model *m, const fer_dataset *ds,
                               const split *sp, const int *idx, int n, uint8_t *crops,
                               float *probs, double *loss, long *correct, fer_error *err)
{
    size_t px = (size_t)ds->h * ds->w;
    for (int i = 0; i < n; i++)
        memcpy(crops + i * px, ds->pixels + (size_t)idx[i] * px, px);
    fer_status s = fer_model_predict_crops(m, crops, n, c->val_tta, probs, err);
    for (int i = 0; !s && i < n; i++) {
        const float *p = probs + (size_t)i * c->n_classes;
        int y = sp->label_of[ds->labels[idx[i]]], best = 0;
        for (int k = 1; k < c->n_classes; k++)
            best = p[k] > p[best] ? k : best;
        *correct += best == y;
        *loss -= log(p[y] > 1e-12f ? p[y] : 1e-12f);
    }
    return s;
}

static int validate(const config *c, fer_model *m, const fer_dataset *ds, const split *sp, float *x,
                    int *y, epoch_row *row)
{
    double loss = 0;
    long correct = 0;
    size_t px = (size_t)ds->h * ds->w;
    uint8_t *crops = c->val_tta ? malloc((size_t)c->batch * px) : NULL;
    float *probs = c->val_tta ? malloc((size_t)c->batch * c->n_classes * sizeof *probs) : NULL;
    fer_error err;
    if (c->val_tta && (!crops || !probs)) {
        free(crops);
        free(probs);
        cli_error(prog, "validation: out of memory");
        return 0;
    }
    for (int i0 = 0; i0 < sp->n_val; i0 += c->batch) {
        int n = sp->n_val - i0 < c->batch ? sp->n_val - i0 : c->batch;
        float ls;
        int right;
        fer_status s;
        if (c->val_tta) {
            s = evaluate_tta(c, m, ds, sp, sp->val + i0, n, crops, probs, &loss, &correct, &err);
        } else {
            fill_batch(&(config){.augment = 0}, ds, sp, sp->val + i0, n, NULL, x, y);
            s = fer_model_evaluate(m, x, y, n, &ls, &right, NULL, &err);
            loss += ls, correct += right;
        }
        if (s) {
            free(crops);
            free(probs);
            cli_error(prog, "validation: %s", err.msg);
            return 0;
        }
    }
    free(crops);
    free(probs);
    row->val_loss = loss / sp->n_val;
    row->val_acc = (double)correct / sp->n_val;
    return 1;
}

static int write_log(const config *c, const progress *p)
{
    size_t cap = 256 + (size_t)p->epoch * 160, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return 0;
    len += (size_t)snprintf(buf, cap, "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,images_per_s\n");
    for (int e = 0; e < p->epoch; e++) {
        const epoch_row *r = &p->rows[e];
        len += (size_t)snprintf(buf + len, cap - len, "%d,%.6f,%.6f,%.6f,%.6f,%.3g,%.2f,%.1f\n", e + 1,
                                r->loss, r->acc, r->val_loss, r->val_acc, r->lr, r->seconds,
                                r->images_per_s);
    }
    fer_error err;
    int ok = fer_file_write_atomic(c->log, buf, len, &err) == FER_OK;
    if (!ok)
        cli_error(prog, "%s", err.msg);
    free(buf);
    return ok;
}

static int write_plot(const config *c, const progress *p)
{
    int n = p->epoch;
    double *v = malloc(sizeof(double) * 4 * (size_t)(n + 1));
    if (!v)
        return 0;
    for (int e = 0; e < n; e++) {
        v[e] = p->rows[e].loss, v[n + e] = p->rows[e].val_loss;
        v[2 * n + e] = p->rows[e].acc, v[3 * n + e] = p->rows[e].val_acc;
    }
    char title[160];
    snprintf(title, sizeof title, "fer-train: %d epoch%s, best validation accuracy %.4f", n,
             n == 1 ? "" : "s", p->best_val_acc);
    fer_error err;
    int ok = plot_curves_svg(c->plot, title, n, v, v + n, v + 2 * n, v + 3 * n, &err) == FER_OK;
    if (!ok)
        cli_error(prog, "%s", err.msg);
    free(v);
    return ok;
}

/* Keras' ReduceLROnPlateau and EarlyStopping on validation loss. Returns 1
 * to stop. */
static int plateau(const config *c, fer_optim *opt, progress *p, const epoch_row *row)
{
    if (row->val_loss < p->best_val_loss - 1e-4) {
        p->best_val_loss = row->val_loss;
        p->since_best_loss = 0;
        p->since_lr_change = 0;
        return 0;
    }
    p->since_best_loss++;
    p->since_lr_change++;
    if (c->schedule == SCHED_PLATEAU && c->lr_patience && p->since_lr_change >= c->lr_patience &&
        fer_optim_lr(opt) > c->min_lr) {
        double lr = fer_optim_lr(opt) * c->lr_factor;
        fer_optim_set_lr(opt, (float)(lr < c->min_lr ? c->min_lr : lr), NULL);
        p->since_lr_change = 0;
        fprintf(stderr, "%s: validation loss flat for %d epoch%s: learning rate now %.3g\n", prog,
                c->lr_patience, c->lr_patience == 1 ? "" : "s", (double)fer_optim_lr(opt));
    }
    return c->patience && p->since_best_loss >= c->patience;
}

static int end_epoch(const config *c, fer_model *m, fer_optim *opt, progress *p, epoch_row *row,
                     int *stop)
{
    fer_error err;
    row->lr = fer_optim_lr(opt);
    p->rows[p->epoch++] = *row;
    int best = row->val_acc > p->best_val_acc;
    if (best) {
        p->best_val_acc = row->val_acc;
        if (fer_model_save(m, NULL, NULL, c->out, &err)) {
            cli_error(prog, "%s", err.msg);
            return 0;
        }
    }
    fprintf(stderr, "val_loss %.4f - val_acc %.4f - lr %.3g%s%s\n", row->val_loss, row->val_acc,
            row->lr, best ? " - best so far, saved to " : "", best ? c->out : "");
    *stop = plateau(c, opt, p, row);
    char *json = progress_json(p);
    fer_status s = json ? fer_model_save(m, opt, json, c->ckpt, &err) : FER_ENOMEM;
    free(json);
    if (s) {
        cli_error(prog, "%s", s == FER_ENOMEM ? "out of memory" : err.msg);
        return 0;
    }
    return (!c->log || write_log(c, p)) && (!c->plot || write_plot(c, p));
}

/* The teachers (checked against the student m), or the --soft-targets
 * table (every training image in it), and the batch buffers. */
static int distill_open(const config *c, const fer_model *m, const fer_dataset *ds,
                        const split *sp, distill *d)
{
    fer_error err;
    if (!c->n_teachers && !c->soft_targets)
        return 1;
    /* a teacher's probabilities need a second batch of scratch; a table does not */
    size_t batches = c->n_teachers ? 2 : 1;
    if (!(d->soft = malloc((size_t)c->batch * c->n_classes * batches * sizeof *d->soft)))
        return cli_error(prog, "out of memory"), 0;
    if (c->soft_targets) {
        if (fer_probs_read(c->soft_targets, ds, m, &d->table, &err))
            return cli_error(prog, "%s", err.msg), 0;
        for (int i = 0; i < sp->n_train; i++)
            if (isnan(d->table[(size_t)sp->train[i] * c->n_classes]))
                return cli_error(prog, "%s: no probabilities for training image %d (of %zu)",
                                 c->soft_targets, sp->train[i], ds->n), 0;
        return 1;
    }
    for (int j = 0; j < c->n_teachers; j++) {
        if (fer_model_load(c->teacher[j], &d->teachers[j], &err) ||
            fer_model_set_threads(d->teachers[j], c->threads, &err))
            return cli_error(prog, "%s", strstr(err.msg, c->teacher[j]) ? err.msg : c->teacher[j]), 0;
        int ch, h, w, sc, sh, sw;
        fer_model_input_shape(d->teachers[j], &ch, &h, &w);
        fer_model_input_shape(m, &sc, &sh, &sw);
        if (!same_classes(c, d->teachers[j], c->teacher[j]))
            return 0;
        if (ch != sc || h != sh || w != sw)
            return cli_error(prog, "%s: takes %dx%dx%d input, the model %dx%dx%d", c->teacher[j],
                             ch, h, w, sc, sh, sw), 0;
    }
    return 1;
}

static void distill_close(const config *c, distill *d)
{
    for (int j = 0; j < c->n_teachers; j++)
        fer_model_free(d->teachers[j]);
    free(d->table);
    free(d->soft);
}

static int run(const config *c, const fer_dataset *ds, split *sp)
{
    progress p = {.best_val_acc = -1, .best_val_loss = INFINITY};
    p.rows = calloc((size_t)c->epochs + 1, sizeof *p.rows);
    fer_model *m = NULL;
    fer_optim *opt = NULL;
    fer_error err;
    float cw[FER_N_EMOTIONS];
    size_t px = (size_t)ds->h * ds->w;
    float *x = malloc((size_t)c->batch * px * sizeof *x);
    int *y = malloc((size_t)c->batch * sizeof *y), ok = p.rows && x && y;
    if (ok && c->resume)
        ok = (m = resume_from(c, &p, &opt)) != NULL;
    else if (ok) {
        fer_rng_seed(&p.rng, c->seed);
        if (c->arch_model)
            m = c->arch_model, ok = 1;
        else
            ok = c->init ? !fer_model_load(c->init, &m, &err)
                         : !fer_model_paper_cnn(c->n_classes, c->class_names, c->seed, &m, &err);
        fer_optim_opts o;
        fer_optim_opts_default(&o, c->optimizer ? FER_SGD : FER_ADAM);
        o.lr = (float)c->lr, o.decay = (float)c->decay, o.weight_decay = (float)c->weight_decay;
        if (c->optimizer)
            o.momentum = (float)c->momentum, o.nesterov = c->optimizer == 2;
        ok = ok && !fer_optim_new(m, &o, &opt, &err);
        if (!ok)
            cli_error(prog, "%s", err.msg);
        else if (c->init)
            ok = same_classes(c, m, c->init);
    }
    if (ok && ((ok = !fer_model_set_threads(m, c->threads, &err) &&
                     !fer_model_set_label_smoothing(m, (float)c->smoothing, &err)) == 0))
        cli_error(prog, "%s", err.msg);
    if (ok && c->balanced)
        class_weights(c, ds, sp, cw);
    distill d = {.table = NULL};
    ok = ok && distill_open(c, m, ds, sp, &d);
    if (ok)
        fprintf(stderr, "%s: %d training, %d validation images, %d classes, %zu parameters, %d threads\n",
                prog, sp->n_train, sp->n_val, c->n_classes, fer_model_n_params(m), c->threads ? c->threads : fer_threads_default());
    int stop = 0;
    while (ok && !stop && p.epoch < c->epochs) {
        epoch_row row = {0};
        ok = train_epoch(c, m, opt, ds, sp, &p, c->balanced ? cw : NULL, &d, x, y, &row) &&
             validate(c, m, ds, sp, x, y, &row) && end_epoch(c, m, opt, &p, &row, &stop);
    }
    if (ok)
        fprintf(stderr, "%s: %s after %d epoch%s; best validation accuracy %.4f in %s\n", prog,
                stop ? "early stop" : "done", p.epoch, p.epoch == 1 ? "" : "s", p.best_val_acc,
                c->out);
    if (m != c->arch_model) /* main owns that one */
        fer_model_free(m);
    distill_close(c, &d);
    fer_optim_free(opt);
    free(p.rows);
    free(x);
    free(y);
    return ok;
}

/* --arch: the model is built before the data is read, because its classes
 * name the class folders (or must be FER2013 emotions for a CSV). */
static int load_arch(config *c)
{
    char *json = NULL;
    size_t len;
    fer_error err;
    if (fer_file_read(c->arch, 1 << 20, &json, &len, &err) ||
        fer_model_from_json(json, c->seed, &c->arch_model, &err)) {
        if (strstr(err.msg, c->arch))
            cli_error(prog, "%s", err.msg);
        else
            cli_error(prog, "%s: %s", c->arch, err.msg);
        free(json);
        return 0;
    }
    free(json);
    int n = fer_model_n_classes(c->arch_model);
    if (c->class_list)
        return same_classes(c, c->arch_model, c->arch);
    if (n > FER_N_EMOTIONS) {
        cli_error(prog, "%s: %d classes; fer-train takes at most %d", c->arch, n, FER_N_EMOTIONS);
        return 0;
    }
    int folders = cli_is_dir(c->data);
    c->n_classes = n;
    for (int i = 0; i < n; i++) {
        const char *name = fer_model_class_name(c->arch_model, i);
        int idx = fer_emotion_index(name);
        if (!folders && idx < 0) {
            cli_error(prog, "%s: class \"%s\" is not a FER2013 emotion (a CSV has only those)",
                      c->arch, name);
            return 0;
        }
        c->class_names[i] = folders ? name : fer_emotion_names[idx];
    }
    return 1;
}

int main(int argc, char **argv)
{
    config c;
    cli_start();
    int r = parse_args(argc, argv, &c);
    if (r != CLI_GO)
        return cli_stdout_ok(prog) ? (r == CLI_DONE ? 0 : r) : 1;
    long threads = c.threads;
    if (!cli_threads(prog, &threads))
        return 2;
    c.threads = (int)threads;
    if (c.arch && !load_arch(&c)) {
        fer_model_free(c.arch_model);
        return 2;
    }
    fer_dataset ds;
    split sp = {0};
    int ok = load_data(&c, &ds) && make_split(&c, &ds, &sp) && run(&c, &ds, &sp);
    if (ok && ds.n_bad) /* said at load time too; repeated where a long run's log ends */
        fprintf(stderr, "%s: %zu bad rows were skipped (--skip-bad; the first is named above)\n", prog, ds.n_bad);
    fer_dataset_free(&ds);
    fer_model_free(c.arch_model);
    free(sp.train);
    free(sp.val);
    free(sp.order);
    return cli_stdout_ok(prog) && ok ? 0 : 1;
}
