/* fer-predict: emotion of the faces in photos, fused with an optional heart
 * rate into a final state such as "Happy and excited". Text by default, or
 * one JSON object per image and line (--json; schema in docs/tools.md). */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "faces_json.h"
#include "json.h"
#include "opt.h"

static const char *prog = "fer-predict";

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NO_FACE = 3 };

/* --face: the analyzer's best or largest face, every face, or face N (PICK_INDEX + N - 1). */
enum { PICK_BEST, PICK_LARGEST, PICK_ALL, PICK_INDEX };

typedef struct options {
    const char *hr_file, *annotate;
    const char *bpm_text;
    int json, age, age_set, pick;
    double resting_bpm;
    long threads;
    fer_analyzer_opts an; /* detection, margin, score, fusion: handed to the analyzer */
    const char **images;
    int n_images;
} options;

static void usage_text(FILE *out)
{
    fprintf(out,
            "usage: fer-predict [options] IMAGE...   (- reads one image from stdin)\n"
            "Finds the faces in each image (Haar proposals scored by a face verifier CNN),\n"
            "classifies their emotion with the CNN and fuses the best face with an optional\n"
            "heart rate into a state such as \"Happy and excited\" (docs/heart-and-fusion.md).\n"
            CLI_WEIGHTS_HELP
            "  --verifier W         face verifier (default: the shipped %s)\n"
            "  --cascade XML        OpenCV Haar cascade (default %s)\n"
            "  --no-detect          the whole image is the face (e.g. a 48x48 crop)\n"
            "  --min-score S        faces the verifier scores below S (0..1) are dropped (0.9)\n"
            "  --face best|largest|all|N  the face that gives the state: the best score\n"
            "                       (default; size breaks ties), the largest, each face its\n"
            "                       own state, or face N of the listing\n"
            "  --scale-factor F     detector pyramid step, > 1 (default 1.1)\n"
            "  --min-neighbors N    raw detections a proposal needs (default 1)\n"
            "  --min-size PX        smallest proposal, in pixels of the working copy (default 24)\n"
            "  --max-side PX        the working copy's long side: bigger photos are searched\n"
            "                       shrunk to it (64..16384, 0 none; default 1280)\n"
            "  --margin M           crop margin around each face, fraction of its size\n"
            "                       (default 0.1)\n"
            CLI_TTA_HELP

            "  --bpm N              heart rate now, in beats per minute\n"
            "  --hr FILE            heart rate series: CSV 'seconds,bpm' or RR intervals in ms\n"
            "  --age N              years, for the resting range (default adult: 60-100 bpm)\n"
            "  --resting-bpm N      personal resting heart rate (overrides --age)\n"
            "  --face-weight W      weight of the face's arousal in the fusion (default 1)\n"
            "  --heart-weight W     weight of heart-rate arousal (default 2)\n"
            "  --json               one JSON object per image and line\n"
            "  --annotate OUT       draw boxes, scores and labels (one image only): JPEG when\n"
            "                       OUT ends in .jpg or .jpeg, else PNG\n"
            "  --threads N          inference threads (default: all CPUs or $FER_THREADS)\n"
            "Exit status: 0 every image gave a state, 1 an image could not be read or analysed,\n"
            "2 usage error, 3 no failure but some image had no face (no state; the others\n"
            "are still reported).\n",
            CLI_WEIGHTS, CLI_VERIFIER, FER_DEFAULT_CASCADE);
    cli_help_common(out);
}

/* ------------------------------------------------------------ arguments */

enum { O_WEIGHTS, O_VERIFIER, O_CASCADE, O_MINSCORE, O_FACE, O_SCALE, O_NEIGH, O_MINSIZE,
       O_MAXSIDE, O_MARGIN, O_BPM, O_HR, O_AGE, O_RESTING, O_FACEW, O_HEARTW, O_ANNOTATE, O_THREADS,
       O_JSON, O_NO_DETECT, O_TTA };

