/* fer-predict: emotion of the faces in photos, fused with an optional heart
 * rate into a final state such as "Happy and excited". Text by default, or
 * one JSON object per image and line (--json; schema in docs/tools.md). */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *prog = "fer-predict";

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, MAX_CLASSES = 64 };

typedef struct options {
    const char *weights, *cascade, *hr_file, *annotate;
    const char *bpm_text;
    int no_detect, json, age, age_set;
    double margin, resting_bpm, face_weight, heart_weight;
    long threads;
    fer_detect_opts detect;
    char **images;
    int n_images;
} options;

static void usage_text(FILE *out)
{
    fprintf(out,
            "usage: fer-predict [options] IMAGE...\n"
            "Finds the faces in each image, classifies their emotion with the CNN and fuses\n"
            "the largest face with an optional heart rate into a state such as\n"
            "\"Happy and excited\" (docs/heart-and-fusion.md).\n"
            "  --weights W          model (default: the shipped %s)\n"
            "  --cascade XML        OpenCV Haar cascade (default %s)\n"
            "  --no-detect          the whole image is the face (e.g. a 48x48 crop)\n"
            "  --scale-factor F     detector pyramid step, > 1 (default 1.1)\n"
            "  --min-neighbors N    detections needed to keep a face (default 3)\n"
            "  --min-size PX        smallest face in pixels (default 30)\n"
            "  --margin M           crop margin around each face, fraction of its size\n"
            "                       (default 0.1)\n"
            "  --bpm N              heart rate now, in beats per minute\n"
            "  --hr FILE            heart rate series: CSV 'seconds,bpm' or RR intervals in ms\n"
            "  --age N              years, for the resting range (default adult: 60-100 bpm)\n"
            "  --resting-bpm N      personal resting heart rate (overrides --age)\n"
            "  --face-weight W      weight of the face's arousal in the fusion (default 1)\n"
            "  --heart-weight W     weight of heart-rate arousal (default 2)\n"
            "  --json               one JSON object per image and line\n"
            "  --annotate OUT.png   draw boxes and labels (one image only)\n"
            "  --threads N          inference threads (default: all CPUs or $FER_THREADS)\n"
            "Exit status: 0 all images done, 1 an image failed or had no face, 2 usage error.\n",
            CLI_WEIGHTS_7, FER_DEFAULT_CASCADE);
}

/* ------------------------------------------------------------ arguments */

enum { O_WEIGHTS, O_CASCADE, O_SCALE, O_NEIGH, O_MINSIZE, O_MARGIN, O_BPM, O_HR, O_AGE,
       O_RESTING, O_FACEW, O_HEARTW, O_ANNOTATE, O_THREADS, O_COUNT };

static const char *const value_options[O_COUNT] = {
    "--weights", "--cascade", "--scale-factor", "--min-neighbors", "--min-size",
    "--margin", "--bpm", "--hr", "--age", "--resting-bpm", "--face-weight",
    "--heart-weight", "--annotate", "--threads"};

/* Stores one option's value; 0 (with a message) when it is not acceptable. */
static int set_option(options *o, int k, const char *v)
{
    long l;
    const char *name = value_options[k];
    if (!*v)
        return cli_error(prog, "%s: empty value", name), 0;
    switch (k) {
    case O_WEIGHTS: o->weights = v; return 1;
    case O_CASCADE: o->cascade = v; return 1;
    case O_HR: o->hr_file = v; return 1;
    case O_ANNOTATE: o->annotate = v; return 1;
    case O_BPM: o->bpm_text = v; return 1; /* judged by the heart module */
    case O_SCALE:
        if (cli_parse_double(v, 1.001, 4, &o->detect.scale_factor))
            return 1;
        return cli_error(prog, "%s '%s': expected a number in 1.001..4", name, v), 0;
    case O_NEIGH:
        if (cli_parse_long(v, 0, 1000, &l))
            return o->detect.min_neighbors = (int)l, 1;
        return cli_error(prog, "%s '%s': expected an integer 0..1000", name, v), 0;
    case O_MINSIZE:
        if (cli_parse_long(v, 1, 100000, &l))
            return o->detect.min_size = (int)l, 1;
        return cli_error(prog, "%s '%s': expected an integer 1..100000", name, v), 0;
    case O_MARGIN:
        if (cli_parse_double(v, 0, 1, &o->margin))
            return 1;
        return cli_error(prog, "%s '%s': expected a fraction 0..1", name, v), 0;
    case O_AGE:
        if (cli_parse_long(v, 1, 120, &l))
            return o->age = (int)l, o->age_set = 1;
        return cli_error(prog, "%s '%s': expected whole years 1..120", name, v), 0;
    case O_RESTING:
        if (cli_parse_double(v, 30, 200, &o->resting_bpm))
            return 1;
        return cli_error(prog, "%s '%s': expected a resting rate 30..200 bpm", name, v), 0;
    case O_FACEW:
    case O_HEARTW:
        if (cli_parse_double(v, 0, 1e6, k == O_FACEW ? &o->face_weight : &o->heart_weight))
            return 1;
        return cli_error(prog, "%s '%s': expected a weight >= 0", name, v), 0;
    case O_THREADS:
        if (cli_parse_long(v, 1, 1024, &o->threads))
            return 1;
        return cli_error(prog, "%s '%s': expected an integer 1..1024", name, v), 0;
    }
    return 0;
}

static int check_combinations(const options *o)
{
    if (o->n_images == 0)
        return cli_error(prog, "no image given (see --help)"), 0;
    if (o->bpm_text && o->hr_file)
        return cli_error(prog, "give either --bpm or --hr, not both"), 0;
    if ((o->age_set || o->resting_bpm > 0) && !o->bpm_text && !o->hr_file)
        return cli_error(prog, "--age and --resting-bpm need --bpm or --hr"), 0;
    if (o->annotate && o->n_images != 1)
        return cli_error(prog, "--annotate draws one image; %d given", o->n_images), 0;
    if (o->face_weight + o->heart_weight <= 0)
        return cli_error(prog, "--face-weight and --heart-weight cannot both be 0"), 0;
    return 1;
}

/* Returns 0 to go on, -1 after --help, else an exit status. */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.margin = 0.1, .face_weight = 1, .heart_weight = 2};
    fer_detect_opts_default(&o->detect);
    fer_fusion_opts f;
    fer_fusion_opts_default(&f);
    o->face_weight = f.face_weight;
    o->heart_weight = f.heart_weight;
    o->images = calloc((size_t)argc, sizeof *o->images);
    if (!o->images)
        return cli_error(prog, "out of memory"), EXIT_USAGE;
    int only_images = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (only_images || a[0] != '-' || !strcmp(a, "-")) {
            o->images[o->n_images++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--"))
            only_images = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage_text(stdout), -1;
        else if (!strcmp(a, "--json"))
            o->json = 1;
        else if (!strcmp(a, "--no-detect"))
            o->no_detect = 1;
        else {
            int k = 0;
            while (k < O_COUNT && !cli_is_option(a, value_options[k]))
                k++;
            if (k == O_COUNT)
                return cli_error(prog, "unknown option '%s' (see --help)", a), EXIT_USAGE;
            if (!(v = cli_option_value(prog, argc, argv, &i, value_options[k])) || !set_option(o, k, v))
                return EXIT_USAGE;
        }
    }
    return check_combinations(o) ? 0 : EXIT_USAGE;
}

/* ------------------------------------------------------------ resources */

typedef struct context {
    options opt;
    fer_model *model;
    fer_cascade *cascade;
    int c, h, w, n_classes;
    int slot[MAX_CLASSES]; /* FER2013 index of each model class */
    fer_heart heart;
    int has_heart;
} context;

static int load_heart(context *cx)
{
    const options *o = &cx->opt;
    fer_hr_opts ho = {.age = o->age, .resting_bpm = o->resting_bpm};
    fer_error err = {0};
    if (o->bpm_text) {
        if (!cli_parse_bpm(prog, o->bpm_text, &ho, &cx->heart))
            return 0;
    } else if (o->hr_file) {
        if (fer_heart_from_file(o->hr_file, &ho, &cx->heart, &err) != FER_OK)
            return cli_error(prog, "%s", err.msg), 0;
    } else {
        return 1;
    }
    cx->has_heart = 1;
    return 1;
}