static const cli_opt option_list[] = {
    {"--weights", CLI_VALUE},      {"--verifier", CLI_VALUE},     {"--cascade", CLI_VALUE},
    {"--min-score", CLI_VALUE},    {"--face", CLI_VALUE},         {"--scale-factor", CLI_VALUE},
    {"--min-neighbors", CLI_VALUE}, {"--min-size", CLI_VALUE},    {"--max-side", CLI_VALUE},
    {"--margin", CLI_VALUE},
    {"--bpm", CLI_VALUE},          {"--hr", CLI_VALUE},           {"--age", CLI_VALUE},
    {"--resting-bpm", CLI_VALUE},  {"--face-weight", CLI_VALUE},  {"--heart-weight", CLI_VALUE},
    {"--annotate", CLI_VALUE},     {"--threads", CLI_VALUE},      {"--json", CLI_FLAG},
    {"--no-detect", CLI_FLAG},     {"--tta", CLI_OPTIONAL},       {NULL, CLI_FLAG}};

/* Stores one option's value (k -1: an image); 0 (with a message) when it is not acceptable. */
static int set_option(void *ctx, int k, const char *v)
{
    options *o = ctx;
    long l;
    const char *name = k >= 0 ? option_list[k].name : NULL;
    switch (k) {
    case -1: o->images[o->n_images++] = v; return 1;
    case O_JSON: o->json = 1; return 1;
    case O_NO_DETECT: o->an.no_detect = 1; return 1;
    case O_TTA: return cli_parse_tta(prog, name, v, &o->an.tta);
    case O_WEIGHTS: o->an.emotion_model = v; return 1;
    case O_VERIFIER: o->an.verifier_model = v; return 1;
    case O_CASCADE: o->an.cascade = v; return 1;
    case O_MINSCORE:
        return cli_parse_double(v, 0, 1, &o->an.min_score) || cli_bad_value(prog, name, v, "a score 0..1");
    case O_FACE:
        if (!strcmp(v, "best") || !strcmp(v, "largest") || !strcmp(v, "all"))
            return o->pick = !strcmp(v, "best") ? PICK_BEST : !strcmp(v, "largest") ? PICK_LARGEST
                                                                                  : PICK_ALL, 1;
        if (cli_parse_long(v, 1, 100000, &l))
            return o->pick = PICK_INDEX + (int)l - 1, 1;
        return cli_bad_value(prog, name, v, "best, largest, all or a face number");
    case O_HR: o->hr_file = v; return 1;
    case O_ANNOTATE: o->annotate = v; return 1;
    case O_BPM: o->bpm_text = v; return 1; /* judged by the heart module */
    case O_SCALE:
        return cli_parse_double(v, 1.001, 4, &o->an.detect.scale_factor) ||
               cli_bad_value(prog, name, v, "a number in 1.001..4");
    case O_NEIGH:
        if (cli_parse_long(v, 0, 1000, &l))
            return o->an.detect.min_neighbors = (int)l, 1;
        return cli_bad_value(prog, name, v, "an integer 0..1000");
    case O_MINSIZE:
        if (cli_parse_long(v, 1, 100000, &l))
            return o->an.detect.min_size = (int)l, 1;
        return cli_bad_value(prog, name, v, "an integer 1..100000");
    case O_MAXSIDE:
        if (cli_parse_long(v, 0, 16384, &l) && (l == 0 || l >= 64))
            return o->an.max_side = (int)l, 1;
        return cli_bad_value(prog, name, v, "0 or an integer 64..16384");
    case O_MARGIN:
        return cli_parse_double(v, 0, 1, &o->an.margin) || cli_bad_value(prog, name, v, "a fraction 0..1");
    case O_AGE:
        if (cli_parse_long(v, 1, 120, &l))
            return o->age = (int)l, o->age_set = 1;
        return cli_bad_value(prog, name, v, "whole years 1..120");
    case O_RESTING:
        return cli_parse_double(v, 30, 200, &o->resting_bpm) ||
               cli_bad_value(prog, name, v, "a resting rate 30..200 bpm");
    case O_FACEW:
    case O_HEARTW:
        return cli_parse_double(v, 0, 1e6, k == O_FACEW ? &o->an.fusion.face_weight
                                                        : &o->an.fusion.heart_weight) ||
               cli_bad_value(prog, name, v, "a weight >= 0");
    case O_THREADS:
        return cli_parse_long(v, 1, 1024, &o->threads) || cli_bad_value(prog, name, v, "an integer 1..1024");
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
    if (o->an.fusion.face_weight + o->an.fusion.heart_weight <= 0)
        return cli_error(prog, "--face-weight and --heart-weight cannot both be 0"), 0;
    int stdin_images = 0;
    for (int i = 0; i < o->n_images; i++)
        stdin_images += !strcmp(o->images[i], "-");
    if (stdin_images > 1 || (stdin_images && o->hr_file && !strcmp(o->hr_file, "-")))
        return cli_error(prog, "standard input ('-') can be read only once"), 0;
    return 1;
}

/* CLI_GO, CLI_DONE (--help, --version) or an exit status. */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){0};
    fer_analyzer_opts_default(&o->an);
    o->images = calloc((size_t)argc, sizeof *o->images);
    if (!o->images)
        return cli_error(prog, "out of memory"), EXIT_FAILED;
    cli_spec spec = {prog, usage_text, option_list, argc};
    int rc = cli_parse(&spec, argc, argv, set_option, o);
    if (rc != CLI_GO)
        return rc;
    if (!check_combinations(o))
        return EXIT_USAGE;
    return !o->annotate || cli_output_ok(prog, o->annotate, o->images, o->n_images) ? CLI_GO
                                                                                     : EXIT_FAILED;
}