/* Every model class must be a different one of the seven FER2013 emotions. */
static int map_classes(context *cx, const char *path)
{
    for (int j = 0; j < cx->n_classes; j++) {
        const char *name = fer_model_class_name(cx->model, j);
        cx->slot[j] = fer_emotion_index(name);
        if (cx->slot[j] < 0)
            return cli_error(prog, "%s: class '%s' is not a FER2013 emotion", path,
                             name ? name : "(null)"), 0;
        for (int i = 0; i < j; i++)
            if (cx->slot[i] == cx->slot[j])
                return cli_error(prog, "%s: classes %d and %d are both '%s'", path, i, j,
                                 fer_emotion_names[cx->slot[j]]), 0;
    }
    return 1;
}

static int load_model(context *cx)
{
    char buf[4096];
    const char *path = cx->opt.weights;
    if (!path && !(path = cli_data_path(CLI_WEIGHTS_7, buf, sizeof buf)))
        return cli_error(prog, "no weights found: %s does not exist (train a model, or pass "
                         "--weights FILE)", buf), 0;
    fer_error err = {0};
    if (fer_model_load(path, &cx->model, &err) != FER_OK ||
        (cx->opt.threads && fer_model_set_threads(cx->model, (int)cx->opt.threads, &err)))
        return cli_error(prog, "%s", err.msg), 0;
    fer_model_input_shape(cx->model, &cx->c, &cx->h, &cx->w);
    cx->n_classes = fer_model_n_classes(cx->model);
    if (cx->c != 1 || cx->h < 1 || cx->w < 1 || cx->h > 1024 || cx->w > 1024 ||
        cx->n_classes < 2 || cx->n_classes > MAX_CLASSES)
        return cli_error(prog, "%s: model takes %dx%dx%d input with %d classes; fer-predict "
                         "needs grey (1-channel) input and 2..%d classes", path, cx->c, cx->h,
                         cx->w, cx->n_classes, MAX_CLASSES), 0;
    return map_classes(cx, path);
}

static int load_cascade(context *cx)
{
    if (cx->opt.no_detect)
        return 1;
    fer_error err = {0};
    const char *path = cx->opt.cascade ? cx->opt.cascade : FER_DEFAULT_CASCADE;
    if (fer_cascade_load(path, &cx->cascade, &err) != FER_OK)
        return cli_error(prog, "%s%s", err.msg,
                         cx->opt.cascade ? "" : " (install opencv-data, or pass --cascade XML)"),
               0;
    return 1;
}

/* ------------------------------------------------------------ one image */

typedef struct result {
    const char *path;
    fer_box *boxes;
    size_t n;
    float *probs7; /* n x 7, FER2013 order */
    fer_state state; /* for the largest face (boxes[0]) when n > 0 */
} result;

static void result_free(result *r)
{
    free(r->boxes);
    free(r->probs7);
}

/* Prints "prog: path: msg" unless msg already names the path. */
static void image_error(const char *path, const char *msg)
{
    if (strstr(msg, path))
        cli_error(prog, "%s", msg);
    else
        cli_error(prog, "%s: %s", path, msg);
}

static int find_faces(const context *cx, const fer_image *img, result *r)
{
    if (cx->opt.no_detect) {
        r->boxes = malloc(sizeof *r->boxes);
        if (!r->boxes)
            return image_error(r->path, "out of memory"), 0;
        r->boxes[0] = (fer_box){0, 0, img->w, img->h};
        r->n = 1;
        return 1;
    }
    fer_error err = {0};
    if (fer_detect_faces(cx->cascade, img, &cx->opt.detect, &r->boxes, &r->n, &err) != FER_OK)
        return image_error(r->path, err.msg), 0;
    return 1;
}

/* The crop fed to the model: the face box grown by the margin. */
static fer_status crop_face(const context *cx, const fer_image *img, fer_box b, uint8_t *px,
                            fer_error *err)
{
    fer_box c = fer_face_crop_box(img, b, cx->opt.margin);
    return fer_image_crop_resize(img, c.x, c.y, c.w, c.h, cx->w, cx->h, px, err);
}

static int classify_faces(context *cx, const fer_image *img, result *r)
{
    size_t hw = (size_t)cx->h * (size_t)cx->w, k = (size_t)cx->n_classes;
    uint8_t *px = malloc(hw);
    float *x = malloc(r->n * hw * sizeof *x), *p = malloc(r->n * k * sizeof *p);
    r->probs7 = calloc(r->n * FER_N_EMOTIONS, sizeof *r->probs7);
    fer_error err = {0};
    fer_status st = px && x && p && r->probs7 ? FER_OK : FER_ENOMEM;
    if (st)
        snprintf(err.msg, sizeof err.msg, "out of memory for %zu faces", r->n);
    for (size_t i = 0; !st && i < r->n; i++) {
        st = crop_face(cx, img, r->boxes[i], px, &err);
        if (!st)
            fer_preprocess(px, hw, x + i * hw);
    }
    if (!st)
        st = fer_model_predict(cx->model, x, (int)r->n, p, &err);
    for (size_t i = 0; !st && i < r->n; i++)
        for (size_t j = 0; j < k; j++)
            r->probs7[i * FER_N_EMOTIONS + (size_t)cx->slot[j]] = p[i * k + j];
    free(px);
    free(x);
    free(p);
    if (st)
        image_error(r->path, err.msg);
    return !st;
}

static int fuse_largest(const context *cx, result *r)
{
    fer_fusion_opts fo = {cx->opt.face_weight, cx->opt.heart_weight};
    fer_error err = {0};
    if (fer_fuse(r->probs7, cx->has_heart ? &cx->heart : NULL, &fo, &r->state, &err) != FER_OK)
        return image_error(r->path, err.msg), 0;
    return 1;
}

/* ------------------------------------------------------------ output */

static double round4(double v) { return round(v * 1e4) / 1e4; }

static int argmax7(const float *p)
{
    int best = 0;
    for (int e = 1; e < FER_N_EMOTIONS; e++)
        if (p[e] > p[best])
            best = e;
    return best;
}

static const char *intensity_json(fer_intensity i)
{
    return i == FER_MILDLY ? "Mildly" : i == FER_VERY ? "Very" : "plain";
}

static cJSON *face_json(const context *cx, const fer_box *b, const float *p7)
{
    cJSON *f = cJSON_CreateObject(), *probs = cJSON_CreateObject();
    int box[4] = {b->x, b->y, b->w, b->h};
    cJSON_AddItemToObject(f, "box", cJSON_CreateIntArray(box, 4));
    for (int e = 0; e < FER_N_EMOTIONS; e++) /* the model's classes, in FER2013 order */
        for (int j = 0; j < cx->n_classes; j++)
            if (cx->slot[j] == e)
                cJSON_AddNumberToObject(probs, fer_emotion_names[e], round4(p7[e]));
    cJSON_AddItemToObject(f, "probabilities", probs);
    int best = argmax7(p7);
    cJSON_AddStringToObject(f, "emotion", fer_emotion_names[best]);
    cJSON_AddNumberToObject(f, "confidence", round4(p7[best]));
    return f;
}

static cJSON *heart_json(const context *cx)
{
    if (!cx->has_heart)
        return cJSON_CreateNull();
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "bpm", round4(cx->heart.bpm));
    cJSON_AddStringToObject(h, "level", fer_hr_level_name(cx->heart.level));
    cJSON_AddNumberToObject(h, "arousal", round4(cx->heart.arousal));
    return h;
}

static cJSON *state_json(const result *r)
{
    if (r->n == 0)
        return cJSON_CreateNull();
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "emotion", r->state.emotion_name);
    cJSON_AddStringToObject(s, "intensity", intensity_json(r->state.intensity));
    cJSON_AddStringToObject(s, "label", r->state.label);
    cJSON_AddNumberToObject(s, "valence", round4(r->state.valence));
    cJSON_AddNumberToObject(s, "arousal", round4(r->state.arousal));
    return s;
}

static int print_json(const context *cx, const result *r)
{
    cJSON *o = cJSON_CreateObject(), *faces = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "image", r->path);
    for (size_t i = 0; i < r->n; i++)
        cJSON_AddItemToArray(faces, face_json(cx, &r->boxes[i], r->probs7 + i * FER_N_EMOTIONS));
    cJSON_AddItemToObject(o, "faces", faces);
    cJSON_AddItemToObject(o, "heart", heart_json(cx));
    cJSON_AddItemToObject(o, "state", state_json(r));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return image_error(r->path, "out of memory building JSON"), 0;
    puts(text);
    cJSON_free(text);
    return 1;
}

static void print_heart_text(const fer_heart *h)
{
    printf("  heart: %.1f bpm, %s (resting range %.0f-%.0f), arousal %.2f", h->bpm,
           fer_hr_level_name(h->level), h->rest_lo, h->rest_hi, h->arousal);
    if (h->n_samples > 1)
        printf("; %d samples (%d removed), trend %+.1f bpm/min", h->n_samples, h->n_removed,
               h->trend);
    if (!isnan(h->rmssd_ms))
        printf(", RMSSD %.1f ms", h->rmssd_ms);
    if (!isnan(h->sdnn_ms))
        printf(", SDNN %.1f ms", h->sdnn_ms);
    putchar('\n');
}