/* ------------------------------------------------------------ resources */

typedef struct context {
    options opt;
    fer_analyzer *an;
    const fer_model *model; /* the analyzer's emotion model */
    char model_path[4096];  /* its file, for the JSON's "model" */
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

static int load_analyzer(context *cx)
{
    const options *o = &cx->opt;
    char wbuf[4096], vbuf[4096];
    fer_analyzer_opts ao = o->an;
    ao.emotion_model = cli_weights_file(prog, ao.emotion_model, wbuf, sizeof wbuf);
    ao.verifier_model = ao.no_detect ? NULL
                        : cli_data_file(prog, ao.verifier_model, CLI_VERIFIER, "verifier", vbuf, sizeof vbuf);
    if (!ao.emotion_model || (!ao.no_detect && !ao.verifier_model))
        return 0;
    ao.pick = o->pick == PICK_LARGEST ? FER_FACE_LARGEST : FER_FACE_BEST;
    ao.threads = (int)o->threads;
    fer_error err = {0};
    if (fer_analyzer_new(&ao, &cx->an, &err) != FER_OK)
        return cli_error(prog, "%s%s", err.msg,
                         !o->an.cascade && strstr(err.msg, FER_DEFAULT_CASCADE)
                             ? " (install opencv-data, or pass --cascade XML)" : ""), 0;
    cx->model = fer_analyzer_emotion_model(cx->an);
    snprintf(cx->model_path, sizeof cx->model_path, "%s", ao.emotion_model);
    return 1;
}

/* ------------------------------------------------------------ one image */

typedef struct result {
    const char *path;
    fer_faces f;
    int state_face;  /* the face of the state shown, -1: none */
    fer_state state; /* fer_faces' own, or that of --face N */
} result;

/* Prints "prog: path: msg" unless msg already names the path ("-": standard
 * input, whose decoder messages name "<memory>"). */
static void image_error(const char *path, const char *msg)
{
    static const char mem[] = "<memory>: ";
    if (!strcmp(path, "-"))
        cli_error(prog, "standard input: %s", strncmp(msg, mem, sizeof mem - 1) ? msg : msg + sizeof mem - 1);
    else if (strstr(msg, path))
        cli_error(prog, "%s", msg);
    else
        cli_error(prog, "%s: %s", path, msg);
}

static int fuse(const context *cx, const float *probs, fer_state *st, const char *path)
{
    fer_error err = {0};
    if (fer_fuse(probs, cx->has_heart ? &cx->heart : NULL, &cx->opt.an.fusion, st, &err) != FER_OK)
        return image_error(path, err.msg), 0;
    return 1;
}

/* The face of the state: the analyzer's choice, or --face N when the photo has one. */
static int choose_face(const context *cx, result *r)
{
    r->state_face = r->f.state_face;
    r->state = r->f.state;
    if (cx->opt.pick < PICK_INDEX)
        return 1;
    r->state_face = (size_t)(cx->opt.pick - PICK_INDEX) < r->f.n ? cx->opt.pick - PICK_INDEX : -1;
    return r->state_face < 0 || fuse(cx, r->f.face[r->state_face].probs, &r->state, r->path);
}

/* ------------------------------------------------------------ output */

static const char *intensity_text(fer_intensity i)
{
    return i == FER_MILDLY ? "mildly" : i == FER_VERY ? "very" : "plain";
}

/* cli_json_analysis, and with --face all each face's own state. */
static int print_json(const context *cx, const result *r)
{
    cJSON *o = cli_json_analysis(cx->model, cx->model_path, r->path, &r->f,
                                 cx->has_heart ? &cx->heart : NULL, r->state_face, &r->state);
    cJSON *face = cJSON_GetObjectItemCaseSensitive(o, "faces")->child;
    for (size_t i = 0; cx->opt.pick == PICK_ALL && i < r->f.n; i++, face = face->next) {
        fer_state st;
        if (!fuse(cx, r->f.face[i].probs, &st, r->path)) {
            cJSON_Delete(o);
            return 0;
        }
        cJSON_AddItemToObject(face, "state", cli_json_state(&st, -1));
    }
    return cli_json_print(prog, o);
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

static void print_state_text(const char *indent, const fer_state *st)
{
    printf("%sstate: %s (emotion %s, intensity %s, arousal %s; valence %+.2f, arousal %.2f)\n",
           indent, st->label, st->emotion_name, intensity_text(st->intensity),
           st->arousal_phrase, st->valence, st->arousal);
}

static int print_text(const context *cx, const result *r)
{
    printf("%s: %zu face%s\n", r->path, r->f.n, r->f.n == 1 ? "" : "s");
    for (size_t i = 0; i < r->f.n; i++) {
        const fer_face *fc = &r->f.face[i];
        const fer_box *b = &fc->box;
        printf("  face %zu at %d,%d %dx%d", i + 1, b->x, b->y, b->w, b->h);
        if (fc->angle != 0)
            printf(" turned %+.0f deg", fc->angle);
        printf(", score %.2f: %s %.0f%% (", fc->score, fer_emotion_names[fc->emotion],
               100.0 * fc->probs[fc->emotion]);
        for (int j = 0; j < fer_model_n_classes(cx->model); j++) {
            int e = fer_emotion_index(fer_model_class_name(cx->model, j));
            printf("%s%s %.2f", j ? ", " : "", fer_emotion_names[e], fc->probs[e]);
        }
        printf(")%s\n", (int)i == r->state_face ? " <- state" : "");
        fer_state st;
        if (cx->opt.pick == PICK_ALL) {
            if (!fuse(cx, fc->probs, &st, r->path))
                return 0;
            print_state_text("    ", &st);
        }
    }
    if (cx->has_heart)
        print_heart_text(&cx->heart);
    if (r->state_face >= 0)
        print_state_text("  ", &r->state);
    return 1;
}

/* Boxes labelled with their emotion, the state's face (drawn first, so its
 * label is placed first) with the fused state; written to --annotate. */
static int annotate(const context *cx, const result *r, fer_rgb_image *rgb)
{
    size_t n = r->f.n;
    char (*text)[128] = calloc(n ? n : 1, sizeof *text);
    const char **labels = calloc(n ? n : 1, sizeof *labels);
    fer_box *boxes = calloc(n ? n : 1, sizeof *boxes);
    fer_error err = {0};
    fer_status st = text && labels && boxes ? FER_OK : FER_ENOMEM;
    size_t sf = r->state_face < 0 ? 0 : (size_t)r->state_face;
    for (size_t i = 0; !st && i < n; i++) {
        /* the state's face first, then the others in score order */
        size_t j = i == 0 ? sf : i <= sf ? i - 1 : i;
        const fer_face *fc = &r->f.face[j];
        if ((int)j == r->state_face)
            snprintf(text[i], sizeof text[i], "%s", r->state.label);
        else
            snprintf(text[i], sizeof text[i], "%s %.0f%%", fer_emotion_names[fc->emotion],
                     100.0 * fc->probs[fc->emotion]);
        labels[i] = text[i];
        boxes[i] = fc->box;
    }
    if (!st)
        st = fer_image_annotate(rgb, boxes, labels, n, &err);
    else
        snprintf(err.msg, sizeof err.msg, "out of memory");
    if (!st)
        st = fer_rgb_image_save(rgb, cx->opt.annotate, &err);
    free(text);
    free(labels);
    free(boxes);
    if (st)
        image_error(cx->opt.annotate, err.msg);
    return !st;
}

/* An image the size of the largest file fer_image_load reads. */
enum { MAX_STDIN_IMAGE = 256 << 20 };

/* The grey image to analyse, and with --annotate the colour one to draw on
 * (decoded once); "-" is read from stdin. */
static int load_image(const context *cx, const char *path, fer_image *img, fer_rgb_image *rgb)
{
    fer_error err = {0};
    fer_status s;
    int colour = cx->opt.annotate != NULL;
    if (!strcmp(path, "-")) {
        char *data;
        size_t len;
        if (!cli_read_stdin(prog, MAX_STDIN_IMAGE, &data, &len))
            return 0;
        s = colour ? fer_image_load_rgb_mem(data, len, 0, rgb, &err)
                   : fer_image_load_mem(data, len, 0, img, &err);
        free(data);
    } else {
        s = colour ? fer_image_load_rgb(path, 0, rgb, &err) : fer_image_load(path, 0, img, &err);
    }
    if (!s && colour)
        s = fer_image_from_pixels(rgb->px, rgb->w, rgb->h, 3, 0, FER_PIXEL_RGB, img, &err);
    if (s)
        image_error(path, err.msg);
    return !s;
}

/* EXIT_OK, EXIT_FAILED (unreadable image, write error, ...) or EXIT_NO_FACE. */
static int predict_image(context *cx, const char *path)
{
    result r = {.path = path, .state_face = -1};
    fer_image img = {0};
    fer_rgb_image rgb = {0};
    fer_error err = {0};
    if (!load_image(cx, path, &img, &rgb)) {
        fer_rgb_image_free(&rgb);
        return EXIT_FAILED;
    }
    int ok = fer_analyze(cx->an, &img, cx->has_heart ? &cx->heart : NULL, &r.f, &err) == FER_OK;
    fer_image_free(&img);
    if (!ok)
        image_error(path, err.msg);
    ok = ok && choose_face(cx, &r);
    if (ok)
        ok = cx->opt.json ? print_json(cx, &r) : print_text(cx, &r);
    if (ok && cx->opt.annotate)
        ok = annotate(cx, &r, &rgb);
    fer_rgb_image_free(&rgb);
    int rc = ok ? EXIT_OK : EXIT_FAILED;
    if (ok && r.state_face < 0) {
        if (r.f.n == 0)
            image_error(path, cx->opt.an.no_detect ? "no face"
                                                : "no face found (see --min-score, --min-size; "
                                                  "--no-detect for a cropped face)");
        else
            cli_error(prog, "%s: --face %d: the photo has %zu face%s", path,
                      cx->opt.pick - PICK_INDEX + 1, r.f.n, r.f.n == 1 ? "" : "s");
        rc = EXIT_NO_FACE;
    }
    fer_faces_free(&r.f);
    return rc;
}

int main(int argc, char **argv)
{
    context cx = {0};
    cli_start();
    int rc = parse_args(argc, argv, &cx.opt);
    if (rc == CLI_GO && !cli_threads(prog, &cx.opt.threads))
        rc = EXIT_USAGE;
    if (rc == CLI_GO)
        rc = load_heart(&cx) && load_analyzer(&cx) ? EXIT_OK : EXIT_USAGE;
    for (int i = 0, go = rc == EXIT_OK; go && i < cx.opt.n_images; i++) {
        int r = predict_image(&cx, cx.opt.images[i]);
        if (r == EXIT_FAILED || (r == EXIT_NO_FACE && rc == EXIT_OK))
            rc = r;
    }
    fer_analyzer_free(cx.an);
    free(cx.opt.images);
    if (rc == CLI_DONE)
        rc = EXIT_OK;
    return cli_stdout_ok(prog) ? rc : EXIT_FAILED;
}