static void print_text(const context *cx, const result *r)
{
    printf("%s: %zu face%s\n", r->path, r->n, r->n == 1 ? "" : "s");
    for (size_t i = 0; i < r->n; i++) {
        const fer_box *b = &r->boxes[i];
        const float *p = r->probs7 + i * FER_N_EMOTIONS;
        int best = argmax7(p);
        printf("  face %zu at %d,%d %dx%d: %s %.0f%% (", i + 1, b->x, b->y, b->w, b->h,
               fer_emotion_names[best], 100.0 * p[best]);
        for (int j = 0; j < cx->n_classes; j++)
            printf("%s%s %.2f", j ? ", " : "", fer_emotion_names[cx->slot[j]], p[cx->slot[j]]);
        printf(")\n");
    }
    if (cx->has_heart)
        print_heart_text(&cx->heart);
    if (r->n > 0)
        printf("  state: %s (emotion %s, intensity %s, arousal %s; valence %+.2f, "
               "arousal %.2f)\n", r->state.label, r->state.emotion_name,
               intensity_json(r->state.intensity), r->state.arousal_phrase, r->state.valence,
               r->state.arousal);
}

/* Boxes labelled with their emotion; the largest face with the fused state. */
static int annotate(const context *cx, const result *r)
{
    char (*text)[128] = calloc(r->n ? r->n : 1, sizeof *text);
    const char **labels = calloc(r->n ? r->n : 1, sizeof *labels);
    fer_error err = {0};
    fer_status st = text && labels ? FER_OK : FER_ENOMEM;
    for (size_t i = 0; !st && i < r->n; i++) {
        const float *p = r->probs7 + i * FER_N_EMOTIONS;
        int best = argmax7(p);
        if (i == 0)
            snprintf(text[i], sizeof text[i], "%s", r->state.label);
        else
            snprintf(text[i], sizeof text[i], "%s %.0f%%", fer_emotion_names[best], 100.0 * p[best]);
        labels[i] = text[i];
    }
    if (!st)
        st = fer_image_annotate(r->path, r->boxes, labels, r->n, cx->opt.annotate, &err);
    else
        snprintf(err.msg, sizeof err.msg, "out of memory");
    free(text);
    free(labels);
    if (st)
        image_error(cx->opt.annotate, err.msg);
    return !st;
}

/* Returns 1 when the image gave a state, 0 on a failure or when no face was found. */
static int predict_image(context *cx, const char *path)
{
    result r = {.path = path};
    fer_image img = {0};
    fer_error err = {0};
    if (fer_image_load(path, 0, &img, &err) != FER_OK)
        return image_error(path, err.msg), 0;
    int ok = find_faces(cx, &img, &r) && (r.n == 0 || classify_faces(cx, &img, &r)) &&
             (r.n == 0 || fuse_largest(cx, &r));
    fer_image_free(&img);
    if (ok)
        ok = cx->opt.json ? print_json(cx, &r) : (print_text(cx, &r), 1);
    if (ok && cx->opt.annotate)
        ok = annotate(cx, &r);
    if (ok && r.n == 0) {
        image_error(path, cx->opt.no_detect ? "no face"
                                            : "no face found (try a smaller --min-size, or "
                                              "--no-detect for a cropped face)");
        ok = 0;
    }
    result_free(&r);
    return ok;
}

int main(int argc, char **argv)
{
    context cx = {0};
    int rc = parse_args(argc, argv, &cx.opt);
    if (rc == 0 && !cli_threads_env_ok(prog))
        rc = EXIT_USAGE;
    if (rc == 0)
        rc = load_heart(&cx) && load_model(&cx) && load_cascade(&cx) ? 0 : EXIT_USAGE;
    if (rc == 0) {
        for (int i = 0; i < cx.opt.n_images; i++)
            if (!predict_image(&cx, cx.opt.images[i]))
                rc = EXIT_FAILED;
        fflush(stdout);
    }
    fer_cascade_free(cx.cascade);
    fer_model_free(cx.model);
    free(cx.opt.images);
    return rc < 0 ? 0 : rc;
}
